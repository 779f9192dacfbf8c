"""The runner's side of concurrency pools (SPEC 3 ``pool``, 6.5): a slot per attempt, across runners.

A task (or foreach item) with ``pool: NAME`` takes a slot (:func:`workflow_cli.store.pools.try_acquire`)
just before it is launched and gives it back when its attempt ends. When every slot is held it stays
pending and is tried again after :data:`POOL_RETRY_SECONDS` (the scheduler's timer, no busy loop); a
``task.pool_wait`` event is recorded once per wait, so ``status`` shows what waits for which pool. A
pool the home's ``config.yaml`` does not define fails the task when the run starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workflow_cli.model.document import Task
from workflow_cli.model.states import EventType, TaskState

if TYPE_CHECKING:
    from workflow_cli.engine.runner import Runner

POOL_RETRY_SECONDS = 0.15


class PoolUnavailable(Exception):
    """A task names a pool the home does not define."""


class PoolMixin:
    """Methods of :class:`Runner` that take and give back pool slots."""

    pool_waits: set[str]

    def _pool_retry_seconds(self: Runner) -> float:
        """How long a task or item waits before it tries a full pool again."""
        return POOL_RETRY_SECONDS

    def _pool_problem(self: Runner, name: str) -> str | None:
        """Why pool ``name`` cannot be used with this home's configuration (None: it can)."""
        from workflow_cli.store.pools import pool_problem

        return pool_problem(name, self.config.get("pools") or {}, self.home.config_file)

    def _fail_unknown_pools(self: Runner) -> None:
        """At run start: a pending task whose pool is not configured fails now, not after its upstream ran."""
        from workflow_cli.engine.runner import STOPPING_POLICIES

        problems: dict[str, str | None] = {}
        for tid, task in self.wf.tasks.items():
            if task.pool is None or self.state["tasks"][tid]["status"] != TaskState.PENDING:
                continue
            if task.pool not in problems:
                problems[task.pool] = self._pool_problem(task.pool)
            if problems[task.pool]:
                data = {"task": tid, "attempt": self.state["tasks"][tid]["attempts"], "error": problems[task.pool], "kind": "config"}
                self.journal.record(EventType.TASK_FAILED, data)
                if task.on_failure in STOPPING_POLICIES and self.failure is None:
                    self._enter_failure(tid, task.on_failure)

    def _take_slot(self: Runner, task: Task, key: str, index: int | None) -> Any:
        """A held slot, or None (a wait is recorded); raises PoolUnavailable for an unknown pool."""
        from workflow_cli.store.pools import try_acquire

        name = str(task.pool)
        problem = self._pool_problem(name)
        if problem:
            raise PoolUnavailable(problem)
        slot = try_acquire(self.home.root, name, int((self.config.get("pools") or {})[name]))
        if slot is not None:
            self.pool_waits.discard(key)
            return slot
        if key not in self.pool_waits:
            self.pool_waits.add(key)
            data: dict[str, Any] = {"task": task.id, "pool": name}
            if index is not None:
                data["index"] = index
            self.journal.record(EventType.TASK_POOL_WAIT, data)
        if index is None:
            self.scheduler.postpone(task.id, self.clock.time() + POOL_RETRY_SECONDS)
        return None
