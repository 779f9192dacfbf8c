"""``debug`` on real failed, waiting, rejected, timed-out, paused, cancelled and crashed instances; the ``status`` view."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from workflow_cli.store.events import EventLog
from workflow_cli.store.instances import InstancePaths

SECRET = "s3cr3t-value"
MIXED = {
    "version": "2.0.0", "name": "Mixed",
    "parameters": {"token": {"type": "string", "secret": True, "required": True}, "who": {"type": "string", "default": "bob"}},
    "tasks": {
        "build": {"action": "command", "parameters": {"command": "echo building {{ params.who }}"}},
        "gate": {"action": "approval_gate", "dependencies": ["build"], "parameters": {"approvers": ["ann"], "message": "ship?"}},
        "bad": {"action": "command", "dependencies": ["build"], "retry_count": 1, "retry_delay": 0.05,
                "parameters": {"command": "echo token={{ params.token }}; echo oops >&2; exit 3"}},
        "after": {"action": "noop", "dependencies": ["bad"]},
        "branch": {"action": "noop", "conditions": ["params.who == 'zed'"]},
    },
}


def _run(cli: Any, write: Any, doc: dict[str, Any], *params: str) -> tuple[str, int]:
    args = [a for p in params for a in ("--param", p)]
    result = cli("run", write("doc.json", doc), *args)
    return cli("list", "--json").json()[0]["id"], result.exit_code


def _debug(cli: Any, iid: str) -> dict[str, Any]:
    result = cli("debug", iid, "--json")
    assert result.exit_code == 0, result
    return result.json()


def _by_task(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["task"]: t for t in report["tasks"]}


def test_failed_waiting_blocked_and_skipped_tasks_are_explained(cli: Any, write: Any) -> None:
    iid, code = _run(cli, write, MIXED, f"token={SECRET}")
    assert code == 1
    result = cli("debug", iid, "--json")
    assert SECRET not in result.stdout
    report = result.json()
    assert report["id"] == iid and report["status"] == "failed" and report["fix"] == f"workflow-cli retry {iid}"
    tasks = _by_task(report)
    assert list(tasks) == ["gate", "bad", "after", "branch"]  # document order; build completed: nothing to explain
    bad = tasks["bad"]
    assert (bad["status"], bad["kind"], bad["exit_code"]) == ("failed", "error", 3)
    assert [a["attempt"] for a in bad["attempts"]] == [1, 2] and all(a["exit_code"] == 3 for a in bad["attempts"])
    assert "token=***" in bad["log_tail"] and len(bad["log_tail"]) <= 10
    assert "***" in bad["parameters"]["command"] and bad["upstream"] == {"build": "completed"}
    assert bad["fix"] == f"workflow-cli retry {iid} --task bad"
    after = tasks["after"]
    assert after["status"] == "skipped" and after["upstream"] == {"bad": "failed"}
    assert "bad" in after["reason"] and after["fix"] == f"workflow-cli retry {iid} --task bad"
    assert tasks["branch"]["kind"] == "condition" and "params.who == 'zed'" in tasks["branch"]["reason"]
    assert tasks["branch"]["fix"] is None
    gate = tasks["gate"]
    assert (gate["status"], gate["kind"]) == ("waiting", "approval") and "ann" in gate["reason"]
    assert gate["fix"] == f"workflow-cli approve {iid} gate --by ann"
    human = cli("debug", iid)
    assert human.exit_code == 0 and SECRET not in human.stdout and f"retry {iid} --task bad" in human.stdout


def test_the_fix_of_a_waiting_gate_moves_it_on(cli: Any, write: Any) -> None:
    doc = {"version": "2.0.0", "name": "Gate", "tasks": {
        "gate": {"action": "approval_gate", "parameters": {"approvers": ["ann"]}},
        "done": {"action": "noop", "dependencies": ["gate"]}}}
    iid, code = _run(cli, write, doc)
    assert code == 3
    report = _debug(cli, iid)
    assert report["status"] == "waiting" and [t["task"] for t in report["tasks"]] == ["gate"]
    fix = report["tasks"][0]["fix"]
    assert fix == report["fix"] == f"workflow-cli approve {iid} gate --by ann"
    assert cli(*fix.split()[1:]).exit_code == 0
    assert _debug(cli, iid)["tasks"] == [] and cli("status", iid, "--json").json()["status"] == "completed"


def test_timeout_rejection_signal_and_cancellation(cli: Any, write: Any) -> None:
    slow = {"version": "2.0.0", "name": "Slow", "tasks": {
        "slow": {"action": "command", "timeout_seconds": 0.3, "parameters": {"command": "sleep 5"}}}}
    iid, code = _run(cli, write, slow)
    assert code == 1 and _by_task(_debug(cli, iid))["slow"]["kind"] == "timeout"
    doc = {"version": "2.0.0", "name": "Kinds", "tasks": {
        "gate": {"action": "approval_gate", "parameters": {"approvers": ["ann"]}},
        "hold": {"action": "wait", "parameters": {"signal": "go"}}}}
    iid, code = _run(cli, write, doc)
    assert code == 3
    hold = _by_task(_debug(cli, iid))["hold"]
    assert (hold["kind"], hold["fix"]) == ("signal", f"workflow-cli signal {iid} go")
    assert cli("reject", iid, "gate", "--by", "ann", "--no-continue").exit_code == 0
    gate = _by_task(_debug(cli, iid))["gate"]
    assert (gate["status"], gate["kind"]) == ("failed", "rejected") and "ann" in gate["reason"]
    assert cli("cancel", iid).exit_code == 0
    cancelled = _debug(cli, iid)
    assert cancelled["status"] == "cancelled" and cancelled["fix"] is None
    assert (_by_task(cancelled)["hold"]["status"], _by_task(cancelled)["hold"]["fix"]) == ("cancelled", None)


def test_paused_instance_points_at_resume(cli: Any, write: Any) -> None:
    doc = {"version": "2.0.0", "name": "P", "on_failure": "pause", "tasks": {
        "x": {"action": "command", "parameters": {"command": "exit 2"}}, "y": {"action": "noop", "dependencies": ["x"]}}}
    iid, code = _run(cli, write, doc)
    assert code == 6
    report = _debug(cli, iid)
    assert report["status"] == "paused" and report["fix"] == f"workflow-cli resume {iid}"
    assert _by_task(report)["x"]["exit_code"] == 2


@pytest.fixture
def crashed(cli: Any, write: Any, home: Path) -> InstancePaths:
    """What a runner killed while ``a`` ran leaves behind (built from events: no runner holds the lock)."""
    doc = {"version": "2.0.0", "name": "Crash", "tasks": {
        "a": {"action": "command", "parameters": {"command": "sleep 1"}},
        "b": {"action": "command", "dependencies": ["a"], "parameters": {"command": "echo {{ tasks.a.outputs.value }}"}},
        "c": {"action": "noop", "dependencies": ["b"]}}}
    iid = cli("create", write("crash.json", doc), "-q").stdout.strip()
    paths = InstancePaths(home / "instances" / iid)
    with EventLog(paths.events) as log:
        log.append_many([("workflow.started", {}), ("task.started", {"task": "a", "attempt": 1})])
    return paths


def test_crashed_runner_is_shown_with_its_fix(cli: Any, crashed: InstancePaths) -> None:
    iid = crashed.id
    status = cli("status", iid, "--json").json()
    assert status["status"] == "running" and status["display_status"] == "running (no runner)"
    human = cli("status", iid)
    assert "running (no runner)" in human.stdout and f"workflow-cli resume {iid}" in human.stdout
    report = _debug(cli, iid)
    assert report["display_status"] == "running (no runner)" and report["fix"] == f"workflow-cli resume {iid}"
    assert [(t["task"], t["kind"], t["fix"]) for t in report["tasks"]] == [("a", "interrupted", f"workflow-cli resume {iid}")]


def test_blocked_pending_tasks_name_the_failed_upstream(cli: Any, crashed: InstancePaths) -> None:
    with EventLog(crashed.events) as log:
        log.append_many([("task.failed", {"task": "a", "attempt": 1, "error": "boom", "kind": "error", "exit_code": 9}),
                         ("workflow.failed", {"error": "task 'a' failed", "kind": "task_failed"})])
    tasks = _by_task(_debug(cli, crashed.id))
    assert tasks["a"]["exit_code"] == 9
    for tid in ("b", "c"):
        assert tasks[tid]["kind"] == "blocked" and "a" in tasks[tid]["reason"]
        assert tasks[tid]["fix"] == f"workflow-cli retry {crashed.id} --task a"
    # a's outputs do not exist, so b's parameters cannot be rendered: shown raw, with the reason
    assert tasks["b"]["parameters"]["command"] == "echo {{ tasks.a.outputs.value }}" and tasks["b"]["render_error"]


def _status_doc(n: int) -> dict[str, Any]:
    from workflow_cli.monitor.summary import status_document

    task = {"status": "completed", "attempts": 1, "started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:00:01Z",
            "duration_seconds": 1.0, "error": None, "outputs": {}, "error_kind": None, "exit_code": None, "waiting": None}
    tasks = {f"t{i:05d}": dict(task) for i in range(n)}
    for i in range(0, n, 100):
        tasks[f"t{i:05d}"].update(status="pending", started_at=None, finished_at=None)
    tasks["t00007"].update(status="failed", error="boom", exit_code=2)
    tasks["t00008"].update(status="waiting", waiting={"kind": "signal", "name": "go"})
    tasks["t00009"].update(status="running", finished_at=None)
    state = {"id": "i1", "name": "Big", "template": "big", "status": "running", "tasks": tasks,
             "checkpoints": [{"id": f"cp-{i:04d}"} for i in range(1, 2000)], "created_at": "2026-01-01T00:00:00Z",
             "started_at": "2026-01-01T00:00:00Z"}
    return status_document(state, runner_alive=True, eta_seconds=90.0)


def test_status_view_of_10000_tasks_stays_compact() -> None:
    from rich.console import Console

    from workflow_cli.cli.render_status import ROW_LIMIT, allocate, render_status

    doc = _status_doc(10_000)
    assert doc["counts"] == {"completed": 9897, "pending": 100, "failed": 1, "waiting": 1, "running": 1}
    out = io.StringIO()
    render_status(Console(file=out, width=160, color_system=None), doc, now=1_767_225_700.0)
    rows = [line for line in out.getvalue().splitlines() if line.startswith("t0")]
    assert len(rows) <= ROW_LIMIT and {"t00007", "t00008", "t00009"} <= {r.split()[0] for r in rows}
    assert len(out.getvalue().splitlines()) < ROW_LIMIT + 30
    assert allocate({"current": 2, "failed": 1, "completed": 9000, "pending": 5, "skipped": 0}) == \
        {"current": 2, "failed": 1, "completed": 42, "pending": 5, "skipped": 0}
