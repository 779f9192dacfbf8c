"""Health scores of instances and templates, and the alerts they raise (SPEC 9).

An instance starts at 100 and loses points (the result is clamped to 0..100)::

    failure    55 if the instance failed, plus 10 per failed task (at most 30)
    duration   35 x min(1, elapsed / expected - 1): nothing up to the expected duration, all 35 at twice it;
               expected = the document's ``expected_duration_seconds``, else the median duration of the
               template's earlier completed runs (at least 1 s); a running instance uses its elapsed time
    retries    5 per attempt beyond the first of each task (at most 20)
    stuck      60 for a ``running`` instance whose runner is gone (no live lock);
               40 when a task waits past its deadline (``waiting.timeout_at`` or a timer's ``until``)
               by more than WAIT_GRACE_SECONDS, which is how late a once-a-minute ``tick`` may be

A template's score is the mean of its recent instances' scores weighted by recency (the newest
weighs 1, each older one RECENCY_DECAY times the next newer one), capped by the score of each of its
*current* instances: those not finished, and failed ones newer than the template's latest completed
run. One bad run last month lowers the mean a little; a failure nobody has fixed yet, or a stuck
run, sets the template's level on its own. The home's score is its worst template's (100 when it
has none), and its status that score's level: critical below 50, warning from 50 to under 70,
healthy from 70. Alerts are the problems of current instances, each with the command that fixes it,
and (a warning that does not change any score) each task of a template's newest finished run whose
CPU time or peak memory is more than twice the median of the template's earlier runs (``usage.py``).
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflow_cli.clock import parse_iso, utc_iso
from workflow_cli.errors import WorkflowError
from workflow_cli.store.atomic import write_json_atomic
from workflow_cli.store import index
from workflow_cli.store.home import Home, make_private_dir
from workflow_cli.store.indexed import open_index, verified
from workflow_cli.store.instances import InstancePaths, instance_dirs, load_state, read_document
from workflow_cli.store.locks import is_locked


def median(values: list[float]) -> float:
    """The median of non-empty ``values`` (as ``statistics.median``, whose import costs 10 ms of every ``health``)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


REPORT_FORMAT = 1
RECENT_PER_TEMPLATE = 50
RECENCY_DECAY = 0.9
WAIT_GRACE_SECONDS = 60.0
MIN_EXPECTED_SECONDS = 1.0
KEEP_REPORTS = 100
CRITICAL_BELOW = 50.0
HEALTHY_FROM = 70.0
TERMINAL = ("completed", "failed", "cancelled")
_LEVEL_RANK = {"healthy": 0, "warning": 1, "critical": 2}


def level_of(score: float) -> str:
    """``critical`` below 50, ``warning`` below 70, else ``healthy``."""
    return "critical" if score < CRITICAL_BELOW else "warning" if score < HEALTHY_FROM else "healthy"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an instance, with the command that fixes it."""

    kind: str
    message: str
    fix: str


@dataclass
class Record:
    """What scoring needs to know about one instance besides its state."""

    state: Mapping[str, Any]
    runner_alive: bool = False
    expected_seconds: float | None = None
    error: str | None = None
    problems: list[Problem] = field(default_factory=list)
    score: float = 100.0


def run_seconds(state: Mapping[str, Any], now: float) -> float | None:
    """How long the instance ran (so far, while it is not finished)."""
    end = state.get("finished_at") if state.get("status") in TERMINAL else None
    try:
        return max(0.0, (parse_iso(end) if end else now) - parse_iso(state["started_at"])) if state.get("started_at") else None
    except ValueError:
        return None


def _stale_wait(task: Mapping[str, Any], now: float) -> float | None:
    """The deadline a waiting task has overrun by more than the grace, or None."""
    waiting = task.get("waiting") or {}
    deadline = waiting.get("timeout_at") if waiting.get("kind") != "timer" else waiting.get("until")
    if task.get("status") != "waiting" or not isinstance(deadline, (int, float)):
        return None
    return float(deadline) if now > float(deadline) + WAIT_GRACE_SECONDS else None


def _wait_fix(instance_id: str, task_id: str, waiting: Mapping[str, Any]) -> str:
    fixes = {"approval": f"workflow-cli approve {instance_id} {task_id}",
             "signal": f"workflow-cli signal {instance_id} {waiting.get('name') or 'NAME'}"}
    return fixes.get(str(waiting.get("kind")), "workflow-cli tick")


Part = tuple[float, list[Problem]]


def _failures(state: Mapping[str, Any], tasks: Mapping[str, Any]) -> Part:
    iid = state["id"]
    failed = [tid for tid, t in tasks.items() if t.get("status") == "failed"]
    problems = [Problem("failed", f"the run failed: {state.get('error') or 'see its failed tasks'}", f"workflow-cli debug {iid}")
                ] if state.get("status") == "failed" else []
    problems += [Problem("task_failed", f"task '{tid}' failed: {tasks[tid].get('error') or 'no error recorded'}",
                         f"workflow-cli debug {iid}") for tid in failed]
    return (55.0 if state.get("status") == "failed" else 0.0) + min(30, 10 * len(failed)), problems


def _retries(state: Mapping[str, Any], tasks: Mapping[str, Any]) -> Part:
    retries = sum(max(0, int(t.get("attempts") or 0) - 1) for t in tasks.values())
    problems = [Problem("retries", f"{retries} attempt(s) beyond the first", f"workflow-cli audit {state['id']}")] if retries else []
    return float(min(20, 5 * retries)), problems


def _duration(state: Mapping[str, Any], now: float, expected_seconds: float | None) -> Part:
    elapsed = run_seconds(state, now)
    if expected_seconds is None or elapsed is None:
        return 0.0, []
    expected = max(expected_seconds, MIN_EXPECTED_SECONDS)
    over = min(1.0, max(0.0, elapsed / expected - 1))
    if over == 0:
        return 0.0, []
    verb = "took" if state.get("status") in TERMINAL else "running for"
    return 35 * over, [Problem("slow", f"{verb} {elapsed:.1f} s, expected {expected:.1f} s", f"workflow-cli status {state['id']}")]


QUEUED_TOO_LONG_SECONDS = 600.0  # a queued run waiting this long is a warning (SPEC 18.4)


def _stuck(state: Mapping[str, Any], tasks: Mapping[str, Any], now: float, runner_alive: bool) -> Part:
    iid, problems = state["id"], []
    if state.get("status") == "running" and not runner_alive:
        problems.append(Problem("dead_runner", "running, but no live runner holds it (the runner died)", f"workflow-cli resume {iid}"))
    for tid, t in tasks.items():
        deadline = _stale_wait(t, now)
        if deadline is not None:
            waiting = t.get("waiting") or {}
            problems.append(Problem("stale_wait", f"task '{tid}' still waits ({waiting.get('kind')}) past its deadline {utc_iso(deadline)}",
                                    _wait_fix(iid, tid, waiting)))
    queued_at = (state.get("queue") or {}).get("queued_at") if state.get("status") == "queued" else None
    if queued_at and now - _epoch(queued_at) > QUEUED_TOO_LONG_SECONDS:
        waited = now - _epoch(queued_at)
        problems.append(Problem("queued_long", f"queued for {waited:.0f} s: no slot freed, or nothing starts queued runs",
                                "workflow-cli queue (is 'workflow-cli serve' or a cron 'tick' running?)"))
    kinds = {p.kind for p in problems}
    return 60.0 * ("dead_runner" in kinds) + 40.0 * ("stale_wait" in kinds) + 35.0 * ("queued_long" in kinds), problems


def _epoch(iso: str) -> float:
    from workflow_cli.clock import parse_iso

    return parse_iso(iso)


def score_instance(state: Mapping[str, Any], *, now: float, runner_alive: bool = False,
                   expected_seconds: float | None = None) -> tuple[float, list[Problem]]:
    """The score of one instance (module docstring) and what is wrong with it."""
    tasks = state.get("tasks") or {}
    parts = [_failures(state, tasks), _retries(state, tasks), _duration(state, now, expected_seconds),
             _stuck(state, tasks, now, runner_alive)]
    penalty = sum(p for p, _ in parts)
    return round(max(0.0, min(100.0, 100.0 - penalty)), 1), [problem for _, found in parts for problem in found]


def _weighted_mean(scores: list[float]) -> float:
    """Recency-weighted mean of scores given newest first."""
    weights = [RECENCY_DECAY**k for k in range(len(scores))]
    return sum(w * s for w, s in zip(weights, scores)) / sum(weights)


def _template_of(state: Mapping[str, Any]) -> str:
    return str(state.get("template") or state.get("name") or "(unknown)")


def _current(records: list[Record]) -> list[Record]:
    """Records (newest first, one template) that describe something true now (module docstring)."""
    statuses = [r.state.get("status") for r in records]
    cut = statuses.index("completed") if "completed" in statuses else len(records)
    return [r for i, r in enumerate(records)
            if statuses[i] not in TERMINAL or (statuses[i] == "failed" and i < cut)]


def _workflow_entry(template: str, records: list[Record]) -> tuple[dict[str, Any], list[Record]]:
    finished = [r for r in records if r.state.get("status") in ("completed", "failed")]
    completed = [r for r in finished if r.state.get("status") == "completed"]
    durations = [d for r in completed if (d := run_seconds(r.state, 0.0)) is not None]
    current = _current(records)
    score = min([_weighted_mean([r.score for r in records]), *(r.score for r in current)])
    return {"template": template, "score": round(score, 1), "status": level_of(score), "instances": len(records),
            "success_rate": round(len(completed) / len(finished), 3) if finished else None,
            "median_duration_seconds": round(median(durations), 3) if durations else None}, current


def _alerts(current: Iterable[Record]) -> list[dict[str, Any]]:
    alerts = []
    for rec in current:
        level = level_of(rec.score)
        for p in rec.problems:
            if p.kind == "retries" or (p.kind == "task_failed" and rec.state.get("status") == "failed"):
                continue  # retries are history; a failed instance's own alert covers its tasks
            alerts.append({"level": "warning" if level == "healthy" else level, "kind": p.kind,
                           "instance": rec.state["id"], "template": rec.state.get("template"),
                           "message": p.message, "fix": p.fix})
    alerts.sort(key=lambda a: a["instance"], reverse=True)  # newest first within a level
    return sorted(alerts, key=lambda a: -_LEVEL_RANK[a["level"]])


def summarize(records: list[Record], *, now: float) -> dict[str, Any]:
    """The health report of instances given newest first (pure: every input is in the records)."""
    by_template: dict[str, list[Record]] = {}
    for rec in records:
        if rec.error is None:
            rec.score, rec.problems = score_instance(rec.state, now=now, runner_alive=rec.runner_alive,
                                                     expected_seconds=rec.expected_seconds)
        by_template.setdefault(_template_of(rec.state), []).append(rec)
    from workflow_cli.monitor.usage import usage_alerts

    workflows, current, resource = [], [], []
    for template in sorted(by_template):
        entry, cur = _workflow_entry(template, by_template[template])
        workflows.append(entry)
        current.extend(cur)
        resource += usage_alerts([r.state for r in by_template[template] if r.error is None])
    score = min([w["score"] for w in workflows], default=100.0)
    instances = [{"id": r.state["id"], "template": r.state.get("template"), "name": r.state.get("name"),
                  "status": r.state.get("status"), "score": r.score, "level": level_of(r.score),
                  "problems": [p.message for p in r.problems]} for r in records]
    return {"format": REPORT_FORMAT, "status": level_of(score), "score": score, "checked_at": utc_iso(now),
            "workflows": workflows, "instances": instances, "alerts": _alerts(current) + resource}


def _load(paths: InstancePaths) -> Record:
    """A record for one instance; a corrupt one becomes a critical record carrying the error."""
    try:
        state = load_state(paths, verify=False)
    except (WorkflowError, OSError, ValueError) as exc:
        return _record(paths, None, exc)
    return _record(paths, state, None)


def _record(paths: InstancePaths, state: dict[str, Any] | None, error: Exception | None) -> Record:
    if state is None:
        state = {"id": paths.id, "status": "unknown", "tasks": {}, "template": None}
        problem = Problem("corrupt", f"cannot read the instance: {error}", f"workflow-cli status {paths.id}")
        return Record(state, error=str(error), problems=[problem], score=0.0)
    return Record(state, runner_alive=state.get("status") == "running" and is_locked(paths.lock))


def _declared_expected(paths: InstancePaths) -> float | None:
    try:
        value = read_document(paths).get("expected_duration_seconds")
    except (WorkflowError, OSError, ValueError):
        return None
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def _candidates(home: Home) -> Iterator[tuple[InstancePaths, Record, bool]]:
    """(paths, record, expected known) newest first: with the index, every unfinished instance and the
    newest RECENT_PER_TEMPLATE finished ones of each template (the rows choose, the files are read: a
    damaged one is reported), with the expected durations the rows hold; else every instance."""
    conn = open_index(home, write=False)
    rows = None
    if conn is not None:
        try:
            rows = index.recent_by_group(conn, RECENT_PER_TEMPLATE)
        except sqlite3.Error:
            rows = None
    if rows is None:
        for paths in reversed(instance_dirs(home.instances)):
            yield paths, _load(paths), False
        return
    stored = {r["id"]: r for r in rows if r["status"] not in TERMINAL}
    live = {c.paths.id: c for c in verified(home, conn, stored, stored)}
    for row in rows:
        paths = InstancePaths(home.instances / row["id"])
        if row["id"] in stored:
            checked = live.get(row["id"])
            if checked is not None:
                yield paths, _record(checked.paths, checked.state, checked.error), False
        else:
            rec = _load(paths)
            if row["expected_known"]:
                rec.expected_seconds = row["expected_seconds"]
            yield paths, rec, bool(row["expected_known"])


def collect(home: Home) -> list[Record]:
    """Recent instances, newest first: the last RECENT_PER_TEMPLATE per template plus every unfinished one."""
    chosen: list[tuple[InstancePaths, Record]] = []
    counts: dict[str, int] = {}
    known: set[str] = set()
    for paths, rec, expected_known in _candidates(home):
        if expected_known:
            known.add(paths.id)
        template = _template_of(rec.state)
        if counts.get(template, 0) >= RECENT_PER_TEMPLATE and rec.state.get("status") in TERMINAL:
            continue
        counts[template] = counts.get(template, 0) + 1
        chosen.append((paths, rec))
    earlier: dict[str, list[float]] = {}
    for paths, rec in reversed(chosen):  # oldest first: "expected" is the median of the earlier runs
        template = _template_of(rec.state)
        if paths.id not in known:
            rec.expected_seconds = _declared_expected(paths) if rec.error is None else None
        if rec.expected_seconds is None and earlier.get(template):
            rec.expected_seconds = median(earlier[template])
        if rec.state.get("status") == "completed" and (d := run_seconds(rec.state, 0.0)) is not None:
            earlier.setdefault(template, []).append(d)
    return [rec for _, rec in chosen]


def health_report(home: Home, *, now: float | None = None) -> dict[str, Any]:
    """The health report of a home (SPEC 9) at ``now`` (default: the system clock)."""
    from workflow_cli.clock import SystemClock

    return summarize(collect(home), now=SystemClock().time() if now is None else now)


def write_files(home: Home, report: Mapping[str, Any], *, history: bool = True) -> list[Path]:
    """Write ``health-<stamp>.json`` and ``health-latest.json`` (if ``history``) and ``alerts.json``."""
    folder = make_private_dir(home.monitoring)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(parse_iso(report["checked_at"])))
    written = [folder / f"health-{stamp}.json", folder / "health-latest.json"] if history else []
    for path in written:
        write_json_atomic(path, dict(report))
    old = sorted(p for p in folder.glob("health-*.json") if p.name != "health-latest.json")
    for path in old[:-KEEP_REPORTS]:  # --watch writes one report per round: keep the newest
        path.unlink(missing_ok=True)
    alerts = {"format": REPORT_FORMAT, "checked_at": report["checked_at"], "status": report["status"], "alerts": report["alerts"]}
    write_json_atomic(folder / "alerts.json", alerts)
    return [*written, folder / "alerts.json"]


def watch(check: Callable[[], dict[str, Any]], *, interval: float, max_rounds: int | None = None,
          sleep: Callable[[float], None] = time.sleep) -> dict[str, Any] | None:
    """Call ``check`` every ``interval`` seconds until ``max_rounds`` or Ctrl-C; return the last report."""
    last: dict[str, Any] | None = None
    try:
        for done in itertools.count(1):
            last = check()
            if max_rounds is not None and done >= max_rounds:
                break
            sleep(interval)
    except KeyboardInterrupt:
        pass  # Ctrl-C ends the watch; the caller exits by the last result
    return last
