"""How a run ends (SPEC 6.2, 6.6): completed, failed (maybe after a saga rollback), paused, waiting, cancelled."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflow_cli.engine.runner import RunOutcome, Runner

UNFINISHED = ("pending", "waiting", "running")


def _cancel_unfinished(runner: Runner, kind: str, error: str) -> None:
    for tid, ts in runner.state["tasks"].items():
        if ts["status"] in UNFINISHED:
            runner.journal.record("task.cancelled", {"task": tid, "kind": kind, "error": error})


def _waiting_for(runner: Runner) -> list[dict[str, Any]]:
    out = []
    for tid, ts in runner.state["tasks"].items():
        if ts["status"] == "waiting":
            out.append({"task": tid, **(ts.get("waiting") or {})})
        elif ts["status"] == "pending" and ts.get("next_attempt_at"):
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
        if runner._resumed_from == "paused":
            journal.record("workflow.paused", {"reason": runner.state.get("error") or "paused"})
        else:
            journal.record("workflow.waiting", {"waiting_for": _waiting_for(runner), "continue": f"workflow-cli resume {runner.paths.id}"})
        journal.flush()
        return RunOutcome(runner.state, "applied")
    if runner.failure is None:
        # e.g. 'retry --task X' left another task failed: the workflow has not succeeded
        runner.failure = runner._unhandled_failure()
    if runner.cancel_requested:
        _cancel_unfinished(runner, "cancelled", "cancelled by request")
        journal.record("workflow.cancelled", {"error": "cancelled by request"})
        reason = "cancelled"
    elif runner.deadline_hit:
        error = f"the workflow deadline of {runner.wf.timeout_seconds} s expired"
        _cancel_unfinished(runner, "deadline", error)
        journal.record("workflow.failed", {"error": error, "kind": "deadline"})
        reason = "deadline"
    elif runner.stop_requested:
        journal.record("workflow.paused", {"reason": runner.stop_requested})
        reason = "stopped"
    elif runner.failure is not None:
        reason = _finish_failure(runner)
    else:
        waiting = _waiting_for(runner)
        if waiting:
            journal.record("workflow.waiting", {"waiting_for": waiting})
            reason = "waiting"
        else:
            failed = [t for t, ts in runner.state["tasks"].items() if ts["status"] == "failed"]
            journal.record("workflow.completed", {"tolerated_failures": failed} if failed else {})
            reason = "completed"
    journal.flush()
    return RunOutcome(runner.state, reason)


def _finish_failure(runner: Runner) -> str:
    tid, policy = runner.failure  # type: ignore[misc]
    journal = runner.journal
    message = _failure_message(runner, tid)
    if policy == "pause" or (policy == "fail" and runner.wf.on_failure == "pause"):
        journal.record("workflow.paused", {"reason": f"{message}; fix it, then 'workflow-cli resume {runner.paths.id}'", "task": tid})
        return "paused"
    if policy == "rollback" or runner.wf.on_failure == "rollback":
        from workflow_cli.engine.rollback import run_rollback

        journal.flush()
        run_rollback(runner.home, runner.paths, journal, runner.wf, checkpoint=None, scope=runner._scope(),
                     redact=runner.redact, config=runner.config, reason=message)
        journal.record("workflow.failed", {"error": f"{message}; completed tasks were compensated", "kind": "rolled_back", "task": tid})
        return "rolled_back"
    journal.record("workflow.failed", {"error": message, "kind": "task_failed", "task": tid})
    return "failed"
