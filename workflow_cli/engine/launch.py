"""Launching one attempt: of a task, of a loop iteration or of a foreach item.

:meth:`LaunchMixin._launch` is the one path every attempt takes: resolve the action, check a
foreach item's own conditions, render the parameters, look in the result cache, take a pool slot,
record the start, then run the action inline (``noop``) or hand it to the executor. A task that may
run twice (``on_interrupt: rerun``) is launched once its start is written to the event log; the
fsync follows with the next group commit (:mod:`workflow_cli.engine.journal`). An in-process attempt
(a ``python`` call without ``isolated``) dies with the runner, so its start is not written ahead: it
goes out with the next write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from workflow_cli.actions.base import ActionResult
from workflow_cli.engine.spec import AttemptSpec, run_attempt
from workflow_cli.model.states import EventType
from workflow_cli.templates.markers import has_markup
from workflow_cli.engine.pools import PoolUnavailable
from workflow_cli.model.document import Task

if TYPE_CHECKING:
    from workflow_cli.engine.runner import Runner


@dataclass
class _Live:
    """An attempt in flight (of a task, a loop iteration or a foreach item)."""

    task: Task
    attempt: int
    key: str | None  # the executor's unit (task id or ``T[3]``) while the attempt runs there; None otherwise
    cancel_reason: str | None = None
    index: int | None = None  # the foreach item
    digest: str | None = None  # the cache entry its result is stored under
    cached: bool = False  # the result came from the cache


class LaunchMixin:
    """Methods of :class:`Runner` that start attempts."""

    def _render(self: Runner, task: Task, action: Any, scope: Mapping[str, Any] | None) -> dict[str, Any]:
        """The task's parameters rendered in ``scope`` (rendering skipped when nothing is a template)."""
        if not task.parameters or not has_markup(task.parameters):
            return dict(task.parameters)
        from workflow_cli.templates.render import render_value

        scope = scope if scope is not None else self._scope(task)
        shell_fields = getattr(action, "shell_fields", ())
        out = {}
        for key, value in task.parameters.items():
            out[key] = render_value(value, scope, shell=key in shell_fields and isinstance(value, str))
        return out

    def _start(self: Runner, tid: str) -> bool:
        """Start what the scheduler chose; True when it finished at once (the scheduler may go on)."""
        task = self.wf.tasks[tid]
        attempt = self.state["tasks"][tid]["attempts"] + 1
        if task.foreach:
            return self._start_foreach(task, attempt)
        if task.loop:
            extra, started = self._loop_start(task)
            return self._launch(task, tid, attempt, extra=extra, started=started)
        return self._launch(task, tid, attempt)

    def _launch(self: Runner, task: Task, key: str, attempt: int, *, index: int | None = None,
                extra: Mapping[str, Any] | None = None, started: Mapping[str, Any] | None = None) -> bool:
        """Run one attempt of a task (``key`` = its id) or of a foreach item (``key`` = ``T[index]``).

        Returns True when it ended at once (inline action, cache hit, failure before running) and False
        when it runs in the executor or waits for a pool slot.
        """
        try:
            action = self.registry.get(task.action)
        except KeyError:
            return self._fail_now(task, attempt, f"action '{task.action}' is not available (is its plugin installed?)", "error",
                                  key=key, index=index)
        scope = self._scope(task, extra) if extra or task.cache is not None else None
        if index is not None and self._item_conditions(task):
            ok, reason = self._evaluate_conditions(self._item_conditions(task), scope if scope is not None else self._scope(task))
            if not ok:
                return self._skip_item(task, index, reason or "condition is false")
        try:
            parameters = self._render(task, action, scope)
        except Exception as exc:  # noqa: BLE001 - rendering errors fail the task with their message
            return self._fail_now(task, attempt, f"cannot render parameters: {exc}", "error", key=key, index=index)
        digest = None
        if task.cache is not None and (started is None or started.get("iteration", 1) == 1):
            try:
                digest, hit = self._cache_lookup(task, action, scope, parameters)
            except Exception as exc:  # noqa: BLE001 - a bad cache key fails the task with its message
                return self._fail_now(task, attempt, f"cache.key: {exc}", "error", key=key, index=index)
            if hit is not None:
                return self._cache_hit(task, key, attempt, index, hit)
            if task.loop:
                started = {**(started or {}), "cache_key": digest}
        slot = None
        if task.pool is not None:
            try:
                slot = self._take_slot(task, key, index)
            except PoolUnavailable as exc:
                return self._fail_now(task, attempt, str(exc), "config", key=key, index=index)
            if slot is None:
                return False  # tried again shortly (a task is postponed by the scheduler, an item by its fanout)
        event = self._record_start(task, attempt, index, started)
        spec = self._spec(task, key, attempt, parameters, action, event["time"], index, started)
        services = self._services(task, scope)
        if getattr(action, "inline", False):
            self.live[key] = _Live(task, attempt, None, index=index, digest=digest)
            try:
                result = run_attempt(spec, action, services=services)
            finally:
                if slot is not None:
                    slot.release()
            self._on_result((key, attempt), result)
            return True
        self.live[key] = _Live(task, attempt, key, index=index, digest=digest)
        if task.on_interrupt != "rerun" or self.commit_interval <= 0:
            self.journal.flush()  # a task that must not run twice: its start is durable before it begins
        else:
            in_process = getattr(action, "in_process", None)
            if in_process is None or not in_process(parameters):
                # a process may outlive a killed runner: its start is written first (fsynced with the group commit)
                self.journal.write()
            # else the attempt runs in this process and dies with it: its start goes out with the next write
        if slot is not None:
            self._slots[(key, attempt)] = slot  # given back as soon as the result arrives (_result_on_worker)
        self.executor.submit(spec, key=(key, attempt), services=services)
        return False

    def _spec(self: Runner, task: Task, key: str, attempt: int, parameters: dict[str, Any], action: Any, started_at: str,
              index: int | None, started: Mapping[str, Any] | None) -> AttemptSpec:
        """The attempt as data: rendered parameters, environment changes, log and output files, timeout, secrets."""
        name = key if index is not None else task.id
        note = f" (iteration {started['iteration']})" if started and "iteration" in started else ""
        env_param = parameters.get("env")
        env = {str(k): str(v) for k, v in env_param.items()} if isinstance(env_param, Mapping) else {}
        extra_env = self._unit_env(task, key, index, started)
        if extra_env:
            env = {**extra_env, **env}
        paths = self.paths
        # outputs/ exists from create; attempt numbers never repeat, and each file is removed after its attempt
        output_file = f"{paths.outputs}/{name}.{attempt}" if getattr(action, "uses_output_file", False) else None
        return AttemptSpec(instance_id=paths.id, task_id=task.id, action=task.action, attempt=attempt, parameters=parameters,
                           env=env, workspace=str(paths.workspace), timeout=task.timeout_seconds,
                           idempotency_key=f"{paths.id}:{key}", log_path=f"{paths.logs}/{name}.log",
                           log_header=f"=== {name} attempt {attempt}{note} started {started_at} ===\n", unit=name,
                           output_file=output_file, secrets=self._secret_values, home=str(self.home.root), config=self.config)

    def _record_start(self: Runner, task: Task, attempt: int, index: int | None, started: Mapping[str, Any] | None) -> dict[str, Any]:
        """Record ``item.started`` or ``task.started`` (with ``started``: iteration, cache key...)."""
        if index is not None:
            return self.journal.record(EventType.ITEM_STARTED, {"task": task.id, "index": index, "attempt": attempt})
        data = {"task": task.id, "attempt": attempt}
        if started:
            data.update(started)
        return self.journal.record(EventType.TASK_STARTED, data)

    def _unit_env(self: Runner, task: Task, key: str, index: int | None, started: Mapping[str, Any] | None) -> dict[str, str] | None:
        """Extra environment of a foreach item or a loop iteration."""
        if index is not None:
            return {"WORKFLOW_ITEM_INDEX": str(index), "WORKFLOW_IDEMPOTENCY_KEY": f"{self.paths.id}:{key}"}
        if started and "iteration" in started:
            return {"WORKFLOW_LOOP_ITERATION": str(started["iteration"])}
        return None

    def _fail_now(self: Runner, task: Task, attempt: int, error: str, kind: str, *, key: str | None = None,
                  index: int | None = None) -> bool:
        """Fail an attempt that could not even start (missing action, render error, unknown pool...)."""
        key = key or task.id
        self._record_start(task, attempt, index, None)
        self.live[key] = _Live(task, attempt, None, index=index)
        self._on_result((key, attempt), ActionResult.failure(error, kind=kind))
        return True

