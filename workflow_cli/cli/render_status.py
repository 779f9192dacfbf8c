"""The human view of ``status``: header, progress bar, tasks by section, checkpoints and the way out.

Large instances stay compact: the counts are always complete, but at most :data:`ROW_LIMIT` task rows
are listed, running, waiting and failed tasks first, then the latest completions, the next pending
tasks and the skipped ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from workflow_cli.cli.output import styled
from workflow_cli.monitor.summary import describe_waiting, waiting_fix

ROW_LIMIT = 50
CHECKPOINTS_SHOWN = 5
# section -> task states, in display order; current and failed rows get the row budget first
SECTIONS: dict[str, tuple[str, ...]] = {
    "current": ("running", "waiting"),
    "failed": ("failed", "cancelled"),
    "completed": ("completed",),
    "pending": ("pending",),
    "skipped": ("skipped",),
}
FIRST = ("current", "failed")
COUNT_ORDER = ("completed", "running", "waiting", "pending", "failed", "skipped", "cancelled")


def _bar(percent: float, width: int = 30) -> str:
    filled = int(round(width * percent / 100))
    return "█" * filled + "░" * (width - filled)


def _fmt_seconds(value: float | None) -> str:
    if value is None:
        return ""
    if value < 60:
        return f"{value:.1f}s"
    minutes, seconds = divmod(int(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _clock(iso: str | None, day: str | None) -> str:
    """``HH:MM:SS`` (UTC) for a time on the instance's day, else ``MM-DD HH:MM:SS``."""
    if not iso:
        return ""
    date, _, rest = iso.partition("T")
    hms = rest[:8]
    return hms if date == day else f"{date[5:]} {hms}"


def next_step(doc: Mapping[str, Any]) -> str | None:
    """The command that moves the instance on, for people reading ``status``."""
    iid, shown = doc["id"], doc["display_status"]
    if shown == "waiting":
        for tid, task in doc["tasks"].items():
            if task["status"] == "waiting":
                return waiting_fix(iid, tid, task.get("waiting"))
        return f"workflow-cli resume {iid}"
    return {
        "created": f"workflow-cli start {iid}",
        "queued": "workflow-cli queue  (it starts when a slot is free; 'workflow-cli start' starts it now)",
        "running (no runner)": f"workflow-cli resume {iid}",
        "paused": f"workflow-cli resume {iid}",
        "failed": f"workflow-cli debug {iid}  (then: workflow-cli retry {iid})",
    }.get(shown)


def allocate(sizes: Mapping[str, int], limit: int = ROW_LIMIT) -> dict[str, int]:
    """How many rows each section shows: current and failed first, the rest shared fairly."""
    alloc = {name: 0 for name in sizes}
    left = limit
    for name in FIRST:
        alloc[name] = min(sizes.get(name, 0), left)
        left -= alloc[name]
    rest = [name for name in sizes if name not in FIRST]
    while left > 0:
        open_ = [name for name in rest if alloc[name] < sizes[name]]
        if not open_:
            break
        share = max(left // len(open_), 1)
        for name in open_:
            take = min(share, sizes[name] - alloc[name], left)
            alloc[name] += take
            left -= take
    return alloc


def _sections(doc: Mapping[str, Any]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    by_state = {state: name for name, states in SECTIONS.items() for state in states}
    out: dict[str, list[tuple[str, dict[str, Any]]]] = {name: [] for name in SECTIONS}
    for tid, task in doc["tasks"].items():
        out[by_state.get(task["status"], "pending")].append((tid, task))
    # the latest completions are the interesting ones
    out["completed"].sort(key=lambda item: item[1].get("finished_at") or "")
    return out


def _items_note(task: Mapping[str, Any]) -> str:
    """``items 3/10 done, 1 failed`` for a foreach task."""
    items = task.get("items")
    if not items:
        return ""
    counts: dict[str, int] = {}
    for item in items:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    extra = "".join(f", {counts[s]} {s}" for s in ("running", "failed", "skipped", "cancelled") if counts.get(s))
    return f"items {counts.get('completed', 0)}/{len(items)} done{extra}"


def _row(section: str, tid: str, task: Mapping[str, Any], day: str | None, now: float) -> list[str]:
    status = styled(task["status"]) + (" (cached)" if task.get("cached") else "")
    attempts = str(task["attempts"] or "")
    if task.get("items") and section in ("current", "failed", "completed"):
        attempts = f"{attempts} ({_items_note(task)})"
    if section == "pending" and task.get("waiting_for_pool"):
        return [tid, status, attempts, f"waiting for a slot of pool '{task['waiting_for_pool']}'"]
    if section == "current":
        started = _epoch(task.get("started_at"))
        elapsed = _fmt_seconds(now - started) if started is not None else ""
        note = describe_waiting(task.get("waiting")) if task["status"] == "waiting" else ""
        return [tid, status, attempts, _clock(task.get("started_at"), day), elapsed, note]
    if section == "failed":
        exit_code = "" if task.get("exit_code") is None else f"exit {task['exit_code']}"
        kind = task.get("error_kind") if task.get("error_kind") not in (None, "error", task["status"]) else ""
        note = " ".join(x for x in (kind, exit_code) if x)
        return [tid, status, attempts, _clock(task.get("finished_at"), day), _fmt_seconds(task.get("duration_seconds")),
                f"{note}: {task.get('error') or ''}" if note else task.get("error") or ""]
    if section == "pending":
        due = task.get("next_attempt_at")
        return [tid, status, attempts, f"retry at {_clock(due, day)} after: {task.get('error')}" if due else ""]
    if section == "skipped":
        return [tid, status, _clock(task.get("finished_at"), day), task.get("error") or ""]
    return [tid, status, attempts, _clock(task.get("started_at"), day), _fmt_seconds(task.get("duration_seconds"))]


HEADERS = {
    "current": ("task", "status", "attempt", "started", "elapsed", "waiting for"),
    "failed": ("task", "status", "attempts", "finished", "duration", "error"),
    "completed": ("task", "status", "attempts", "started", "duration"),
    "pending": ("task", "status", "attempts", "note"),
    "skipped": ("task", "status", "finished", "reason"),
}


def _print_section(console: Any, name: str, rows: list[tuple[str, dict[str, Any]]], shown: int, day: str | None, now: float) -> None:
    from rich.table import Table

    if not rows:
        return
    picked = rows[-shown:] if name == "completed" else rows[:shown]
    title = "/".join(dict.fromkeys(s for s in SECTIONS[name] if any(t["status"] == s for _, t in rows))) or name
    console.print(f"[bold]{title}[/bold] ({len(rows)})")
    if picked:
        table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0))
        for col in HEADERS[name]:
            table.add_column(col, overflow="fold")
        for tid, task in picked:
            table.add_row(*_row(name, tid, task, day, now))
        console.print(table)
    hidden = len(rows) - len(picked)
    if hidden:
        which = "earlier" if name == "completed" else "more"
        console.print(f"  … {hidden} {which} {name} task(s) not listed (--json lists every task)", markup=False)


def _counts_line(counts: Mapping[str, int]) -> str:
    total = sum(counts.values())
    parts = [f"{counts[s]} {s}" for s in COUNT_ORDER if counts.get(s)]
    return f"{total} task(s): " + ", ".join(parts) if parts else "no tasks"


def _trigger_line(trigger: Mapping[str, Any]) -> str:
    """What started a triggered run, in one line (SPEC 18.3)."""
    what = f"{trigger.get('type')} '{trigger.get('name')}'"
    if trigger.get("path"):
        what += f" file {trigger['path']}"
    if trigger.get("delivery"):
        what += f" delivery {trigger['delivery']}"
    return f"{what} at {trigger.get('time')}"


def _print_links(console: Any, doc: Mapping[str, Any]) -> None:
    """Where command tasks run, and the parent and child instances (SPEC 6.2, 6.4)."""
    if doc.get("base_dir"):
        console.print(f"workdir:  {doc['base_dir']}", markup=False)
    parent = doc.get("parent")
    if parent:
        console.print(f"parent:   {parent.get('id')} (task {parent.get('task')})", markup=False)
    if doc.get("children"):
        console.print(f"children: {', '.join(doc['children'])}", markup=False)


def render_status(console: Any, doc: dict[str, Any], *, now: float | None = None) -> None:
    """Print the status view of one instance."""
    if now is None:
        from workflow_cli.clock import SystemClock

        now = SystemClock().time()  # the engine's clock: task times are stamped with it
    iid, shown = doc["id"], doc["display_status"]
    day = (doc.get("started_at") or doc.get("created_at") or "").partition("T")[0] or None
    console.print(f"[bold]{doc['name']}[/bold]  {iid}  (template {doc['template']})")
    line = f"status:   {styled(shown)}"
    if shown == "running (no runner)":
        line += f"  the runner died; continue with: workflow-cli resume {iid}"
    console.print(line)
    counts = doc.get("counts") or {}
    console.print(f"progress: {_bar(doc['progress'])} {doc['progress']:.0f}%  {_counts_line(counts)}")
    console.print(f"created:  {doc['created_at'] or ''}   started: {doc['started_at'] or '-'}   finished: {doc['finished_at'] or '-'}")
    if doc.get("eta_seconds") and doc["status"] not in ("completed", "failed", "cancelled"):
        console.print(f"eta:      about {_fmt_seconds(doc['eta_seconds'])} left (critical path, past runs)")
    if doc.get("error"):
        console.print(f"error:    {doc['error']}", markup=False)
    if doc.get("trigger"):
        console.print(f"trigger:  {_trigger_line(doc['trigger'])}", markup=False)
    if doc.get("queue"):
        q = doc["queue"]
        console.print(f"queue:    priority {q.get('priority', 0)}, queued at {q.get('queued_at')} (see workflow-cli queue)", markup=False)
    _print_links(console, doc)
    sections = _sections(doc)
    alloc = allocate({name: len(rows) for name, rows in sections.items()})
    for name, rows in sections.items():
        _print_section(console, name, rows, alloc[name], day, now)
    checkpoints = doc.get("checkpoints") or []
    if checkpoints:
        listed = ", ".join(checkpoints[-CHECKPOINTS_SHOWN:])
        more = f" (latest {CHECKPOINTS_SHOWN} of {len(checkpoints)})" if len(checkpoints) > CHECKPOINTS_SHOWN else ""
        console.print(f"checkpoints: {listed}{more}", markup=False)
    step = next_step(doc)
    if step:
        console.print(f"next: {step}", markup=False)

