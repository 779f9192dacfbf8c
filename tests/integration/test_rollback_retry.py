"""Rollback restores the checkpoint's state (SPEC 7.3); retry gives a fresh budget; no circular advice (SPEC 8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _count(name: str) -> str:
    """Shell that appends a line to ``$LEDGER/<name>`` (how often a task ran)."""
    return f'echo ran >> "$LEDGER/{name}"'


def _transient_doc(ledger: Path) -> dict[str, Any]:
    """a, s complete (checkpoints cp-0001, cp-0002); b fails on its first run only; c follows b."""
    env = {"LEDGER": str(ledger)}

    def task(command: str, **extra: Any) -> dict[str, Any]:
        return {"action": "command", "parameters": {"command": command, "env": env}, **extra}

    return {"version": "2.0.0", "name": "transient", "variables": {"stage": "none"}, "tasks": {
        "a": task(_count("a"), set_vars={"stage": "'a'"}),
        "s": task(_count("s"), dependencies=["a"], set_vars={"stage": "'s'"},
                  compensate={"action": "command", "parameters": {"command": _count("s.undone"), "env": env}}),
        "b": task('if [ -e "$LEDGER/b.once" ]; then echo ok; else touch "$LEDGER/b.once"; exit 3; fi',
                  dependencies=["s"]),
        "c": task(_count("c"), dependencies=["b"]),
    }}


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_rollback_resets_every_task_not_completed_at_the_checkpoint_and_resume_completes(sh, write, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    run = sh("--json", "run", write("t.json", _transient_doc(ledger)))
    assert run.exit_code == 1, run
    failed = run.json()
    instance = failed["id"]
    assert [failed["tasks"][t]["status"] for t in "asbc"] == ["completed", "completed", "failed", "skipped"]
    assert failed["vars"]["stage"] == "s" and failed["checkpoints"] == ["cp-0001", "cp-0002"]

    rolled = sh("--json", "rollback", instance, "--checkpoint", "cp-0001")
    assert rolled.exit_code == 0, rolled
    status = sh("--json", "status", instance).json()
    assert status["status"] == "paused"
    assert status["tasks"]["a"]["status"] == "completed" and status["tasks"]["a"]["attempts"] == 1
    for tid in "sbc":
        task = status["tasks"][tid]
        assert (task["status"], task["attempts"], task["outputs"], task["error"]) == ("pending", 0, {}, None), (tid, task)
    assert status["vars"]["stage"] == "a"
    assert status["checkpoints"] == ["cp-0001"]
    assert _lines(ledger / "s.undone") == ["ran"]

    resumed = sh("--json", "resume", instance)
    assert resumed.exit_code == 0, resumed
    final = resumed.json()
    assert final["status"] == "completed"
    assert _lines(ledger / "a") == ["ran"]  # completed at the checkpoint: not run again
    assert _lines(ledger / "s") == ["ran", "ran"] and _lines(ledger / "c") == ["ran"]
    assert final["tasks"]["b"]["attempts"] == 1  # the attempt of the rolled-back run is gone


def test_rollback_resume_completes_a_workflow_whose_failure_was_transient(sh, write, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    run = sh("--json", "run", write("t.json", _transient_doc(ledger)))
    assert run.exit_code == 1, run
    resumed = sh("--json", "rollback", run.json()["id"], "--resume")
    assert resumed.exit_code == 0, resumed
    assert sh("--json", "status", run.json()["id"]).json()["status"] == "completed"
    assert _lines(ledger / "a") == ["ran"] and _lines(ledger / "s") == ["ran"]  # cp-0002 (after s) is the latest


def test_a_rollback_that_changes_nothing_says_so_and_leaves_the_home_alone(sh, write, home: Path, snapshot_tree) -> None:
    doc = {"version": "2.0.0", "name": "done", "tasks": {"a": {"action": "noop"}, "b": {"action": "noop", "dependencies": ["a"]}}}
    run = sh("--json", "run", write("done.json", doc))
    assert run.exit_code == 0, run
    instance = run.json()["id"]
    before = snapshot_tree(home)
    for args in (("rollback", instance), ("--json", "rollback", instance), ("rollback", instance, "--resume")):
        result = sh(*args)
        assert result.exit_code == 0, result
        assert "nothing" in (result.stdout + result.stderr).lower()
    assert json.loads(sh("--json", "rollback", instance).stdout)["changed"] is False
    assert snapshot_tree(home) == before
    assert sh("--json", "status", instance).json()["status"] == "completed"


def test_retry_gives_the_task_its_policy_attempts_again(sh, write, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    # fails on attempts 1-3, succeeds from attempt 4: the run makes attempts 1-2, the retry 3 (fails) and 4
    flaky = {"version": "2.0.0", "name": "flaky", "tasks": {"f": {
        "action": "command", "retry": {"max_attempts": 2, "delay_seconds": 0},
        "parameters": {"command": 'echo "$WORKFLOW_ATTEMPT" >> "$LEDGER/f"; [ "$WORKFLOW_ATTEMPT" -ge 4 ]',
                       "env": {"LEDGER": str(ledger)}}}}}
    run = sh("--json", "run", write("flaky.json", flaky))
    assert run.exit_code == 1 and run.json()["tasks"]["f"]["attempts"] == 2, run
    retried = sh("--json", "retry", run.json()["id"])
    assert retried.exit_code == 0, retried
    assert retried.json()["tasks"]["f"]["attempts"] == 4
    assert _lines(ledger / "f") == ["1", "2", "3", "4"]  # attempt numbers keep counting up


def test_retry_budget_is_fresh_for_each_retry(sh, write, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    always = {"version": "2.0.0", "name": "always", "tasks": {"f": {
        "action": "command", "retry": {"max_attempts": 3, "delay_seconds": 0},
        "parameters": {"command": 'echo "$WORKFLOW_ATTEMPT" >> "$LEDGER/f"; exit 1', "env": {"LEDGER": str(ledger)}}}}}
    run = sh("--json", "run", write("always.json", always))
    assert run.exit_code == 1 and run.json()["tasks"]["f"]["attempts"] == 3, run
    again = sh("--json", "retry", run.json()["id"])
    assert again.exit_code == 1 and again.json()["tasks"]["f"]["attempts"] == 6, again
    assert _lines(ledger / "f") == [str(n) for n in range(1, 7)]


def test_no_circular_advice_on_a_completed_instance(sh, write) -> None:
    doc = {"version": "2.0.0", "name": "done", "tasks": {"build": {"action": "noop"},
                                                         "ship": {"action": "noop", "dependencies": ["build"]}}}
    instance = sh("--json", "run", write("done.json", doc)).json()["id"]
    retry = sh("retry", instance)
    assert retry.exit_code == 5, retry
    assert "--task" in retry.stderr and "build" in retry.stderr and "ship" in retry.stderr
    start = sh("start", instance)
    assert start.exit_code == 5, start
    message = start.stderr
    assert "completed" in message and "retry" in message and "--task" in message
    assert "rollback" in message and "run" in message
    assert "workflow-cli resume" not in message
    # following the advice works
    again = sh("--json", "retry", instance, "--task", "ship")
    assert again.exit_code == 0, again
    assert again.json()["tasks"]["ship"]["attempts"] == 2
