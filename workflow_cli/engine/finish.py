"""How a run ends (SPEC 6.2, 6.6): completed, failed (maybe after a saga rollback), paused, waiting, cancelled."""

from __future__ import annotations

from typing import Any

from workflow_cli.engine.context import RunContext
from workflow_cli.engine.options import RunOutcome
from workflow_cli.model.states import UNFINISHED_TASK, EventType, InstanceState, TaskState


class Finisher:
    """Records the instance's final event for a run and says why the run stopped."""

    def __init__(self, run: RunContext) -> None:
        self.run = run

    def _cancel_unfinished(self, kind: str, error: str) -> None:
        for tid, ts in self.run.state["tasks"].items():
            if ts["status"] in UNFINISHED_TASK:
                self.run.journal.record(EventType.TASK_CANCELLED, {"task": tid, "kind": kind, "error": error})

    def _waiting_for(self) -> list[dict[str, Any]]:
        out = []
        for tid, ts in self.run.state["tasks"].items():
            if ts["status"] == TaskState.WAITING:
                out.append({"task": tid, **(ts.get("waiting") or {})})
            elif ts["status"] == TaskState.PENDING and ts.get("next_attempt_at"):
                out.append({"task": tid, "kind": "timer", "until": ts["next_attempt_at"]})
        return out

    def finish(self, *, apply_only: bool = False) -> RunOutcome:
        """Record the instance's final event for this run and return the outcome."""
        run = self.run
        journal = run.journal
        if apply_only:
            # decisions were recorded; the run continues with 'resume' or 'tick' (a paused run stays paused)
            if run.resumed_from == InstanceState.PAUSED:
                journal.record(EventType.WORKFLOW_PAUSED, {"reason": run.state.get("error") or "paused"})
            else:
                journal.record(EventType.WORKFLOW_WAITING, {"waiting_for": self._waiting_for(), "continue": f"workflow-cli resume {run.paths.id}"})
            journal.flush()
            return RunOutcome(run.state, "applied")
        if run.failure is None:
            # e.g. 'retry --task X' left another task failed: the workflow has not succeeded
            run.failure = run.unhandled_failure()
        if run.cancel_requested:
            self._cancel_unfinished("cancelled", "cancelled by request")
            journal.record(EventType.WORKFLOW_CANCELLED, {"error": "cancelled by request"})
            reason = "cancelled"
        elif run.deadline_hit:
            error = f"the workflow deadline of {run.wf.timeout_seconds} s expired"
            self._cancel_unfinished("deadline", error)
            journal.record(EventType.WORKFLOW_FAILED, {"error": error, "kind": "deadline"})
            reason = "deadline"
        elif run.stop_requested:
            journal.record(EventType.WORKFLOW_PAUSED, {"reason": run.stop_requested})
            reason = "stopped"
        elif run.failure is not None:
            reason = self._failure(*run.failure)
        else:
            reason = self._success()
        journal.flush()
        return RunOutcome(run.state, reason)

    def _success(self) -> str:
        run = self.run
        waiting = self._waiting_for()
        if waiting:
            run.journal.record(EventType.WORKFLOW_WAITING, {"waiting_for": waiting})
            return "waiting"
        failed = [t for t, ts in run.state["tasks"].items() if ts["status"] == TaskState.FAILED]
        run.journal.record(EventType.WORKFLOW_COMPLETED, {"tolerated_failures": failed} if failed else {})
        return "completed"

    def _failure(self, tid: str, policy: str) -> str:
        run = self.run
        journal = run.journal
        message = f"task '{tid}' failed: {run.state['tasks'][tid].get('error') or 'error'}"
        if policy == "pause" or (policy == "fail" and run.wf.on_failure == "pause"):
            journal.record(EventType.WORKFLOW_PAUSED, {"reason": f"{message}; fix it, then 'workflow-cli resume {run.paths.id}'", "task": tid})
            return "paused"
        if policy == "rollback" or run.wf.on_failure == "rollback":
            from workflow_cli.engine.rollback import run_rollback

            journal.flush()
            run_rollback(run.home, run.paths, journal, run.wf, checkpoint=None, scope=run.scope(),
                         redact=run.redact, config=run.config, reason=message)
            journal.record(EventType.WORKFLOW_FAILED, {"error": f"{message}; completed tasks were compensated", "kind": "rolled_back", "task": tid})
            return "rolled_back"
        journal.record(EventType.WORKFLOW_FAILED, {"error": message, "kind": "task_failed", "task": tid})
        return "failed"
