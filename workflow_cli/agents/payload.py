"""The payload an agent is handed for one attempt (SPEC 6.3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow_cli.actions.base import ActionContext


def dependency_outputs(ctx: ActionContext) -> dict[str, Any]:
    """Outputs of the task's dependencies, from the run's scope (a dependency without outputs gives {})."""
    task = ctx.task
    tasks = (ctx.services.get("scope") or {}).get("tasks") or {}
    result: dict[str, Any] = {}
    for dep in getattr(task, "dependencies", ()) or ():
        state = tasks.get(dep)
        outputs = state.get("outputs") if isinstance(state, Mapping) else None
        result[dep] = outputs if outputs is not None else {}
    return result


def build_payload(ctx: ActionContext) -> dict[str, Any]:
    """``{instance_id, task_id, name, description, parameters, dependencies, attempt, idempotency_key, workspace}``."""
    task = ctx.task
    return {
        "instance_id": ctx.instance_id,
        "task_id": ctx.task_id,
        "name": getattr(task, "name", "") or ctx.task_id,
        "description": getattr(task, "description", "") or "",
        "parameters": dict(ctx.parameters),
        "dependencies": dependency_outputs(ctx),
        "attempt": ctx.attempt,
        "idempotency_key": f"{ctx.instance_id}:{ctx.task_id}",
        "workspace": str(ctx.workspace),
    }
