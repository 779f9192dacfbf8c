"""Compensation (SPEC 7.3 and the ``rollback`` saga of 6.2): undo completed tasks in reverse order.

The plan is logged first (``rollback.started`` with the task list); each undone task is logged
(``rollback.task``) after its compensation ran; ``rollback.completed`` ends it. A rollback cut short
by a crash is finished by running it again: the tasks already logged are not compensated twice.
"""

from __future__ import annotations

from typing import Any, Mapping

from workflow_cli.actions.base import ActionResult
from workflow_cli.engine.attempt import Redactor, build_context, run_guarded
from workflow_cli.engine.journal import Journal
from workflow_cli.model.document import Workflow, build_task
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths


def plan_rollback(state: Mapping[str, Any], checkpoint: str | None) -> tuple[list[str], dict[str, Any] | None]:
    """Tasks completed after ``checkpoint`` (None: every completed task), newest first, and its record."""
    order = list(state["completion_order"])
    record = None
    if checkpoint is not None:
        record = next(cp for cp in state["checkpoints"] if cp["id"] == checkpoint)
        cut = int(record.get("completed", 0))
        order = order[cut:]
    return list(reversed(order)), record


def compensate(home: Home, paths: InstancePaths, journal: Journal, wf: Workflow, task_id: str,
               scope: Mapping[str, Any], redact: Redactor, config: Mapping[str, Any]) -> ActionResult:
    """Run one task's ``compensate`` action (a task without one needs no undoing)."""
    from workflow_cli.actions import registry
    from workflow_cli.templates.render import render_value

    task = wf.tasks[task_id]
    if not task.compensate:
        return ActionResult.success()
    spec = build_task(f"{task_id}", task.index, task.compensate, {})
    action = registry().get(spec.action)
    params = {k: render_value(v, scope, shell=k in getattr(action, "shell_fields", ()) and isinstance(v, str))
              for k, v in spec.parameters.items()}
    ctx = build_context(task=spec, attempt=0, parameters=params, paths=paths, home=home.root, redact=redact,
                        started_at=journal.clock.now_iso(), config=config, services={"clock": journal.clock, "home": home})
    ctx.log(f"--- compensating {task_id} ---")
    ctx.env = {**ctx.env, "WORKFLOW_COMPENSATING": "1"}
    return run_guarded(action, ctx)


def run_rollback(home: Home, paths: InstancePaths, journal: Journal, wf: Workflow, *, checkpoint: str | None,
                 scope: Mapping[str, Any], redact: Redactor, config: Mapping[str, Any], reason: str) -> list[dict[str, Any]]:
    """Undo tasks (continuing an interrupted rollback if one is open); returns what each compensation did."""
    state = journal.state
    open_rb = state.get("rollback")
    if open_rb:
        tasks, checkpoint = open_rb["tasks"], open_rb.get("checkpoint")
        done = set(open_rb["done"])
    else:
        tasks, _ = plan_rollback(state, checkpoint)
        journal.record("rollback.started", {"checkpoint": checkpoint, "tasks": tasks, "reason": reason})
        journal.flush()
        done = set()
    record = next((cp for cp in state["checkpoints"] if cp["id"] == checkpoint), None) if checkpoint else None
    results = []
    for tid in tasks:
        if tid in done:
            continue
        result = compensate(home, paths, journal, wf, tid, scope, redact, config)
        entry = {"task": tid, "ok": result.ok, "error": result.error}
        journal.record("rollback.task", entry)
        journal.record("task.reset", {"task": tid, "reason": "rollback"})
        journal.flush()
        results.append(entry)
    final_vars = dict(record.get("vars") or {}) if record else dict(wf.variables)
    journal.record("rollback.completed", {"checkpoint": checkpoint, "vars": final_vars, "tasks": tasks})
    journal.flush()
    return results
