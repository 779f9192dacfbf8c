"""SIGKILL a runner at many moments, resume each time: every task completes and none completed runs twice (SPEC 7.4, 16)."""

from __future__ import annotations

import random
import shlex
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEED = 20261121
KILLS = 30
FAN_OUT = 20
SOLO = 11  # tasks with execution_mode: sequential (each runs alone)
CHAIN = 15
# The kill schedule aims to spread the kills over the whole run: after kill k about k/KILLS * TARGET of the tasks
# should be complete. When the run is behind, the next delay counts from the moment the runner is live (its first
# event); when it is ahead, from the spawn of the process and half as long, so the kill often lands while the runner
# starts up (a fast machine must not finish the run before the last kill).
TARGET = 0.85


def _task_command(ledger: Path, seed_name: str) -> str:
    delay = random.Random(f"{SEED}:{seed_name}").uniform(0.01, 0.1)
    return f'echo "$WORKFLOW_TASK_ID $WORKFLOW_ATTEMPT" >> {shlex.quote(str(ledger))}; sleep {delay:.3f}'


def fifty_task_document(ledger: Path) -> dict[str, Any]:
    """init -> 20 parallel -> join -> 11 exclusive (sequential mode) -> join -> chain of 15 -> final: 50 tasks."""
    tasks: dict[str, dict[str, Any]] = {}

    def add(tid: str, deps: list[str], **extra: Any) -> str:
        tasks[tid] = {"action": "command", "dependencies": deps,
                      "parameters": {"command": _task_command(ledger, tid)}, **extra}
        return tid

    add("init", [])
    fan = [add(f"fan_{i:02d}", ["init"]) for i in range(FAN_OUT)]
    add("join_fan", fan)
    solo = [add(f"solo_{i:02d}", ["join_fan"], execution_mode="sequential") for i in range(SOLO)]
    previous = add("join_solo", solo)
    for i in range(CHAIN):
        previous = add(f"chain_{i:02d}", [previous])
    add("final", [previous])
    assert len(tasks) == 50
    return {"version": "2.0.0", "name": "kill-resume", "max_parallel": 4, "tasks": tasks}


@dataclass
class KillPoint:
    """What was durable when a runner was killed."""

    number: int
    completed: dict[str, int]  # task -> attempt of its logged completion
    running: list[str]  # tasks this runner started that were still running when it died
    ledger_offset: int
    anchor: str
    delay: float


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _completed(events: list[dict[str, Any]]) -> dict[str, int]:
    return {e["data"]["task"]: e["data"]["attempt"] for e in events if e["type"] == "task.completed"}


def _running(events: list[dict[str, Any]], since_seq: int) -> list[str]:
    """Tasks started after ``since_seq`` and not finished since."""
    status: dict[str, str] = {}
    for e in events:
        if e["type"] == "task.started" and e["seq"] > since_seq:
            status[e["data"]["task"]] = "running"
        elif e["type"].startswith("task."):
            status[e["data"]["task"]] = e["type"]
    return sorted(t for t, s in status.items() if s == "running")


def _ledger(path: Path) -> list[tuple[int, str, int]]:
    """(byte offset of the line, task, attempt) for each complete line."""
    out = []
    offset = 0
    for raw in path.read_bytes().splitlines(keepends=True):
        if raw.endswith(b"\n"):
            task, attempt = raw.decode().split()
            out.append((offset, task, int(attempt)))
        offset += len(raw)
    return out


def test_sigkill_at_30_moments_then_resume_completes_every_task_once(cli: Any, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.txt"
    document = fifty_task_document(ledger)
    instance = cli.create(cli.write_document("fifty.json", document))
    events_path = cli.events_path(instance)
    rng = random.Random(SEED)
    kills: list[KillPoint] = []
    verb = "start"
    started = time.monotonic()
    while len(kills) < KILLS:
        before = _size(events_path)
        logged = cli.events(instance)
        last_seq = logged[-1]["seq"] if logged else 0
        done = len(_completed(logged))
        anchor = "live" if done < TARGET * len(document["tasks"]) * len(kills) / KILLS else "spawn"
        delay = rng.uniform(0.05, 0.4)
        if anchor == "spawn":
            delay *= 0.5  # ahead of schedule: cut the next run short, often while it starts up
        runner = cli.spawn(verb, instance)
        if anchor == "live":
            cli.wait_until(lambda: _size(events_path) > before or runner.proc.poll() is not None,  # noqa: B023 - called at once
                           timeout=20, what="the runner's first event")
        time.sleep(delay)
        assert runner.proc.poll() is None, (
            f"the run ended (exit {runner.proc.returncode}) before kill {len(kills) + 1}: {runner.stderr[-2000:]}")
        runner.kill_group()
        events = cli.events(instance)  # a torn last line is allowed; anything else raises
        kills.append(KillPoint(len(kills) + 1, _completed(events), _running(events, last_seq), _size(ledger), anchor, delay))
        if len(kills) % 10 == 0:
            doc = cli.status(instance)
            if doc["status"] == "running":
                assert doc["display_status"] == "running (no runner)" and doc["runner_alive"] is False
        verb = "resume"

    final = cli.run("resume", instance, timeout=60)
    assert final.returncode == 0, final.stderr
    assert cli.no_traceback(final.stderr) and cli.internal_errors() == []
    elapsed = time.monotonic() - started

    status = cli.status(instance)
    assert status["status"] == "completed"
    not_done = {t: s["status"] for t, s in status["tasks"].items() if s["status"] != "completed"}
    assert not not_done
    assert set(status["tasks"]) == set(document["tasks"])

    events = cli.events(instance)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    completions = Counter(e["data"]["task"] for e in events if e["type"] == "task.completed")
    assert {t: n for t, n in completions.items() if n != 1} == {}, "a task completed more than once"
    completed_attempt = _completed(events)
    assert set(completed_attempt) == set(document["tasks"])
    completion_seq = {e["data"]["task"]: e["seq"] for e in events if e["type"] == "task.completed"}
    started_after = [(e["data"]["task"], e["seq"]) for e in events
                     if e["type"] == "task.started" and e["seq"] > completion_seq[e["data"]["task"]]]
    assert started_after == [], "a task started again after its completion was logged"
    started_attempts: dict[str, set[int]] = defaultdict(set)
    for e in events:
        if e["type"] == "task.started":
            started_attempts[e["data"]["task"]].add(e["data"]["attempt"])

    lines = _ledger(ledger)
    by_task: dict[str, list[int]] = defaultdict(list)
    for _offset, task, attempt in lines:
        by_task[task].append(attempt)
    for task, attempt in completed_attempt.items():
        runs = by_task[task]
        assert runs, f"{task} completed but never ran"
        assert runs[-1] == attempt, f"{task}: last run was attempt {runs[-1]}, the logged completion is attempt {attempt}"
        assert runs == sorted(set(runs)), f"{task}: an attempt number ran twice or out of order: {runs}"
        # Every side effect was preceded by a durable task.started for that attempt.
        assert set(runs) <= started_attempts[task], f"{task}: attempts {runs} ran, only {started_attempts[task]} were logged"
    for kill in kills:
        again = [(task, attempt) for offset, task, attempt in lines
                 if offset >= kill.ledger_offset and task in kill.completed]
        assert again == [], f"after kill {kill.number}, tasks whose completion was already logged ran again: {again}"

    # The schedule really cut runs short while tasks ran, all along the workflow, not only during start-up.
    mid_task = [k for k in kills if k.running]
    assert len(mid_task) >= 6, [(k.number, k.anchor, round(k.delay, 3), len(k.completed)) for k in kills]
    assert len(kills[KILLS // 2].completed) > 0
    assert any(t.startswith("chain_") for k in kills for t in k.running)
    assert elapsed < 60, f"took {elapsed:.1f} s"
