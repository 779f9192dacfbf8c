"""The run queue (SPEC 18.4): ``queued`` instances start by priority then age when a slot is free.

Active runs are instances ``running`` or ``waiting`` (as Airflow counts a DAG run whose sensors wait),
plus queued ones released to a runner that has not started yet. Caps: ``config.yaml``
``max_active_runs`` (home-wide) and a document's ``concurrency.max_active_runs`` (per template).
Releasing is recorded in the instance (``queue.released``) under a home lock, so ``serve`` and a
``tick`` from cron never start one instance twice or run past a cap.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable

from workflow_cli.errors import ConflictError, WorkflowError
from workflow_cli.ops.query import instance_paths, list_instances
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths, load_state, read_document
from workflow_cli.store.locks import InstanceLock, home_lock, is_locked

ACTIVE = ("running", "waiting")
# A queued instance released to a runner that has not taken it within this long is released again.
RELEASE_GRACE_SECONDS = 60.0
Starter = Callable[[Home, str], None]


def _record(home: Home, paths: InstancePaths, etype: str, data: dict[str, Any], *, allowed: tuple[str, ...]) -> dict[str, Any]:
    """Record one event under the instance lock when the instance is in one of ``allowed`` states."""
    from workflow_cli.clock import SystemClock
    from workflow_cli.engine.journal import Journal

    lock = InstanceLock(paths.lock)
    if not lock.acquire():
        raise ConflictError(f"instance {paths.id} is held by a live runner; it cannot be queued now")
    try:
        state = load_state(paths)
        if state["status"] not in allowed:
            raise ConflictError(f"instance {paths.id} is {state['status']}; only a {' or '.join(allowed)} instance can be queued")
        journal = Journal(paths, home.checkpoints / paths.id, state, SystemClock())
        try:
            journal.record(etype, data)
            journal.close()
        finally:
            journal.log.close()
        return journal.state
    finally:
        lock.release()


def caps(home: Home) -> int | None:
    """The home-wide ``max_active_runs`` (None: no cap)."""
    from workflow_cli.store.config import load_config

    return load_config(home).get("max_active_runs")


def template_cap(paths: InstancePaths) -> int | None:
    """The instance document's ``concurrency.max_active_runs``."""
    return ((read_document(paths).get("concurrency") or {}).get("max_active_runs"))


def needs_queue(home: Home, instance_id: str) -> bool:
    """Whether a triggered or scheduled run must go through the queue (a cap is set)."""
    return caps(home) is not None or template_cap(instance_paths(home, instance_id)) is not None


def enqueue(home: Home, instance: str) -> dict[str, Any]:
    """Put a created (or paused) instance in ``queued``; it starts when a slot is free."""
    paths = instance_paths(home, instance)
    doc = read_document(paths)
    data = {"priority": int(doc.get("priority") or 0), "max_active_runs": (doc.get("concurrency") or {}).get("max_active_runs")}
    state = _record(home, paths, "workflow.queued", data, allowed=("created", "paused"))
    from workflow_cli.monitor.summary import status_document

    return status_document(state)


def _order_key(state: dict[str, Any]) -> tuple[int, str, str]:
    queue = state.get("queue") or {}
    return (-int(queue.get("priority") or 0), str(queue.get("queued_at") or state.get("created_at") or ""), state["id"])


def queued_states(home: Home) -> list[dict[str, Any]]:
    """The states of the queued instances, in the order they will start."""
    states = []
    for row in list_instances(home, status="queued", problems=[]):
        try:
            states.append(load_state(instance_paths(home, row["id"])))
        except WorkflowError:
            continue  # removed or damaged meanwhile
    return sorted(states, key=_order_key)


def list_queue(home: Home) -> list[dict[str, Any]]:
    """``queue --json``: the queued instances in start order, with position, priority and queue time."""
    rows = []
    for position, state in enumerate(queued_states(home), start=1):
        queue = state.get("queue") or {}
        rows.append({"position": position, "id": state["id"], "name": state.get("name", ""), "template": state.get("template"),
                     "priority": queue.get("priority", 0), "queued_at": queue.get("queued_at"), "created_at": state.get("created_at"),
                     "max_active_runs": queue.get("max_active_runs"), "released_at": queue.get("released_at")})
    return rows


def _released_recently(state: dict[str, Any], now: float) -> bool:
    from workflow_cli.clock import parse_iso

    released = (state.get("queue") or {}).get("released_at")
    return bool(released) and now - parse_iso(str(released)) < RELEASE_GRACE_SECONDS


def _active(home: Home, queued: list[dict[str, Any]], now: float) -> tuple[int, dict[str, int]]:
    """How many runs are active, in total and per template."""
    templates: list[Any] = []
    for status in ACTIVE:
        templates += [row.get("template") for row in list_instances(home, status=status, problems=[])]
    templates += [s.get("template") for s in queued if _released_recently(s, now)]
    per: dict[str, int] = {}
    for name in templates:
        per[str(name)] = per.get(str(name), 0) + 1
    return len(templates), per


def dispatch(home: Home, start: Starter) -> list[str]:
    """Start every queued instance that fits under the caps, in queue order; returns their ids."""
    from workflow_cli.clock import SystemClock

    started: list[str] = []
    if not list_instances(home, status="queued", limit=1, problems=[]):
        return started  # the usual case: no home lock taken
    with home_lock(home.root):
        now = SystemClock().time()
        queued = queued_states(home)
        if not queued:
            return started
        cap = caps(home)
        total, per = _active(home, queued, now)
        for state in queued:
            if _released_recently(state, now) or (state.get("queue") or {}).get("released_at") and is_locked(instance_paths(home, state["id"]).lock):
                continue
            if cap is not None and total >= cap:
                break
            tcap, template = (state.get("queue") or {}).get("max_active_runs"), str(state.get("template"))
            if tcap is not None and per.get(template, 0) >= tcap:
                continue
            try:
                _record(home, instance_paths(home, state["id"]), "queue.released", {}, allowed=("queued",))
            except WorkflowError:
                continue
            start(home, state["id"])
            started.append(state["id"])
            total, per[template] = total + 1, per.get(template, 0) + 1
    return started


def detach_start(home: Home, instance_id: str) -> None:
    """Start an instance in its own background runner (as ``start --detach``)."""
    from workflow_cli.ops.run import detach

    detach(home, instance_paths(home, instance_id), "start")


def queue_or_start(home: Home, instance_id: str) -> None:
    """How a triggered or scheduled run starts: through the queue when a cap is set, else at once.

    A start that fails cancels the instance with the reason and raises (:func:`cancelled_unless_started`),
    so the trigger reports it and the next slot is not held up by it.
    """
    with cancelled_unless_started(home, instance_id):
        if needs_queue(home, instance_id):
            enqueue(home, instance_id)
            dispatch(home, detach_start)
        else:
            detach_start(home, instance_id)


@contextmanager
def cancelled_unless_started(home: Home, instance_id: str) -> Iterator[None]:
    """Around the start of a triggered or scheduled run: a start that fails (a broken ``config.yaml``, an
    unreachable Dask scheduler) cancels the instance with the reason, then the error goes on to the caller."""
    try:
        yield
    except WorkflowError as exc:
        from workflow_cli.ops.control import cancel_unstarted

        cancel_unstarted(home, instance_id, str(exc))
        raise
