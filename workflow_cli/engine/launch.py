"""Launching one attempt: of a task, of a loop iteration or of a foreach item.

:meth:`AttemptLauncher.launch` is the one path every attempt takes: resolve the action, check a
foreach item's own conditions, render the parameters, look in the result cache, take a pool slot,
record the start, freeze the attempt into an :class:`~workflow_cli.engine.spec.AttemptSpec`, then run
it inline (``noop``) or hand it to the executor. A task that may run twice (``on_interrupt: rerun``)
is launched once its start is written to the event log; the fsync follows with the next group commit
(:mod:`workflow_cli.engine.journal`). An in-process attempt (a ``python`` call without ``isolated``)
dies with the runner, so its start is not written ahead: it goes out with the next write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflow_cli.actions.base import ActionResult
from workflow_cli.engine.cache import ResultCache
from workflow_cli.engine.conditions import ItemConditions
from workflow_cli.engine.context import Live, RunContext
from workflow_cli.engine.pools import PoolSlots, PoolUnavailable
from workflow_cli.engine.spec import AttemptSpec, run_attempt
from workflow_cli.model.document import Task
from workflow_cli.model.states import EventType
from workflow_cli.templates.markers import has_markup


_TASK_STARTED, _ITEM_STARTED = EventType.TASK_STARTED, EventType.ITEM_STARTED  # module names: no enum lookup per attempt


@dataclass(frozen=True)
class Skipped:
    """A foreach item whose own conditions are false: it is skipped, not run."""

    reason: str


Launch = ActionResult | Skipped | None
"""What :meth:`AttemptLauncher.launch` did: ended at once (its result), skipped an item, or None (the
attempt runs in the executor, or waits for a pool slot)."""


class AttemptLauncher:
    """Starts attempts: everything between "the scheduler chose it" and "the executor runs it"."""

    def __init__(self, run: RunContext, registry: Any, cache: ResultCache, pools: PoolSlots, items: ItemConditions) -> None:
        self.run = run
        self.registry = registry
        self.cache = cache
        self.pools = pools
        self.items = items
        self.slots: dict[tuple[str, int], Any] = {}  # pool slots held by attempts in the executor
        paths = run.paths
        # what every spec of the run repeats, as strings once
        self._iid, self._workspace, self._home = paths.id, str(paths.workspace), str(run.home.root)
        self._logs, self._outputs = str(paths.logs), str(paths.outputs)

    def release_slot(self, key: tuple[str, int]) -> None:
        """The attempt is over: its pool slot (if it holds one) is free, before its result is even recorded."""
        slot = self.slots.pop(key, None)
        if slot is not None:
            slot.release()

    def _render(self, task: Task, action: Any, scope: Mapping[str, Any] | None) -> dict[str, Any]:
        """The task's parameters rendered in ``scope`` (rendering skipped when nothing is a template)."""
        if not task.parameters or not has_markup(task.parameters):
            return dict(task.parameters)
        from workflow_cli.templates.render import render_value

        scope = scope if scope is not None else self.run.scope(task)
        shell_fields = getattr(action, "shell_fields", ())
        return {key: render_value(value, scope, shell=key in shell_fields and isinstance(value, str))
                for key, value in task.parameters.items()}

    def launch(self, task: Task, key: str, attempt: int, *, index: int | None = None,
               extra: Mapping[str, Any] | None = None, started: Mapping[str, Any] | None = None) -> Launch:
        """Run one attempt of a task (``key`` = its id) or of a foreach item (``key`` = ``T[index]``)."""
        run = self.run
        try:
            action = self.registry.get(task.action)
        except KeyError:
            return self._fail_now(task, key, attempt, index, f"action '{task.action}' is not available (is its plugin installed?)", "error")
        scope = run.scope(task, extra) if extra or task.cache is not None else None
        conditions = self.items.per_item(task) if index is not None else ()
        if conditions:
            ok, reason = run.evaluate_conditions(conditions, scope if scope is not None else run.scope(task))
            if not ok:
                return Skipped(reason or "condition is false")
        try:
            parameters = self._render(task, action, scope)
        except Exception as exc:  # noqa: BLE001 - rendering errors fail the task with their message
            return self._fail_now(task, key, attempt, index, f"cannot render parameters: {exc}", "error")
        digest = None
        if task.cache is not None and (started is None or started.get("iteration", 1) == 1):
            try:
                digest, hit = self.cache.lookup(task, scope, parameters)
            except Exception as exc:  # noqa: BLE001 - a bad cache key fails the task with its message
                return self._fail_now(task, key, attempt, index, f"cache.key: {exc}", "error")
            if hit is not None:
                self.record_start(task, attempt, index, None if index is not None else {"cached": True})
                run.live[key] = Live(task, attempt, None, index=index, cached=True)
                return ActionResult.success(hit.get("outputs"))
            if task.loop:
                started = {**(started or {}), "cache_key": digest}
        slot = None
        if task.pool is not None:
            try:
                slot = self.pools.take(task, key, index)
            except PoolUnavailable as exc:
                return self._fail_now(task, key, attempt, index, str(exc), "config")
            if slot is None:
                return None  # tried again shortly (a task is postponed by the scheduler, an item by its fanout)
        event = self.record_start(task, attempt, index, started)
        spec = self._spec(task, key, attempt, parameters, action, event["time"], index, started)
        services = run.services(task, scope)
        if getattr(action, "inline", False):
            run.live[key] = Live(task, attempt, None, index=index, digest=digest)
            try:
                return run_attempt(spec, action, services=services)
            finally:
                if slot is not None:
                    slot.release()
        run.live[key] = Live(task, attempt, key, index=index, digest=digest)
        self._write_ahead(task, action, parameters)
        if slot is not None:
            self.slots[(key, attempt)] = slot
        assert run.executor is not None
        run.executor.submit(spec, key=(key, attempt), services=services)
        return None

    def _write_ahead(self, task: Task, action: Any, parameters: Mapping[str, Any]) -> None:
        """Make the start durable (or written) before an attempt that could outlive the runner begins."""
        journal = self.run.journal
        if task.on_interrupt != "rerun" or self.run.commit_interval <= 0:
            journal.flush()  # a task that must not run twice: its start is durable before it begins
            return
        in_process = getattr(action, "in_process", None)
        if in_process is None or not in_process(parameters):
            # a process may outlive a killed runner: its start is written first (fsynced with the group commit)
            journal.write()
        # else the attempt runs in this process and dies with it: its start goes out with the next write

    def _spec(self, task: Task, key: str, attempt: int, parameters: dict[str, Any], action: Any, started_at: str,
              index: int | None, started: Mapping[str, Any] | None) -> AttemptSpec:
        """The attempt as data: rendered parameters, environment changes, log and output files, timeout, secrets."""
        run, iid = self.run, self._iid
        name = key if index is not None else task.id
        note = f" (iteration {started['iteration']})" if started and "iteration" in started else ""
        env_param = parameters.get("env")
        env = {str(k): str(v) for k, v in env_param.items()} if isinstance(env_param, Mapping) else {}
        if index is not None:
            env = {"WORKFLOW_ITEM_INDEX": str(index), "WORKFLOW_IDEMPOTENCY_KEY": f"{iid}:{key}", **env}
        elif started and "iteration" in started:
            env = {"WORKFLOW_LOOP_ITERATION": str(started["iteration"]), **env}
        # outputs/ exists from create; attempt numbers never repeat, and each file is removed after its attempt
        output_file = f"{self._outputs}/{name}.{attempt}" if getattr(action, "uses_output_file", False) else None
        return AttemptSpec(instance_id=iid, task_id=task.id, action=task.action, attempt=attempt, parameters=parameters,
                           env=env, workspace=self._workspace, timeout=task.timeout_seconds,
                           idempotency_key=f"{iid}:{key}", log_path=f"{self._logs}/{name}.log",
                           log_header=f"=== {name} attempt {attempt}{note} started {started_at} ===\n", unit=name,
                           output_file=output_file, secrets=run.secret_values, home=self._home, config=run.config)

    def record_start(self, task: Task, attempt: int, index: int | None, started: Mapping[str, Any] | None) -> dict[str, Any]:
        """Record ``item.started`` or ``task.started`` (with ``started``: iteration, cache key...)."""
        journal = self.run.journal
        if index is not None:
            return journal.record(_ITEM_STARTED, {"task": task.id, "index": index, "attempt": attempt})
        data = {"task": task.id, "attempt": attempt}
        if started:
            data.update(started)
        return journal.record(_TASK_STARTED, data)

    def _fail_now(self, task: Task, key: str, attempt: int, index: int | None, error: str, kind: str) -> ActionResult:
        """Fail an attempt that could not even start (missing action, render error, unknown pool...)."""
        self.record_start(task, attempt, index, None)
        self.run.live[key] = Live(task, attempt, None, index=index)
        return ActionResult.failure(error, kind=kind)
