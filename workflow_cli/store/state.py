"""The instance state as a pure fold over its event log (SPEC 7.1).

``state.json`` is only a cache of :func:`apply_event` applied to every event up to its ``last_seq``;
a reader loads it and replays the events after that, so a crash between the two writes loses nothing.
"""

from __future__ import annotations

import copy
from datetime import datetime
from collections.abc import Callable, Sequence
from typing import Any, Mapping, TypedDict

from workflow_cli.model.states import (
    EventType,
    InstanceState,
    TaskState,
    check_instance_transition,
    check_item_transition,
    check_task_transition,
)

STATE_FORMAT = 1
USAGE_FIELDS = ("cpu_seconds", "max_rss_mb")  # an attempt's process tree, from task.completed / task.failed


class AttemptRecord(TypedDict, total=False):
    """One past attempt of a task in ``history``."""

    attempt: int
    started_at: str | None
    finished_at: str | None
    status: str
    error: str
    exit_code: int
    cpu_seconds: float | None  # the attempt's process tree (SPEC 9): user + system CPU time
    max_rss_mb: float | None  # and its peak resident memory


class TaskRecord(TypedDict, total=False):
    """A task in the snapshot (``state["tasks"][id]``); the fold adds ``items``, ``loop``, ``cached``,
    ``cache_key``, ``waiting_for_pool`` and the latest attempt's ``cpu_seconds``/``max_rss_mb`` where they apply."""

    status: str  # a TaskState value
    attempts: int
    started_at: str | None
    finished_at: str | None
    duration_seconds: float | None
    error: str | None
    error_kind: str | None
    exit_code: int | None
    outputs: Any
    next_attempt_at: str | None
    waiting: dict[str, Any] | None
    history: list[AttemptRecord]
    items: list[ItemRecord]
    loop: dict[str, Any]
    cached: bool
    cache_key: str
    waiting_for_pool: str
    retry_base: int  # attempts made before a retry/resume reset (a fresh retry budget)
    cpu_seconds: float | None
    max_rss_mb: float | None


class ItemRecord(TypedDict, total=False):
    """One item of a foreach task (``state["tasks"][id]["items"][i]``)."""

    item: Any
    status: str  # a TaskState value
    attempts: int
    started_at: str | None
    finished_at: str | None
    error: str | None
    error_kind: str | None
    outputs: Any
    next_attempt_at: str | None
    cached: bool
    retry_base: int


def new_state(header: Mapping[str, Any], task_ids: list[str]) -> dict[str, Any]:
    """The state of a freshly created instance."""
    return {
        "format": STATE_FORMAT,
        "id": header["id"],
        "name": header.get("name", ""),
        "template": header.get("template"),
        "source": header.get("source"),
        "status": "created",
        "created_at": header.get("created_at"),
        "started_at": None,
        "finished_at": None,
        "params": dict(header.get("params") or {}),
        "vars": dict(header.get("vars") or {}),
        "tasks": {tid: new_task_state() for tid in task_ids},
        "checkpoints": [],
        "checkpoint_seq": 0,
        "completion_order": [],
        "waiting_for": None,
        "error": None,
        "parent": header.get("parent"),
        "trigger": header.get("trigger"),
        "base_dir": header.get("base_dir"),
        "rollback": None,
        "children": [],
        "last_seq": 0,
    }


def new_task_state() -> TaskRecord:
    """A task that has not started."""
    return {
        "status": "pending",
        "attempts": 0,
        "started_at": None,
        "finished_at": None,
        "duration_seconds": None,
        "error": None,
        "error_kind": None,
        "exit_code": None,
        "outputs": {},
        "next_attempt_at": None,
        "waiting": None,
        "history": [],
    }


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    if start[:17] == end[:17] and len(start) == len(end) == 27 and end[26] == "Z":
        # the engine's own times (2026-11-22T01:12:08.123456Z) within one minute: seconds from the tail
        try:
            return round(float(end[17:26]) - float(start[17:26]), 6)
        except ValueError:
            pass
    try:
        delta = datetime.fromisoformat(end.replace("Z", "+00:00")) - datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round(delta.total_seconds(), 6)


def _task(state: dict[str, Any], data: Mapping[str, Any], etype: str, new: str) -> dict[str, Any]:
    """The task record an event is about, after checking its status may become ``new``."""
    task: dict[str, Any] = state["tasks"].setdefault(data["task"], new_task_state())
    check_task_transition(data["task"], task["status"], new, etype)
    return task


def _task_started(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    task = _task(state, data, etype, _RUNNING)
    task.update(status=_RUNNING, attempts=data.get("attempt", task["attempts"] + 1), started_at=time,
                finished_at=None, duration_seconds=None, error=None, error_kind=None, exit_code=None,
                next_attempt_at=None, waiting=None)
    task["history"].append({"attempt": task["attempts"], "started_at": time})
    if len(data) > 2:  # foreach items, a loop iteration, a cache key: the rare extras
        _started_extras(task, data)
    elif "cached" in task or "waiting_for_pool" in task or "cpu_seconds" in task:
        for key in ("cached", "waiting_for_pool", *USAGE_FIELDS):
            task.pop(key, None)


def _task_ended(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    """``task.completed``, ``task.failed``, ``task.skipped``, ``task.cancelled``."""
    status = _ENDED[etype]
    task = _task(state, data, etype, status)
    task.update(status=status, finished_at=time, waiting=None, next_attempt_at=None)
    task["duration_seconds"] = _seconds_between(task["started_at"], time) if status in (_COMPLETED, _FAILED) else None
    if status == _COMPLETED:
        outputs = data.get("outputs")
        task["outputs"] = outputs if outputs is not None else {}
        state["completion_order"].append(data["task"])
        if data.get("cached"):
            task["cached"] = True
    else:
        task["error"] = data.get("error")
        task["error_kind"] = data.get("kind")
        task["exit_code"] = data.get("exit_code")
        if status == _FAILED and data.get("outputs") is not None:
            task["outputs"] = data["outputs"]
    if task.get("items"):
        _close_items(task, time, status)
    _close_attempt(task, time, status, data)


def _task_retrying(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    task = _task(state, data, etype, _PENDING)
    task.update(status=_PENDING, error=data.get("error"), error_kind=data.get("kind"),
                exit_code=data.get("exit_code"), next_attempt_at=data.get("due"))
    _close_attempt(task, time, _FAILED, data)


def _task_waiting(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    _task(state, data, etype, _WAITING).update(status=_WAITING, waiting=data.get("waiting"))


def _task_reset(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    """Back to pending; the attempt count and the history of past attempts stay (the next one is N+1)."""
    task = _task(state, data, etype, _PENDING)
    keep_attempts, keep_history = task["attempts"], task["history"]
    if data.get("clear"):  # a rollback: the attempts made after the checkpoint are gone too (SPEC 7.3)
        keep_attempts, keep_history = 0, []
    items = task.get("items")
    task.clear()
    task.update(new_task_state())
    task.update(attempts=keep_attempts, history=keep_history)
    if data.get("reason") in ("retry", "resume") and keep_attempts:
        task["retry_base"] = keep_attempts  # a fresh retry budget; attempt numbers keep counting (SPEC 8)
    if items and data.get("reason") in ("retry", "resume") and not data.get("full"):
        # a foreach task run again keeps its completed items; the others run again
        task["items"] = [it if it["status"] == _COMPLETED else {**_reset_item(it), "retry_base": it.get("attempts", 0)}
                         for it in items]
    if data["task"] in state["completion_order"]:
        state["completion_order"].remove(data["task"])


def _task_pool_wait(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    state["tasks"].setdefault(data["task"], new_task_state())["waiting_for_pool"] = data.get("pool")


def new_item_state(value: Any) -> ItemRecord:
    """One foreach item that has not run."""
    return {"item": value, "status": "pending", "attempts": 0, "started_at": None, "finished_at": None,
            "error": None, "error_kind": None, "outputs": None, "next_attempt_at": None}


def _reset_item(item: Mapping[str, Any]) -> ItemRecord:
    """An item back to pending, keeping its attempt count (and the fresh retry budget a retry gave it)."""
    fresh = new_item_state(item.get("item"))
    fresh["attempts"] = item.get("attempts", 0)
    if item.get("retry_base"):
        fresh["retry_base"] = item["retry_base"]
    return fresh


def _restart_item(old: list[dict[str, Any]], index: int, value: Any) -> ItemRecord:
    """An item of a foreach task started again: the same item keeps counting its attempts."""
    if index < len(old) and old[index].get("item") == value:
        return _reset_item(old[index])
    return new_item_state(value)


def _started_extras(task: dict[str, Any], data: Mapping[str, Any]) -> None:
    """``task.started`` of a foreach task (its item list), a loop iteration, a cache lookup."""
    for key in ("cached", "waiting_for_pool", *USAGE_FIELDS):
        task.pop(key, None)
    if "items" in data:
        old = task.get("items") or []
        kept = set(data.get("kept") or ())
        task["items"] = [old[i] if i in kept and i < len(old) else _restart_item(old, i, v) for i, v in enumerate(data["items"])]
    if "iteration" in data:
        loop = task.get("loop")
        if not loop or loop.get("first_attempt") is None:
            task["loop"] = {"iteration": data["iteration"], "first_attempt": task["attempts"],
                            "previous": (loop or {}).get("previous", {})}
    if data.get("cache_key"):
        task["cache_key"] = data["cache_key"]


def _close_items(task: dict[str, Any], time: str | None, status: str) -> None:
    """A foreach task ended: items that never ran (or were cut off) are cancelled."""
    for item in task["items"]:
        if item["status"] in ("pending", "running"):
            item.update(status="cancelled", finished_at=time, next_attempt_at=None,
                        error=item.get("error") or f"not run: the task was {status}")


def _item(state: dict[str, Any], data: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], int] | None:
    """(task, its items, index) of an ``item.*`` event; None when the event names no known item."""
    task = state["tasks"].get(data["task"])
    items = task.get("items") if task else None
    index = data.get("index")
    if not items or not isinstance(index, int) or not 0 <= index < len(items):
        return None
    return task, items, index  # type: ignore[return-value]


def _item_change(state: dict[str, Any], data: Mapping[str, Any], etype: str, new: str) -> dict[str, Any] | None:
    """The item an event is about, after checking its status may become ``new``."""
    found = _item(state, data)
    if found is None:
        return None
    _, items, index = found
    item = items[index]
    check_item_transition(data["task"], index, item["status"], new, etype)
    return item


def _item_started(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    item = _item_change(state, data, etype, _RUNNING)
    if item is None:
        return
    state["tasks"][data["task"]].pop("waiting_for_pool", None)
    item.update(status=_RUNNING, attempts=data.get("attempt", item["attempts"] + 1), started_at=time,
                finished_at=None, error=None, error_kind=None, next_attempt_at=None)
    item.pop("cached", None)


def _item_completed(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    item = _item_change(state, data, etype, _COMPLETED)
    if item is None:
        return
    item.update(status=_COMPLETED, finished_at=time, outputs=data.get("outputs"), next_attempt_at=None)
    if data.get("cached"):
        item["cached"] = True


def _item_failed(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    status = _CANCELLED if data.get("kind") == "cancelled" else _FAILED
    item = _item_change(state, data, etype, status)
    if item is not None:
        item.update(status=status, finished_at=time, error=data.get("error"), error_kind=data.get("kind"), next_attempt_at=None)


def _item_skipped(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    item = _item_change(state, data, etype, _SKIPPED)
    if item is not None:
        item.update(status=_SKIPPED, finished_at=time, error=data.get("error"), error_kind="condition", next_attempt_at=None)


def _item_retrying(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    item = _item_change(state, data, etype, _PENDING)
    if item is not None:
        item.update(status=_PENDING, error=data.get("error"), error_kind=data.get("kind"), next_attempt_at=data.get("due"))


def _item_reset(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    found = _item(state, data)
    if found is not None:
        _, items, index = found
        check_item_transition(data["task"], index, items[index]["status"], _PENDING, etype)
        items[index] = dict(_reset_item(items[index]))


def _loop_iteration(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    """An iteration ended without meeting ``until``: its outputs are the latest; the next one is pending."""
    task = state["tasks"].get(data["task"])
    if task is None:
        return
    check_task_transition(data["task"], task["status"], _PENDING, etype)
    previous = data.get("outputs")
    task.update(status=_PENDING, outputs=previous if previous is not None else {}, next_attempt_at=data.get("due"))
    task["loop"] = {"iteration": int(data.get("iteration", 0)) + 1, "first_attempt": None,
                    "previous": task["outputs"]}
    _close_attempt(task, time, _COMPLETED, {})


def _close_attempt(task: dict[str, Any], time: str | None, status: str, data: Mapping[str, Any]) -> None:
    if task["history"] and "finished_at" not in task["history"][-1]:
        entry = task["history"][-1]
        entry.update(finished_at=time, status=status)
        if data.get("error"):
            entry["error"] = data["error"]
        if data.get("exit_code") is not None:
            entry["exit_code"] = data["exit_code"]
    if "cpu_seconds" in data:  # the attempt's process tree (SPEC 9): on the task (latest attempt) and its history
        for key in USAGE_FIELDS:
            task[key] = data.get(key)
            if task["history"]:
                task["history"][-1][key] = data.get(key)


def _instance_status(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    """``workflow.*`` events that change the instance's status."""
    new = _INSTANCE_STATUS[etype]
    check_instance_transition(state["id"], state["status"], new, etype)
    state["status"] = new
    if etype in (EventType.WORKFLOW_STARTED, EventType.WORKFLOW_RESUMED):
        if not state["started_at"]:
            state["started_at"] = time  # an instance stopped before it ever ran starts on its first resume
        state["finished_at"] = None
        state["error"] = None
        state["error_kind"] = None
        state["waiting_for"] = None
    elif new in (_I.COMPLETED, _I.FAILED, _I.CANCELLED):
        state["finished_at"] = time
        state["error"] = data.get("error")
        state["error_kind"] = data.get("kind")
    elif new == _I.WAITING:
        state["waiting_for"] = data.get("waiting_for")
    elif new == _I.PAUSED:
        state["error"] = data.get("reason")
        state["finished_at"] = None  # a paused instance (a failed one rolled back too) has not finished
    elif new == _I.QUEUED:  # SPEC 18.4: what the queue orders by and caps with
        state["queue"] = {"priority": int(data.get("priority") or 0), "queued_at": time,
                          "max_active_runs": data.get("max_active_runs"), "released_at": None}


def _queue_released(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    if state.get("queue"):
        state["queue"]["released_at"] = time


def _checkpoint_created(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    # ``completed`` (how many tasks had completed) is what a rollback cuts at; the variables stay in
    # the event only, so the snapshot does not grow with a copy of them per checkpoint
    state["checkpoints"].append({"id": data["id"], "created_at": time, "task": data.get("task"),
                                 "completed": data.get("completed")})
    state["checkpoint_seq"] = max(state.get("checkpoint_seq", 0), _checkpoint_number(data["id"]))


def _signal_received(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    """A broadcast event (``emit``) carries an id: kept so that the same event is never taken twice."""
    if data.get("event"):
        state.setdefault("event_ids", []).append(data["event"])


def _signal_buffered(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    name = data.get("name")
    state.setdefault("signals", {})[name] = data.get("payload")
    keys = state.setdefault("signal_keys", {})
    if data.get("key") is not None:  # an event for one entity: only a wait with that key takes it
        keys[name] = data["key"]
    else:
        keys.pop(name, None)


def _signal_consumed(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    state.setdefault("signals", {}).pop(data.get("name"), None)
    state.setdefault("signal_keys", {}).pop(data.get("name"), None)


def _vars_set(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    state["vars"].update(data.get("vars") or {})


def _child_linked(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    state["children"].append(data.get("child"))


def _rollback_started(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    state["rollback"] = {"checkpoint": data.get("checkpoint"), "tasks": list(data.get("tasks") or []), "done": []}


def _rollback_task(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    state.setdefault("rollback", {"tasks": [], "done": []})["done"].append(data["task"])


def _rollback_completed(state: dict[str, Any], data: Mapping[str, Any], time: str | None, etype: str) -> None:
    state["rollback"] = None
    if "vars" in data:
        state["vars"] = dict(data["vars"])
    if "checkpoint" in data:  # checkpoints after the one returned to (all of them: the start) are gone
        cut = _checkpoint_number(data["checkpoint"]) if data["checkpoint"] else 0
        state["checkpoints"] = [cp for cp in state["checkpoints"] if _checkpoint_number(cp["id"]) <= cut]


_I = InstanceState
_PENDING, _RUNNING, _WAITING = TaskState.PENDING.value, TaskState.RUNNING.value, TaskState.WAITING.value
_COMPLETED, _FAILED = TaskState.COMPLETED.value, TaskState.FAILED.value
_SKIPPED, _CANCELLED = TaskState.SKIPPED.value, TaskState.CANCELLED.value
_ENDED: dict[str, str] = {EventType.TASK_COMPLETED: _COMPLETED, EventType.TASK_FAILED: _FAILED,
          EventType.TASK_SKIPPED: _SKIPPED, EventType.TASK_CANCELLED: _CANCELLED}
_INSTANCE_STATUS: dict[str, str] = {
    EventType.WORKFLOW_STARTED: _I.RUNNING.value,
    EventType.WORKFLOW_RESUMED: _I.RUNNING.value,
    EventType.WORKFLOW_COMPLETED: _I.COMPLETED.value,
    EventType.WORKFLOW_FAILED: _I.FAILED.value,
    EventType.WORKFLOW_PAUSED: _I.PAUSED.value,
    EventType.WORKFLOW_CANCELLED: _I.CANCELLED.value,
    EventType.WORKFLOW_WAITING: _I.WAITING.value,
    EventType.WORKFLOW_QUEUED: _I.QUEUED.value,
}


def status_after(etype: str, status: str) -> str:
    """The instance status after an event of type ``etype`` (what :func:`apply_event` sets)."""
    return _INSTANCE_STATUS.get(etype, status)


INSTANCE_STATUS_EVENTS = frozenset(_INSTANCE_STATUS)

Handler = Callable[[dict[str, Any], Mapping[str, Any], "str | None", str], None]
# How each event changes the state; an event not listed (request.*, approval.*, task.warning...) changes none.
HANDLERS: dict[str, Handler] = {
    EventType.TASK_STARTED: _task_started,
    **{etype: _task_ended for etype in _ENDED},
    EventType.TASK_RETRYING: _task_retrying,
    EventType.TASK_WAITING: _task_waiting,
    EventType.TASK_RESET: _task_reset,
    EventType.TASK_POOL_WAIT: _task_pool_wait,
    EventType.ITEM_STARTED: _item_started,
    EventType.ITEM_COMPLETED: _item_completed,
    EventType.ITEM_FAILED: _item_failed,
    EventType.ITEM_SKIPPED: _item_skipped,
    EventType.ITEM_RETRYING: _item_retrying,
    EventType.ITEM_RESET: _item_reset,
    EventType.LOOP_ITERATION: _loop_iteration,
    **{etype: _instance_status for etype in _INSTANCE_STATUS},
    EventType.CHECKPOINT_CREATED: _checkpoint_created,
    EventType.SIGNAL_RECEIVED: _signal_received,
    EventType.SIGNAL_BUFFERED: _signal_buffered,
    EventType.SIGNAL_CONSUMED: _signal_consumed,
    EventType.VARS_SET: _vars_set,
    EventType.CHILD_LINKED: _child_linked,
    EventType.ROLLBACK_STARTED: _rollback_started,
    EventType.ROLLBACK_TASK: _rollback_task,
    EventType.ROLLBACK_COMPLETED: _rollback_completed,
    EventType.QUEUE_RELEASED: _queue_released,
}


def apply_event(state: dict[str, Any], event: Mapping[str, Any]) -> dict[str, Any]:
    """Fold one event into ``state`` (in place) and return it; an illegal status change raises
    :class:`~workflow_cli.model.states.IllegalTransitionError`."""
    etype = event["type"]
    handler = HANDLERS.get(etype)
    if handler is not None:
        handler(state, event.get("data") or {}, event.get("time"), etype)
    state["last_seq"] = event.get("seq", state["last_seq"])
    return state


def _checkpoint_number(cp_id: str) -> int:
    try:
        return int(str(cp_id).rpartition("-")[2])
    except ValueError:
        return 0


def next_checkpoint_id(state: Mapping[str, Any]) -> str:
    """``cp-NNNN`` after every id ever used, so an id a rollback dropped is never given to another state."""
    n = max(state.get("checkpoint_seq", 0), len(state["checkpoints"])) + 1
    return f"cp-{n:04d}"


def replay(state: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A copy of ``state`` with the events after its ``last_seq`` applied."""
    out = copy.deepcopy(dict(state))
    for event in events:
        if event.get("seq", 0) > out["last_seq"]:
            apply_event(out, event)
    return out


def progress(state: Mapping[str, Any]) -> float:
    """Percent of tasks finished (completed, failed, skipped, cancelled), 0..100."""
    tasks = state["tasks"]
    if not tasks:
        return 100.0
    done = sum(1 for t in tasks.values() if t["status"] in ("completed", "failed", "skipped", "cancelled"))
    return round(100.0 * done / len(tasks), 1)


def task_extras(task: Mapping[str, Any]) -> dict[str, Any]:
    """The per-task fields the engine adds to the ``status`` document (SPEC 8 allows additions).

    ``cached`` (completed from the result cache), ``items`` (a foreach task's per-item records),
    ``waiting_for_pool`` (the pool a pending task waits for) and ``iteration`` (a loop's current one).
    """
    loop = task.get("loop")
    return {"cached": bool(task.get("cached")), "items": task.get("items"),
            "waiting_for_pool": task.get("waiting_for_pool") if task.get("status") == "pending" else None,
            "iteration": loop.get("iteration") if loop else None}


def add_task_extras(doc: dict[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    """Add :func:`task_extras` to each task entry of a status document (existing keys stay); returns ``doc``."""
    for tid, entry in doc.get("tasks", {}).items():
        ts = state["tasks"].get(tid)
        if ts is not None:
            for key, value in task_extras(ts).items():
                entry.setdefault(key, value)
    return doc
