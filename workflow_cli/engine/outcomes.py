"""How a task's attempt ends (SPEC 6.2, 6.3): complete, wait, retry, or fail with its ``on_failure`` policy.

Every path that finishes a task goes through :class:`Outcomes`: a result from the executor, an inline
action, a cache hit, a waiting task that moved on, a foreach task whose items are done.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow_cli.actions.base import ActionResult
from workflow_cli.clock import utc_iso
from workflow_cli.engine.cache import ResultCache
from workflow_cli.engine.context import STOPPING_POLICIES, Live, RunContext
from workflow_cli.engine.loop import Loops
from workflow_cli.model.document import Task
from workflow_cli.model.states import EventType, TaskState
from workflow_cli.store.state import next_checkpoint_id


# the members recorded per task, as module names (an enum attribute lookup costs ~0.2 µs on Python 3.11)
_COMPLETED, _TASK_COMPLETED, _CHECKPOINT = TaskState.COMPLETED, EventType.TASK_COMPLETED, EventType.CHECKPOINT_CREATED


class Outcomes:
    """Records how attempts of tasks end and tells the scheduler."""

    def __init__(self, run: RunContext, cache: ResultCache, loops: Loops) -> None:
        self.run = run
        self.cache = cache
        self.loops = loops

    def task_result(self, live: Live, result: ActionResult) -> None:
        """An attempt of a task (not a foreach item) ended: complete, wait, retry or fail it."""
        task, attempt, run = live.task, live.attempt, self.run
        if live.cancel_reason and not result.ok:
            result = ActionResult.failure(result.error or live.cancel_reason, kind="cancelled", exit_code=result.exit_code)
        if result.ok and result.waiting is None:
            signals = run.state.get("signals") or {}
            if task.action == "wait" and isinstance(result.outputs, Mapping) and result.outputs.get("signal") in signals:
                run.journal.record(EventType.SIGNAL_CONSUMED, {"name": result.outputs["signal"], "task": task.id})
            self.complete(task, attempt, result, live)
        elif result.ok:
            self.start_waiting(task.id, attempt, result.waiting or {})
        else:
            self.failed(task, attempt, result, live.cancel_reason)

    def complete(self, task: Task, attempt: int, result: ActionResult, live: Live | None = None,
                 extra: Mapping[str, Any] | None = None) -> None:
        """Record a success (or the next loop iteration): outputs, cache entry, set_vars, checkpoint, dependents."""
        run = self.run
        cached = live is not None and live.cached
        if task.loop and not cached:
            verdict = self.loops.after_success(task, attempt, result)
            if isinstance(verdict, dict):
                self.final_failure(task, verdict)
                return
            if verdict:
                return
        outputs = run.redact.value(result.outputs if result.outputs is not None else {})
        data = {"task": task.id, "attempt": attempt, "outputs": outputs}
        if cached:
            data["cached"] = True
        if result.usage:
            data.update(result.usage)
        if extra:
            data.update(extra)
        run.journal.record(_TASK_COMPLETED, data)
        if task.cache is not None and not cached and not task.foreach:
            self.cache.store(task, (live.digest if live is not None else None) or run.state["tasks"][task.id].get("cache_key"), outputs)
        self._set_vars(task)
        if task.checkpoint:
            run.journal.record(_CHECKPOINT, {"id": next_checkpoint_id(run.state), "task": task.id,
                                                              "completed": len(run.state["completion_order"]),
                                                              "vars": dict(run.state["vars"])})  # a copy: later set_vars must not change it
        run.sched.finished(task.id, _COMPLETED)

    def _set_vars(self, task: Task) -> None:
        if not task.set_vars:
            return
        from workflow_cli.templates.render import evaluate

        run = self.run
        scope = run.scope(task)
        values = {}
        for name, expr in task.set_vars.items():
            try:
                values[name] = evaluate(expr, scope)
            except Exception as exc:  # noqa: BLE001 - reported, not fatal
                values[name] = None
                run.journal.record(EventType.TASK_WARNING, {"task": task.id, "error": f"set_vars.{name}: {exc}"})
        run.journal.record(EventType.VARS_SET, {"task": task.id, "vars": values})

    def failed(self, task: Task, attempt: int, result: ActionResult, cancel_reason: str | None) -> None:
        """A failed attempt: retried per the task's policy, else a final failure."""
        run = self.run
        data = {"task": task.id, "attempt": attempt, "error": run.redact(result.error or "failed"), "kind": result.kind,
                "exit_code": result.exit_code}
        if result.usage:
            data.update(result.usage)
        if result.outputs:  # what a failed attempt still tells (a rejected gate's decision, a child's outputs)
            data["outputs"] = run.redact.value(result.outputs)
        if cancel_reason == "stop":
            data.update(kind="stopped", due=None)
            run.journal.record(EventType.TASK_RETRYING, data)
            run.sched.reset(task.id)
            return
        retry = task.retry
        # attempts before a retry/resume reset do not count: it gets its policy's attempts again (SPEC 8)
        tries = self.loops.tries(task, attempt) if task.loop else attempt - int(run.state["tasks"][task.id].get("retry_base") or 0)
        if not cancel_reason and tries < retry.max_attempts and retry.allows(result.kind, result.exit_code):
            delay = retry.delay_before(tries + 1, run.rng.random())
            due = run.clock.time() + delay
            data.update(due=utc_iso(due), delay_seconds=round(delay, 3))
            run.journal.record(EventType.TASK_RETRYING, data)
            run.sched.reset(task.id, retry=True)
            if delay > 0:
                run.sched.delay(task.id, due)
            return
        self.final_failure(task, data, TaskState.CANCELLED if result.kind == "cancelled" else TaskState.FAILED)

    def final_failure(self, task: Task, data: Mapping[str, Any], status: TaskState = TaskState.FAILED) -> None:
        """The task ends failed (or cancelled); its ``on_failure`` decides what the workflow does."""
        run = self.run
        run.journal.record(EventType.TASK_CANCELLED if status == TaskState.CANCELLED else EventType.TASK_FAILED, data)
        run.sched.finished(task.id, status)
        if status == TaskState.FAILED and task.on_failure in STOPPING_POLICIES and run.failure is None:
            run.enter_failure(task.id, task.on_failure)

    def start_waiting(self, tid: str, attempt: int, waiting: Mapping[str, Any]) -> None:
        """Record that a task waits (and, for an approval gate, that a decision is required)."""
        run = self.run
        run.journal.record(EventType.TASK_WAITING, {"task": tid, "attempt": attempt, "waiting": dict(waiting)})
        if waiting.get("kind") == "approval":
            run.journal.record(EventType.APPROVAL_REQUIRED, {"task": tid, "approvers": waiting.get("approvers"),
                                                             "message": waiting.get("message"), "timeout_at": waiting.get("timeout_at"),
                                                             "escalated": waiting.get("escalated", False)})
        run.waiting[tid] = dict(waiting)
        run.sched.set_running(tid, TaskState.WAITING)
