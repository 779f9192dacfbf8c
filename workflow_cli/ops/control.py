"""``stop``, ``cancel``, ``rollback``: change an instance, through its live runner when there is one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from workflow_cli.errors import ConflictError, NotFoundError
from workflow_cli.model.states import EventType
from workflow_cli.ops.query import instance_paths
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths, load_state
from workflow_cli.store.locks import InstanceLock, is_locked

TERMINAL = ("completed", "failed", "cancelled")
HANDOVER_WAIT = 5.0  # seconds a command waits for a live runner to take its request


def _journal(home: Home, paths: InstancePaths) -> Any:
    from workflow_cli.clock import SystemClock
    from workflow_cli.engine.journal import Journal

    return Journal(paths, home.checkpoints / paths.id, load_state(paths), SystemClock())


@contextmanager
def _applying(home: Home, paths: InstancePaths, lock: InstanceLock) -> Iterator[Any]:
    """Under the instance lock: a journal on the current state; the log is closed and the lock released after."""
    try:
        journal = _journal(home, paths)
        try:
            yield journal
            journal.close()
        finally:
            journal.log.close()
    finally:
        lock.release()


def _hand_over_or_lock(paths: InstancePaths, kind: str, data: dict[str, Any], *, wait: float = HANDOVER_WAIT) -> InstanceLock | None:
    """Post a request to a live runner (returns None once it took it), or take the lock to apply it here.

    A runner that is ending may never read a request posted in its last moments: when the lock is
    freed while the request is still unread, the request is withdrawn and applied here instead.
    """
    import time

    from workflow_cli.store.requests import post_request

    lock = InstanceLock(paths.lock)
    if lock.acquire():
        return lock
    request = post_request(paths.root, kind, data)
    deadline = time.monotonic() + wait
    while request.exists() and time.monotonic() < deadline:
        if lock.acquire():
            try:
                request.unlink()
            except FileNotFoundError:  # read by the runner just before it ended
                lock.release()
                return None
            return lock
        time.sleep(0.02)
    return None  # taken by the runner (or left for it when it is busy for long)


def _interrupted_attempts(journal: Any, wf: Any, error: str) -> None:
    """Attempts of a dead runner: those that may simply run again go back to pending now.

    The others (``on_interrupt: fail`` or ``pause``) stay ``running`` so that ``resume`` applies their policy.
    """
    for tid, ts in journal.state["tasks"].items():
        if ts["status"] == "running" and wf.tasks[tid].on_interrupt == "rerun":
            journal.record(EventType.TASK_RETRYING, {"task": tid, "attempt": ts["attempts"], "error": error, "kind": "interrupted", "due": None})


def stop(home: Home, instance: str, *, force: bool = False) -> dict[str, Any]:
    """Pause: no new tasks start; running ones finish (``force``: terminated, re-run on resume)."""
    paths = instance_paths(home, instance)
    state = load_state(paths)
    if state["status"] in TERMINAL or state["status"] == "paused":
        raise ConflictError(f"instance {paths.id} is {state['status']}; there is nothing to stop")
    lock = _hand_over_or_lock(paths, "stop", {"force": force})
    if lock is None:
        return {"id": paths.id, "requested": "stop", "handed_to_runner": True, "force": force}
    with _applying(home, paths, lock) as journal:
        status = journal.state["status"]
        if status in TERMINAL or status == "paused":  # it ended while the request was on its way
            raise ConflictError(f"instance {paths.id} is {status}; there is nothing to stop")
        _interrupted_attempts(journal, _workflow(paths), "stopped while its runner was gone")
        journal.record(EventType.WORKFLOW_PAUSED, {"reason": "stopped by request"})
    return {"id": paths.id, "requested": "stop", "handed_to_runner": False, "status": journal.state["status"]}


def cancel(home: Home, instance: str) -> dict[str, Any]:
    """Terminate running tasks; the instance ends ``cancelled`` (final)."""
    paths = instance_paths(home, instance)
    state = load_state(paths)
    if state["status"] in TERMINAL:
        raise ConflictError(f"instance {paths.id} is already {state['status']}")
    lock = _hand_over_or_lock(paths, "cancel", {})
    if lock is None:
        return {"id": paths.id, "requested": "cancel", "handed_to_runner": True}
    with _applying(home, paths, lock) as journal:
        if journal.state["status"] in TERMINAL:  # it ended while the request was on its way
            raise ConflictError(f"instance {paths.id} is already {journal.state['status']}")
        _record_cancel(journal, "cancelled by request")
    return {"id": paths.id, "requested": "cancel", "handed_to_runner": False, "status": "cancelled"}


def _record_cancel(journal: Any, error: str) -> None:
    """Cancel every unfinished task, then the instance, with ``error`` as the reason."""
    for tid, ts in journal.state["tasks"].items():
        if ts["status"] in ("pending", "running", "waiting"):
            journal.record(EventType.TASK_CANCELLED, {"task": tid, "kind": "cancelled", "error": error})
    journal.record(EventType.WORKFLOW_CANCELLED, {"error": error})


def cancel_unstarted(home: Home, instance: str, error: str) -> None:
    """A triggered or scheduled instance whose start failed ends ``cancelled``, its error naming why: it
    neither stays ``created`` for ever (a schedule's ``overlap: skip`` would wait on it) nor hides the
    problem (``list``, ``status`` and ``health`` show it)."""
    paths = instance_paths(home, instance)
    lock = InstanceLock(paths.lock)
    if not lock.acquire():
        return  # something runs it after all
    with _applying(home, paths, lock) as journal:
        if journal.state["status"] in ("created", "queued"):
            _record_cancel(journal, f"could not start: {error}")


def _workflow(paths: InstancePaths) -> Any:
    from workflow_cli.model.document import build_workflow
    from workflow_cli.store.instances import read_document

    return build_workflow(read_document(paths))


def list_checkpoints(home: Home, instance: str) -> list[dict[str, Any]]:
    """The checkpoints of an instance, oldest first."""
    paths = instance_paths(home, instance)
    return [{"id": cp["id"], "created_at": cp["created_at"], "task": cp.get("task")} for cp in load_state(paths)["checkpoints"]]


def rebuild_checkpoint_index(home: Home, instance: str) -> dict[str, Any]:
    """Rewrite ``checkpoints/<id>/checkpoints.jsonl`` from the event log's ``checkpoint.created`` events."""
    from workflow_cli.store.events import read_events
    from workflow_cli.store.integrity import write_index

    paths = instance_paths(home, instance)
    lock = InstanceLock(paths.lock)
    if not lock.acquire():
        raise ConflictError(f"instance {paths.id} is held by a live runner; rebuild its checkpoint index when it stops")
    try:
        entries = [{"id": e["data"]["id"], "seq": e["seq"], "created_at": e["time"], **e["data"]}
                   for e in read_events(paths.events) if e["type"] == "checkpoint.created"]
        paths.checkpoints.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_index(paths.checkpoint_index, entries)
    finally:
        lock.release()
    return {"id": paths.id, "index": str(paths.checkpoint_index), "checkpoints": len(entries)}


def rollback(home: Home, instance: str, *, checkpoint: str | None = None) -> dict[str, Any]:
    """Return to a checkpoint (default: the latest): compensate, reset what moved since; the instance ends ``paused``.

    A rollback that would change nothing says so (``changed: false``) and writes nothing.
    """
    from workflow_cli.engine.attempt import Redactor
    from workflow_cli.engine.rollback import run_rollback
    from workflow_cli.model.document import build_workflow
    from workflow_cli.store.config import load_config
    from workflow_cli.store.instances import read_document, read_secrets

    paths = instance_paths(home, instance)
    if is_locked(paths.lock):
        raise ConflictError(f"instance {paths.id} is running; stop it first ('workflow-cli stop {paths.id}')")
    unchanged = _unchanged_rollback(paths, checkpoint)
    if unchanged is not None:
        return unchanged  # nothing happened after the checkpoint: nothing is written (SPEC 7.3)
    lock = InstanceLock(paths.lock)
    if not lock.acquire():
        raise ConflictError(f"instance {paths.id} is running; stop it first ('workflow-cli stop {paths.id}')")
    with _applying(home, paths, lock) as journal:
        state = journal.state
        checkpoint = _pick_checkpoint(paths, state, checkpoint)
        wf = build_workflow(read_document(paths))
        secrets = read_secrets(paths)  # first: a key that cannot open them changes nothing
        redact = Redactor(secrets)
        journal.mask = redact.value if redact.values else None
        _interrupted_attempts(journal, wf, "interrupted: its runner was gone when the rollback ran")
        scope = {"params": {**state.get("params", {}), **secrets}, "vars": state["vars"], "tasks": state["tasks"],
                 "instance": {"id": paths.id, "name": state.get("name"), "template": state.get("template")}, "env": {}}
        results = run_rollback(home, paths, journal, wf, checkpoint=checkpoint, scope=scope, redact=redact,
                               config=load_config(home), reason="rollback requested")
        journal.record("workflow.paused", {"reason": f"rolled back to {checkpoint or 'the start'}"})
    return {"id": paths.id, "checkpoint": checkpoint, "compensated": results, "status": journal.state["status"], "changed": True}


def _unchanged_rollback(paths: InstancePaths, checkpoint: str | None) -> dict[str, Any] | None:
    """The result of a rollback that would change nothing (read without writing anything), else None."""
    from workflow_cli.engine.rollback import changes_nothing

    state = load_state(paths)
    chosen = _pick_checkpoint(paths, state, checkpoint)
    if not changes_nothing(paths, state, _workflow(paths), chosen):
        return None
    where = chosen or "the start"
    return {"id": paths.id, "checkpoint": chosen, "compensated": [], "status": state["status"], "changed": False,
            "message": f"nothing happened after {where}: nothing to roll back; instance {paths.id} stays {state['status']}"}


def _pick_checkpoint(paths: InstancePaths, state: dict[str, Any], checkpoint: str | None) -> str | None:
    """The checkpoint to return to (None: the start); an interrupted rollback keeps its own."""
    if state.get("rollback"):
        return state["rollback"].get("checkpoint")  # type: ignore[no-any-return]
    cps = [cp["id"] for cp in state["checkpoints"]]
    if checkpoint in (None, "latest"):
        if not cps:
            raise NotFoundError(f"instance {paths.id} has no checkpoint; use --checkpoint start to undo every task")
        return cps[-1]
    if checkpoint == "start":
        return None
    if checkpoint not in cps:
        from workflow_cli.errors import did_you_mean

        raise NotFoundError(f"no checkpoint '{checkpoint}' in instance {paths.id} "
                            f"({did_you_mean(checkpoint, cps) or 'see workflow-cli checkpoints ' + paths.id})")
    return checkpoint
