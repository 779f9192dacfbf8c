"""How a run ends (SPEC 6.2, 6.6): completed, failed (maybe after a saga rollback), paused, waiting, cancelled."""

from __future__ import annotations

from workflow_cli.model.states import UNFINISHED_TASK, EventType, InstanceState, TaskState
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflow_cli.engine.runner import RunOutcome, Runner

UNFINISHED = UNFINISHED_TASK


def _cancel_unfinished(runner: Runner, kind: str, error: str) -> None:
    for tid, ts in runner.state["tasks"].items():
        if ts["status"] in UNFINISHED:
            runner.journal.record(EventType.TASK_CANCELLED, {"task": tid, "kind": kind, "error": error})


def _waiting_for(runner: Runner) -> list[dict[str, Any]]:
    out = []
    for tid, ts in runner.state["tasks"].items():
        if ts["status"] == TaskState.WAITING:
            out.append({"task": tid, **(ts.get("waiting") or {})})
        elif ts["status"] == TaskState.PENDING and ts.get("next_attempt_at"):
            out.append({"task": tid, "kind": "timer", "until": ts["next_attempt_at"]})
    return out


def _failure_message(runner: Runner, tid: str) -> str:
    ts = runner.state["tasks"][tid]
    return f"task '{tid}' failed: {ts.get('error') or 'error'}"


def finish_run(runner: Runner, *, apply_only: bool = False) -> RunOutcome:
    """Record the instance's final event for this run and return the outcome."""
    from workflow_cli.engine.runner import RunOutcome

    journal = runner.journal
    reason = ""
    if apply_only:
        # decisions were recorded; the run continues with 'resume' or 'tick' (a paused run stays paused)
        if runner._resumed_from == InstanceState.PAUSED:
            journal.record(EventType.WORKFLOW_PAUSED, {"reason": runner.state.get("error") or "paused"})
        else:
            journal.record(EventType.WORKFLOW_WAITING, {"waiting_for": _waiting_for(runner), "continue": f"workflow-cli resume {runner.paths.id}"})
        journal.flush()
        return RunOutcome(runner.state, "applied")
    if runner.failure is None:
        # e.g. 'retry --task X' left another task failed: the workflow has not succeeded
        runner.failure = runner._unhandled_failure()
    if runner.cancel_requested:
        _cancel_unfinished(runner, "cancelled", "cancelled by request")
        journal.record(EventType.WORKFLOW_CANCELLED, {"error": "cancelled by request"})
        reason = "cancelled"
    elif runner.deadline_hit:
        error = f"the workflow deadline of {runner.wf.timeout_seconds} s expired"
        _cancel_unfinished(runner, "deadline", error)
        journal.record(EventType.WORKFLOW_FAILED, {"error": error, "kind": "deadline"})
        reason = "deadline"
    elif runner.stop_requested:
        journal.record(EventType.WORKFLOW_PAUSED, {"reason": runner.stop_requested})
        reason = "stopped"
    elif runner.failure is not None:
        reason = _finish_failure(runner)
    else:
        waiting = _waiting_for(runner)
        if waiting:
            journal.record(EventType.WORKFLOW_WAITING, {"waiting_for": waiting})
            reason = "waiting"
        else:
            failed = [t for t, ts in runner.state["tasks"].items() if ts["status"] == TaskState.FAILED]
            journal.record(EventType.WORKFLOW_COMPLETED, {"tolerated_failures": failed} if failed else {})
            reason = "completed"
    journal.flush()
    return RunOutcome(runner.state, reason)


def _finish_failure(runner: Runner) -> str:
    tid, policy = runner.failure  # type: ignore[misc]
    journal = runner.journal
    message = _failure_message(runner, tid)
    if policy == "pause" or (policy == "fail" and runner.wf.on_failure == "pause"):
        journal.record(EventType.WORKFLOW_PAUSED, {"reason": f"{message}; fix it, then 'workflow-cli resume {runner.paths.id}'", "task": tid})
        return "paused"
    if policy == "rollback" or runner.wf.on_failure == "rollback":
        from workflow_cli.engine.rollback import run_rollback

        journal.flush()
        run_rollback(runner.home, runner.paths, journal, runner.wf, checkpoint=None, scope=runner._scope(),
                     redact=runner.redact, config=runner.config, reason=message)
        journal.record(EventType.WORKFLOW_FAILED, {"error": f"{message}; completed tasks were compensated", "kind": "rolled_back", "task": tid})
        return "rolled_back"
    journal.record(EventType.WORKFLOW_FAILED, {"error": message, "kind": "task_failed", "task": tid})
    return "failed"
