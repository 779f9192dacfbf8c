"""A rollback killed halfway finishes when run again, compensating each task exactly once (SPEC 7.3, 16)."""

from __future__ import annotations

import json
import shlex
from collections import Counter
from pathlib import Path
from typing import Any

TASKS = [f"t{i}" for i in range(1, 7)]


def saga_document(tmp_path: Path, *, compensation_seconds: float = 0.3) -> dict[str, Any]:
    """t1 -> t2 -> ... -> t6; each compensation is idempotent through $WORKFLOW_IDEMPOTENCY_KEY and slow."""
    calls = shlex.quote(str(tmp_path / "compensation-calls.txt"))
    done = shlex.quote(str(tmp_path / "compensations.txt"))
    markers = tmp_path / "markers"
    markers.mkdir()
    marker = shlex.quote(str(markers)) + '/"$WORKFLOW_IDEMPOTENCY_KEY"'
    compensate = {"action": "command", "parameters": {"command": (
        f'echo "$WORKFLOW_TASK_ID" >> {calls}; '
        f'if mkdir {marker} 2>/dev/null; then echo "$WORKFLOW_TASK_ID" >> {done}; fi; '
        f"sleep {compensation_seconds}")}}
    tasks: dict[str, Any] = {}
    for i, tid in enumerate(TASKS):
        tasks[tid] = {"action": "command", "parameters": {"command": f"echo {tid}=done"},
                      "dependencies": [TASKS[i - 1]] if i else [], "compensate": compensate,
                      "set_vars": {f"after_{tid}": "true"}}
    return {"version": "2.0.0", "name": "saga", "variables": {"stage": "initial"}, "tasks": tasks}


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_rollback_killed_halfway_finishes_when_run_again(cli: Any, tmp_path: Path) -> None:
    instance = cli.create(cli.write_document("saga.json", saga_document(tmp_path)))
    first = cli.run("start", instance)
    assert first.returncode == 0, first.stderr
    assert [cp for cp in cli.status(instance)["checkpoints"]] == [f"cp-{i:04d}" for i in range(1, 7)]
    compensations = tmp_path / "compensations.txt"

    rollback = cli.spawn("rollback", instance, "--checkpoint", "start")
    cli.wait_until(lambda: len(_lines(compensations)) >= 2 or rollback.proc.poll() is not None,
                   timeout=20, what="two compensations")
    assert rollback.proc.poll() is None, f"rollback ended early: {rollback.stderr}"
    rollback.kill_group()
    assert _lines(compensations) == ["t6", "t5"]
    events = cli.events(instance)  # the log is intact after the kill
    assert any(e["type"] == "rollback.started" for e in events)
    assert not any(e["type"] == "rollback.completed" for e in events)

    again = cli.run("rollback", instance)
    assert again.returncode == 0, again.stderr
    assert cli.no_traceback(again.stderr) and cli.internal_errors() == []

    # Each undone task was compensated exactly once, newest first; the one cut off by the kill ran again
    # (at-least-once delivery) but its idempotency key kept the second run from redoing the work.
    assert _lines(compensations) == list(reversed(TASKS))
    calls = Counter(_lines(tmp_path / "compensation-calls.txt"))
    assert calls == Counter({"t6": 1, "t5": 2, "t4": 1, "t3": 1, "t2": 1, "t1": 1})

    status = cli.status(instance)
    assert status["status"] == "paused"
    assert {t: s["status"] for t, s in status["tasks"].items()} == {t: "pending" for t in TASKS}
    assert all(s["outputs"] in ({}, None) for s in status["tasks"].values())
    assert status["vars"] == {"stage": "initial"}
    events = cli.events(instance)
    assert [e["type"] for e in events].count("rollback.completed") == 1
    undone = [e["data"]["task"] for e in events if e["type"] == "rollback.task"]
    assert undone == list(reversed(TASKS))

    # The rolled back instance runs again from the start.
    resumed = cli.run("resume", instance)
    assert resumed.returncode == 0, resumed.stderr
    assert {s["status"] for s in cli.status(instance)["tasks"].values()} == {"completed"}
    assert _lines(compensations) == list(reversed(TASKS))


def test_rollback_to_a_checkpoint_undoes_only_the_tasks_completed_after_it(cli: Any, tmp_path: Path) -> None:
    """SPEC 7.3: only tasks completed after cp-0002 are compensated; variables return to their value at cp-0002."""
    instance = cli.create(cli.write_document("saga.json", saga_document(tmp_path, compensation_seconds=0)))
    assert cli.run("start", instance).returncode == 0
    res = cli.run("rollback", instance, "--checkpoint", "cp-0002")
    assert res.returncode == 0, res.stderr
    assert _lines(tmp_path / "compensations.txt") == ["t6", "t5", "t4", "t3"]
    status = cli.status(instance)
    assert status["status"] == "paused"
    assert {t: s["status"] for t, s in status["tasks"].items()} == {
        "t1": "completed", "t2": "completed", "t3": "pending", "t4": "pending", "t5": "pending", "t6": "pending"}
    assert status["vars"] == {"stage": "initial", "after_t1": True, "after_t2": True}
    assert status["checkpoints"] == ["cp-0001", "cp-0002"]


def test_rollback_to_the_start_drops_every_checkpoint(cli: Any, tmp_path: Path) -> None:
    """Checkpoints record states that a rollback to the start undid; none of them may be offered afterwards."""
    instance = cli.create(cli.write_document("saga.json", saga_document(tmp_path, compensation_seconds=0)))
    assert cli.run("start", instance).returncode == 0
    res = cli.run("rollback", instance, "--checkpoint", "start")
    assert res.returncode == 0, res.stderr
    status = cli.status(instance)
    assert {s["status"] for s in status["tasks"].values()} == {"pending"}
    listed = cli.run("checkpoints", "--json", instance)
    assert listed.returncode == 0, listed.stderr
    assert status["checkpoints"] == [] and json.loads(listed.stdout) == [], "checkpoints of undone work survive"


def test_rollback_of_an_instance_with_a_live_runner_is_a_conflict(cli: Any) -> None:
    document = {"version": "2.0.0", "name": "long", "tasks": {
        "quick": {"action": "command", "parameters": {"command": "true"}, "compensate": {"action": "command", "parameters": {"command": "true"}}},
        "slow": {"action": "command", "parameters": {"command": "sleep 30"}, "dependencies": ["quick"]},
    }}
    instance = cli.create(cli.write_document("long.json", document))
    runner = cli.spawn("start", instance)
    try:
        cli.wait_until(lambda: cli.logged(instance, "task.started", "slow"), timeout=20, what="the slow task to start")
        for args in ((), ("--checkpoint", "start"), ("--checkpoint", "cp-0001")):
            res = cli.run("rollback", instance, *args)
            assert res.returncode == 5, (args, res.returncode, res.stderr)
            assert cli.no_traceback(res.stderr)
        assert not cli.logged(instance, "rollback.started")
        cancelled = cli.run("cancel", instance)  # handed to the runner, which terminates the slow task
        assert cancelled.returncode == 0, cancelled.stderr
        assert runner.wait(timeout=20) == 7
    finally:
        if runner.proc.poll() is None:
            runner.kill_group()
