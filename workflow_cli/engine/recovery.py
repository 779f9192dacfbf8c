"""How a run begins (SPEC 6.6, 7.4): start or resume the instance, and settle what the last runner left.

A resumed run puts back to pending what a person has looked at (the failures that paused it, tasks
skipped only because an earlier failure stopped new starts), and decides what happens to attempts
the last runner left running: run again, fail, or pause (``on_interrupt``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workflow_cli.engine.context import STOPPING_POLICIES, RunContext
from workflow_cli.engine.foreach import Fanouts
from workflow_cli.engine.pools import PoolSlots
from workflow_cli.errors import ConflictError
from workflow_cli.model.document import Task
from workflow_cli.model.states import EventType, InstanceState, TaskState


class Recovery:
    """Records the start (or resumption) of a run and brings the state left by the last runner up to date."""

    def __init__(self, run: RunContext, fanouts: Fanouts, pools: PoolSlots) -> None:
        self.run = run
        self.fanouts = fanouts
        self.pools = pools

    def reset_tasks(self, resets: Sequence[tuple[str, bool]]) -> None:
        """Put tasks back to pending (``full``: a foreach task forgets its completed items too)."""
        for tid, full in resets:
            data: dict[str, Any] = {"task": tid, "reason": "retry"}
            if full:
                data["full"] = True
            self.run.journal.record(EventType.TASK_RESET, data)

    def begin(self) -> None:
        """Record ``workflow.started``/``workflow.resumed`` and settle what the last runner left."""
        run = self.run
        self.reset_tasks(run.options.reset_tasks)
        status = run.resumed_from = run.state["status"]
        if InstanceState(status).terminal and not run.options.reopen:
            raise ConflictError(f"instance {run.paths.id} is {status}; use 'workflow-cli retry {run.paths.id}' to run failed tasks again")
        if status in (InstanceState.CREATED, InstanceState.QUEUED):
            run.journal.record(EventType.WORKFLOW_STARTED, {"max_parallel": run.max_parallel})
        else:
            run.journal.record(EventType.WORKFLOW_RESUMED, {"from": status})
        if status == InstanceState.PAUSED:
            self._reset_paused_failures()
        if status in (InstanceState.PAUSED, InstanceState.FAILED, InstanceState.CANCELLED):
            self._reset_aborted()
        if status in (InstanceState.RUNNING, InstanceState.WAITING, InstanceState.PAUSED):
            # a failure that was being handled when the run stopped (a crash, a stop) still decides the outcome
            found = run.unhandled_failure()
            if found is not None:
                run.enter_failure(*found)
        self._recover_interrupted()
        self.pools.fail_unknown()

    def _recover_interrupted(self) -> None:
        """Tasks recorded as running when the runner died: rerun, fail or pause (SPEC 7.4)."""
        run = self.run
        for tid, ts in run.state["tasks"].items():
            if ts["status"] != TaskState.RUNNING:
                continue
            task = run.wf.tasks[tid]
            if task.foreach:
                self.fanouts.recover(task)  # the task goes on; only its unfinished items run again
                continue
            error = "the runner stopped while this attempt ran"
            if task.on_interrupt == "rerun":
                run.journal.record(EventType.TASK_RETRYING, {"task": tid, "attempt": ts["attempts"], "error": error,
                                                             "kind": "interrupted", "due": None})
                continue
            run.journal.record(EventType.TASK_FAILED, {"task": tid, "attempt": ts["attempts"], "error": error, "kind": "interrupted"})
            if task.on_interrupt == "pause":
                run.stop_requested = (f"task {tid} was interrupted and must not run twice: check it, "
                                      f"then 'workflow-cli resume {run.paths.id}' runs it again")
            elif task.on_failure in STOPPING_POLICIES and run.failure is None:
                run.enter_failure(tid, task.on_failure)

    def _pauses_on_failure(self, task: Task) -> bool:
        return task.on_failure == "pause" or (task.on_failure == "fail" and self.run.wf.on_failure == "pause")

    def _reset_paused_failures(self) -> None:
        """Resuming a paused run: the failures that paused it (a person has looked at them) run again."""
        run = self.run
        for tid, ts in run.state["tasks"].items():
            if ts["status"] != TaskState.FAILED:
                continue
            task = run.wf.tasks[tid]
            interrupted = ts.get("error_kind") == "interrupted" and task.on_interrupt == "pause"
            if interrupted or self._pauses_on_failure(task):
                run.journal.record(EventType.TASK_RESET, {"task": tid, "reason": "resume"})

    def _reset_aborted(self) -> None:
        """Tasks skipped only because an earlier failure stopped new starts get their chance again."""
        run = self.run
        for tid, ts in run.state["tasks"].items():
            if ts["status"] == TaskState.SKIPPED and ts.get("error_kind") == "aborted":
                run.journal.record(EventType.TASK_RESET, {"task": tid, "reason": "resume"})
