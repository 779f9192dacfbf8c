"""Event hooks (SPEC 9): ``hooks: {"task.failed": [{action: command, parameters: ...}], ...}``.

A hook runs an action (usually ``command`` or ``api_call``) with the event as its payload: JSON on a
command's stdin (unless the hook sets ``stdin``), the JSON body of an ``api_call`` (unless it sets
``json``/``body``), and ``event`` in its expressions. Hooks run one at a time on a background thread
once their event is durable, so a slow hook never holds the scheduler up; their output goes to
``logs/hooks.log``. A failing hook is logged and never fails the workflow.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

from workflow_cli.actions.base import ActionContext
from workflow_cli.engine.attempt import Redactor, TaskLog
from workflow_cli.engine.context import RunContext
from workflow_cli.store.instances import InstancePaths

HOOK_TIMEOUT_SECONDS = 60.0


class HookRunner:
    """Runs the hooks of one workflow for the events of one runner session."""

    def __init__(self, hooks: Mapping[str, Any], paths: InstancePaths, redact: Redactor, scope: Mapping[str, Any],
                 services: Mapping[str, Any], config: Mapping[str, Any]) -> None:
        self.hooks = {name: list(actions or []) for name, actions in hooks.items()}
        self.paths = paths
        self.redact = redact
        self.scope = scope
        self.services = services
        self.config = config
        self.pool: ThreadPoolExecutor | None = None
        self.lock = threading.Lock()

    def __call__(self, event: Mapping[str, Any]) -> None:
        """Queue the hooks of a durable event."""
        actions = self.hooks.get(event.get("type", ""))
        if not actions:
            return
        if self.pool is None:
            self.pool = ThreadPoolExecutor(1, thread_name_prefix="wf-hook")
        for index, spec in enumerate(actions):
            self.pool.submit(self._run, dict(event), index, spec)

    def _run(self, event: dict[str, Any], index: int, spec: Mapping[str, Any]) -> None:
        from workflow_cli.actions import registry
        from workflow_cli.engine.attempt import run_guarded
        from workflow_cli.model.document import default_action
        from workflow_cli.templates.render import render_value

        name = f"{event['type']}[{index}]"
        log = TaskLog(self.paths.logs / "hooks.log", f"=== hook {name} for event {event.get('seq')} ===\n", self.redact)
        try:
            action_name = default_action(spec)
            action = registry().get(action_name)
            scope = {**self.scope, "event": event}
            params = {k: render_value(v, scope, shell=k in getattr(action, "shell_fields", ()) and isinstance(v, str))
                      for k, v in (spec.get("parameters") or {}).items()}
            if action_name == "command" and "stdin" not in params:
                params["stdin"] = event
            if action_name == "api_call" and "json" not in params and "body" not in params:
                params["json"] = event
            ctx = ActionContext(instance_id=self.paths.id, task_id=f"hook:{event['type']}", attempt=1, parameters=params,
                                workspace=self.paths.workspace, log=log, timeout=float(spec.get("timeout_seconds") or HOOK_TIMEOUT_SECONDS),
                                config=self.config, services={**self.services, "scope": scope})
            result = run_guarded(action, ctx)
            log(f"hook {name}: {'ok' if result.ok else 'failed: ' + str(result.error)}")
        except Exception as exc:  # noqa: BLE001 - a failing hook never fails the workflow
            log(f"hook {name} failed: {type(exc).__name__}: {exc}")
        finally:
            log.close()

    def close(self) -> None:
        """Wait for queued hooks (each is bounded by its timeout)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None


def attach_hooks(run: RunContext) -> HookRunner:
    """Hooks run for each durable event, after any ``--events`` subscriber (SPEC 9)."""
    hooks = HookRunner(run.wf.hooks, run.paths, run.redact, run.scope(),
                       {"home": run.home, "clock": run.clock, "paths": run.paths, "workflow": run.wf,
                        "base_dir": run.state.get("base_dir"), "link_child": run.link_child}, run.config)
    user_sink = run.options.sink

    def sink(event: dict[str, Any]) -> None:
        if user_sink is not None:
            user_sink(event)
        hooks(event)

    run.journal.sink = sink
    return hooks
