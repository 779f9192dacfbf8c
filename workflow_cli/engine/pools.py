"""The runner's side of concurrency pools (SPEC 3 ``pool``, 6.5): a slot per attempt, across runners.

A task (or foreach item) with ``pool: NAME`` takes a slot (:func:`workflow_cli.store.pools.try_acquire`)
just before it is launched and gives it back when its attempt ends. When every slot is held it stays
pending and is tried again after :data:`POOL_RETRY_SECONDS` (the scheduler's timer, no busy loop); a
``task.pool_wait`` event is recorded once per wait, so ``status`` shows what waits for which pool. A
pool the home's ``config.yaml`` does not define fails the task when the run starts.
"""

from __future__ import annotations

from typing import Any

from workflow_cli.engine.context import STOPPING_POLICIES, RunContext
from workflow_cli.model.document import Task
from workflow_cli.model.states import EventType, TaskState

POOL_RETRY_SECONDS = 0.15


class PoolUnavailable(Exception):
    """A task names a pool the home does not define."""


class PoolSlots:
    """Takes and gives back pool slots for the attempts of one run."""

    retry_seconds = POOL_RETRY_SECONDS

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self.waits: set[str] = set()  # what waits for a pool slot (task id or item key)

    def _problem(self, name: str) -> str | None:
        """Why pool ``name`` cannot be used with this home's configuration (None: it can)."""
        from workflow_cli.store.pools import pool_problem

        return pool_problem(name, self.run.config.get("pools") or {}, self.run.home.config_file)

    def fail_unknown(self) -> None:
        """At run start: a pending task whose pool is not configured fails now, not after its upstream ran."""
        run = self.run
        problems: dict[str, str | None] = {}
        for tid, task in run.wf.tasks.items():
            if task.pool is None or run.state["tasks"][tid]["status"] != TaskState.PENDING:
                continue
            if task.pool not in problems:
                problems[task.pool] = self._problem(task.pool)
            if problems[task.pool]:
                data = {"task": tid, "attempt": run.state["tasks"][tid]["attempts"], "error": problems[task.pool], "kind": "config"}
                run.journal.record(EventType.TASK_FAILED, data)
                if task.on_failure in STOPPING_POLICIES and run.failure is None:
                    run.enter_failure(tid, task.on_failure)

    def take(self, task: Task, key: str, index: int | None) -> Any:
        """A held slot, or None (a wait is recorded); raises PoolUnavailable for an unknown pool."""
        from workflow_cli.store.pools import try_acquire

        run = self.run
        name = str(task.pool)
        problem = self._problem(name)
        if problem:
            raise PoolUnavailable(problem)
        slot = try_acquire(run.home.root, name, int((run.config.get("pools") or {})[name]))
        if slot is not None:
            self.waits.discard(key)
            return slot
        if key not in self.waits:
            self.waits.add(key)
            data: dict[str, Any] = {"task": task.id, "pool": name}
            if index is not None:
                data["index"] = index
            run.journal.record(EventType.TASK_POOL_WAIT, data)
        if index is None:
            run.sched.postpone(task.id, run.clock.time() + POOL_RETRY_SECONDS)
        return None
