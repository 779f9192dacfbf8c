"""Compensation (SPEC 7.3 and the ``rollback`` saga of 6.2): undo completed tasks in reverse order.

Every task not completed at the checkpoint (completed later, failed, skipped, cancelled) then returns
to ``pending`` with its outputs, errors and attempts removed (``task.reset`` with ``clear``), and the
variables return to their value at the checkpoint.

The plan is logged first (``rollback.started`` with the task list); each undone task is logged
(``rollback.task``) after its compensation ran; ``rollback.completed`` ends it. A rollback cut short
by a crash is finished by running it again: the tasks already logged are not compensated twice.
"""

from __future__ import annotations

from typing import Any, Mapping

from workflow_cli.actions.base import ActionResult
from workflow_cli.engine.attempt import Redactor, build_context, run_guarded
from workflow_cli.engine.journal import Journal
from workflow_cli.errors import NotFoundError
from workflow_cli.model.document import Workflow, build_task
from workflow_cli.model.states import EventType
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths


def checkpoint_record(paths: InstancePaths, checkpoint: str) -> dict[str, Any]:
    """What the ``checkpoint.created`` event of ``checkpoint`` recorded (``completed``, ``vars``...).

    Read from the event log, the source of truth, when a rollback needs it (not on the hot path).
    """
    from workflow_cli.store.events import iter_events

    record: dict[str, Any] | None = None
    for event in iter_events(paths.events):
        if event["type"] == EventType.CHECKPOINT_CREATED and (event.get("data") or {}).get("id") == checkpoint:
            record = dict(event["data"])  # the last one wins: after a rollback an id may be logged again
    if record is None:
        raise NotFoundError(f"checkpoint '{checkpoint}' is not in the event log of instance {paths.id}")
    return record


def plan_rollback(state: Mapping[str, Any], record: Mapping[str, Any] | None) -> list[str]:
    """Tasks completed after the checkpoint ``record`` (None: every completed task), newest first."""
    order = list(state["completion_order"])
    if record is not None:
        order = order[int(record.get("completed") or 0):]
    return list(reversed(order))


def completed_at(state: Mapping[str, Any], record: Mapping[str, Any] | None) -> set[str]:
    """Tasks that were completed when the checkpoint ``record`` was written (None: the start, none)."""
    count = int(record.get("completed") or 0) if record is not None else 0
    return set(state["completion_order"][:count])


def _pristine(ts: Mapping[str, Any]) -> bool:
    """A task that never ran: pending, no attempt, no outputs, no error."""
    return ts["status"] == "pending" and not ts.get("attempts") and not ts.get("outputs") and not ts.get("error") \
        and not ts.get("history")


def tasks_to_reset(state: Mapping[str, Any], record: Mapping[str, Any] | None) -> list[str]:
    """Every task not completed at the checkpoint that has moved since (completed, failed, skipped...): SPEC 7.3."""
    kept = completed_at(state, record)
    return [tid for tid, ts in state["tasks"].items() if tid not in kept and not _pristine(ts)]


def checkpoint_vars(record: Mapping[str, Any] | None, wf: Workflow) -> dict[str, Any]:
    """The variables as they were at the checkpoint (None: the document's initial ones)."""
    return dict(record.get("vars") or {}) if record is not None else dict(wf.variables)


def changes_nothing(paths: InstancePaths, state: Mapping[str, Any], wf: Workflow, checkpoint: str | None) -> bool:
    """True when nothing happened after the checkpoint: a rollback to it would change nothing."""
    if state.get("rollback"):
        return False  # an interrupted rollback is finished by running it again
    record = checkpoint_record(paths, checkpoint) if checkpoint else None
    return not plan_rollback(state, record) and not tasks_to_reset(state, record) \
        and dict(state["vars"]) == checkpoint_vars(record, wf)


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
    services = {"clock": journal.clock, "home": home, "workflow": wf, "base_dir": journal.state.get("base_dir")}
    ctx = build_context(task=spec, attempt=0, parameters=params, paths=paths, home=home.root, redact=redact,
                        started_at=journal.clock.now_iso(), config=config, services=services)
    ctx.log(f"--- compensating {task_id} ---")
    ctx.env = {**ctx.env, "WORKFLOW_COMPENSATING": "1"}
    return run_guarded(action, ctx)


def run_rollback(home: Home, paths: InstancePaths, journal: Journal, wf: Workflow, *, checkpoint: str | None,
                 scope: Mapping[str, Any], redact: Redactor, config: Mapping[str, Any], reason: str) -> list[dict[str, Any]]:
    """Undo tasks (continuing an interrupted rollback if one is open); returns what each compensation did."""
    state = journal.state
    open_rb = state.get("rollback")
    if open_rb:
        checkpoint = open_rb.get("checkpoint")
    record = checkpoint_record(paths, checkpoint) if checkpoint else None
    if open_rb:
        tasks = open_rb["tasks"]
        done = set(open_rb["done"])
    else:
        tasks = plan_rollback(state, record)
        journal.record(EventType.ROLLBACK_STARTED, {"checkpoint": checkpoint, "tasks": tasks, "reason": reason})
        journal.flush()
        done = set()
    results = []
    for tid in tasks:
        if tid in done:
            continue
        result = compensate(home, paths, journal, wf, tid, scope, redact, config)
        entry = {"task": tid, "ok": result.ok, "error": result.error}
        journal.record("rollback.task", entry)
        journal.record("task.reset", {"task": tid, "reason": "rollback", "clear": True})
        journal.flush()
        results.append(entry)
    # the others that moved after the checkpoint (failed, skipped, cancelled...) start afresh too
    for tid in tasks_to_reset(journal.state, record):
        journal.record("task.reset", {"task": tid, "reason": "rollback", "clear": True})
    final_vars = checkpoint_vars(record, wf)
    journal.record("rollback.completed", {"checkpoint": checkpoint, "vars": final_vars, "tasks": tasks})
    journal.flush()
    return results
