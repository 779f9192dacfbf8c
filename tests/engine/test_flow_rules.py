"""Trigger rule ``min_success`` on a real run, and ``set_vars`` against checkpoints and rollback (SPEC 3, 6.2, 7.3)."""

from __future__ import annotations

import json
import time
from typing import Any

Engine = Any  # the ``engine`` fixture of conftest.py


def sh(command: str, **task: Any) -> dict[str, Any]:
    """A ``command`` task."""
    return {"action": "command", "parameters": {"command": command}, **task}


def test_min_success_join_starts_after_two_of_three_and_cancels_the_third(engine: Engine) -> None:
    doc = {"version": "2.0.0", "name": "quorum", "max_parallel": 4, "tasks": {
        "fast1": sh("sleep 0.1"),
        "fast2": sh("sleep 0.2"),
        "slow": sh("until [ -f never ]; do sleep 0.05; done"),  # ends only when cancelled
        "join": sh("true", dependencies=["fast1", "fast2", "slow"], trigger_rule={"min_success": 2, "cancel_remaining": True}),
    }}
    path = engine.tmp / "quorum.json"
    path.write_text(json.dumps(doc))
    began = time.monotonic()
    out = engine.cli("--json", "run", str(path))
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - began < 15  # the 30 s dependency was not waited for
    tasks = json.loads(out.stdout)["tasks"]
    assert {t: tasks[t]["status"] for t in tasks} == {"fast1": "completed", "fast2": "completed", "slow": "cancelled", "join": "completed"}
    assert tasks["join"]["started_at"] >= max(tasks["fast1"]["finished_at"], tasks["fast2"]["finished_at"])
    assert tasks["join"]["started_at"] < tasks["slow"]["finished_at"]
    assert "min_success" in (tasks["slow"]["error"] or "") or tasks["slow"]["error_kind"] == "cancelled"


def test_variables_are_part_of_checkpoints_and_rollback_restores_them(engine: Engine) -> None:
    from workflow_cli.ops.control import rollback

    iid, result = engine.run({
        "a": sh('echo "n=2" > "$WORKFLOW_OUTPUT"', set_vars={"total": "tasks.a.outputs.n | int"}),
        "b": sh('echo "n=5" > "$WORKFLOW_OUTPUT"', dependencies=["a"], set_vars={"total": "vars.total + tasks.b.outputs.n | int",
                                                                                   "seen": "'b'"}),
        "c": {"action": "noop", "dependencies": ["b"], "set_vars": {"total": "vars.total * 10"}},
    }, variables={"total": 0, "keep": "x"})
    assert result.exit_code == 0
    assert result.status["vars"] == {"total": 70, "keep": "x", "seen": "b"}
    recorded = [e["data"]["vars"] for e in engine.events(iid, "checkpoint.created")]
    assert recorded == [{"total": 2, "keep": "x"}, {"total": 7, "keep": "x", "seen": "b"}, {"total": 70, "keep": "x", "seen": "b"}]
    rollback(engine.home, iid, checkpoint="cp-0002")
    assert engine.state(iid)["vars"] == {"total": 7, "keep": "x", "seen": "b"}
    rollback(engine.home, iid, checkpoint="start")
    assert engine.state(iid)["vars"] == {"total": 0, "keep": "x"}
    result = engine.resume(iid)
    assert result.exit_code == 0 and result.status["vars"]["total"] == 70
