"""``stop``, ``cancel``, ``rollback``: change an instance, through its live runner when there is one."""

from __future__ import annotations

from typing import Any

from workflow_cli.errors import ConflictError, NotFoundError
from workflow_cli.ops.query import instance_paths
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths, load_state
from workflow_cli.store.locks import InstanceLock

TERMINAL = ("completed", "failed", "cancelled")


def _journal(home: Home, paths: InstancePaths) -> Any:
    from workflow_cli.engine.clock import SystemClock
    from workflow_cli.engine.journal import Journal

    return Journal(paths, home.checkpoints / paths.id, load_state(paths), SystemClock())


def _hand_over_or_lock(paths: InstancePaths, kind: str, data: dict[str, Any]) -> InstanceLock | None:
    """Post a request to a live runner (returns None), or take the lock to apply it here."""
    from workflow_cli.store.requests import post_request

    lock = InstanceLock(paths.lock)
    if lock.acquire():
        return lock
    post_request(paths.root, kind, data)
    return None


def stop(home: Home, instance: str, *, force: bool = False) -> dict[str, Any]:
    """Pause: no new tasks start; running ones finish (``force``: terminated, re-run on resume)."""
    paths = instance_paths(home, instance)
    state = load_state(paths)
    if state["status"] in TERMINAL or state["status"] == "paused":
        raise ConflictError(f"instance {paths.id} is {state['status']}; there is nothing to stop")
    lock = _hand_over_or_lock(paths, "stop", {"force": force})
    if lock is None:
        return {"id": paths.id, "requested": "stop", "handed_to_runner": True, "force": force}
    try:
        journal = _journal(home, paths)
        for tid, ts in journal.state["tasks"].items():
            if ts["status"] == "running":  # a dead runner's attempt: it re-runs on resume
                journal.record("task.retrying", {"task": tid, "attempt": ts["attempts"], "error": "stopped", "kind": "stopped", "due": None})
        journal.record("workflow.paused", {"reason": "stopped by request"})
        journal.close()
        return {"id": paths.id, "requested": "stop", "handed_to_runner": False, "status": journal.state["status"]}
    finally:
        lock.release()


def cancel(home: Home, instance: str) -> dict[str, Any]:
    """Terminate running tasks; the instance ends ``cancelled`` (final)."""
    paths = instance_paths(home, instance)
    state = load_state(paths)
    if state["status"] in TERMINAL:
        raise ConflictError(f"instance {paths.id} is already {state['status']}")
    lock = _hand_over_or_lock(paths, "cancel", {})
    if lock is None:
        return {"id": paths.id, "requested": "cancel", "handed_to_runner": True}
    try:
        journal = _journal(home, paths)
        for tid, ts in journal.state["tasks"].items():
            if ts["status"] in ("pending", "running", "waiting"):
                journal.record("task.cancelled", {"task": tid, "kind": "cancelled", "error": "cancelled by request"})
        journal.record("workflow.cancelled", {"error": "cancelled by request"})
        journal.close()
        return {"id": paths.id, "requested": "cancel", "handed_to_runner": False, "status": "cancelled"}
    finally:
        lock.release()


def list_checkpoints(home: Home, instance: str) -> list[dict[str, Any]]:
    """The checkpoints of an instance, oldest first."""
    paths = instance_paths(home, instance)
    return [{"id": cp["id"], "created_at": cp["created_at"], "task": cp.get("task")} for cp in load_state(paths)["checkpoints"]]


def rollback(home: Home, instance: str, *, checkpoint: str | None = None) -> dict[str, Any]:
    """Undo the tasks completed after a checkpoint (default: the latest); the instance ends ``paused``."""
    from workflow_cli.engine.attempt import Redactor
    from workflow_cli.engine.rollback import run_rollback
    from workflow_cli.model.document import build_workflow
    from workflow_cli.ops.config import load_config
    from workflow_cli.store.instances import read_document, read_secrets

    paths = instance_paths(home, instance)
    lock = InstanceLock(paths.lock)
    if not lock.acquire():
        raise ConflictError(f"instance {paths.id} is running; stop it first ('workflow-cli stop {paths.id}')")
    try:
        journal = _journal(home, paths)
        state = journal.state
        cps = [cp["id"] for cp in state["checkpoints"]]
        if not state.get("rollback"):
            if checkpoint in (None, "latest"):
                if not cps:
                    raise NotFoundError(f"instance {paths.id} has no checkpoint; use --checkpoint start to undo every task")
                checkpoint = cps[-1]
            elif checkpoint == "start":
                checkpoint = None
            elif checkpoint not in cps:
                from workflow_cli.errors import did_you_mean

                raise NotFoundError(f"no checkpoint '{checkpoint}' in instance {paths.id} ({did_you_mean(checkpoint, cps) or 'see workflow-cli checkpoints ' + paths.id})")
        for tid, ts in state["tasks"].items():
            if ts["status"] == "running":
                journal.record("task.retrying", {"task": tid, "attempt": ts["attempts"], "error": "interrupted", "kind": "interrupted", "due": None})
        wf = build_workflow(read_document(paths))
        secrets = read_secrets(paths)
        scope = {"params": {**state.get("params", {}), **secrets}, "vars": state["vars"], "tasks": state["tasks"],
                 "instance": {"id": paths.id, "name": state.get("name"), "template": state.get("template")}, "env": {}}
        results = run_rollback(home, paths, journal, wf, checkpoint=checkpoint, scope=scope, redact=Redactor(secrets),
                               config=load_config(home), reason="rollback requested")
        journal.record("workflow.paused", {"reason": f"rolled back to {checkpoint or 'the start'}"})
        journal.close()
        return {"id": paths.id, "checkpoint": checkpoint, "compensated": results, "status": journal.state["status"]}
    finally:
        lock.release()
