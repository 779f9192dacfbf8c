"""The instance state as a pure fold over its event log (SPEC 7.1).

``state.json`` is only a cache of :func:`apply_event` applied to every event up to its ``last_seq``;
a reader loads it and replays the events after that, so a crash between the two writes loses nothing.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, Mapping

STATE_FORMAT = 1


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


def new_task_state() -> dict[str, Any]:
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


def _task_event(state: dict[str, Any], etype: str, data: Mapping[str, Any], time: str) -> None:
    task = state["tasks"].setdefault(data["task"], new_task_state())
    if etype == "task.started":
        task.update(status="running", attempts=data.get("attempt", task["attempts"] + 1), started_at=time,
                    finished_at=None, duration_seconds=None, error=None, error_kind=None, exit_code=None,
                    next_attempt_at=None, waiting=None)
        task["history"].append({"attempt": task["attempts"], "started_at": time})
        if len(data) > 2:  # foreach items, a loop iteration, a cache key: the rare extras
            _started_extras(task, data)
        elif "cached" in task or "waiting_for_pool" in task:
            task.pop("cached", None)
            task.pop("waiting_for_pool", None)
    elif etype in ("task.completed", "task.failed", "task.skipped", "task.cancelled"):
        status = etype.split(".")[1]
        task.update(status=status, finished_at=time, waiting=None, next_attempt_at=None)
        task["duration_seconds"] = _seconds_between(task["started_at"], time) if status in ("completed", "failed") else None
        if status == "completed":
            outputs = data.get("outputs")
            task["outputs"] = outputs if outputs is not None else {}
            state["completion_order"].append(data["task"])
            if data.get("cached"):
                task["cached"] = True
        if status in ("failed", "cancelled", "skipped"):
            task["error"] = data.get("error")
            task["error_kind"] = data.get("kind")
            task["exit_code"] = data.get("exit_code")
            if status == "failed" and data.get("outputs") is not None:
                task["outputs"] = data["outputs"]
        if task.get("items"):
            _close_items(task, time, status)
        _close_attempt(task, time, status, data)
    elif etype == "task.retrying":
        task.update(status="pending", error=data.get("error"), error_kind=data.get("kind"),
                    exit_code=data.get("exit_code"), next_attempt_at=data.get("due"))
        _close_attempt(task, time, "failed", data)
    elif etype == "task.waiting":
        task.update(status="waiting", waiting=data.get("waiting"))
    elif etype == "task.reset":
        # back to pending; the attempt count and the history of past attempts stay (the next one is N+1)
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
            task["items"] = [it if it["status"] == "completed" else {**_reset_item(it), "retry_base": it.get("attempts", 0)}
                             for it in items]
        if data["task"] in state["completion_order"]:
            state["completion_order"].remove(data["task"])
    elif etype == "task.pool_wait":
        task["waiting_for_pool"] = data.get("pool")


def new_item_state(value: Any) -> dict[str, Any]:
    """One foreach item that has not run."""
    return {"item": value, "status": "pending", "attempts": 0, "started_at": None, "finished_at": None,
            "error": None, "error_kind": None, "outputs": None, "next_attempt_at": None}


def _reset_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item back to pending, keeping its attempt count (and the fresh retry budget a retry gave it)."""
    reset = {**new_item_state(item.get("item")), "attempts": item.get("attempts", 0)}
    if item.get("retry_base"):
        reset["retry_base"] = item["retry_base"]
    return reset


def _restart_item(old: list[dict[str, Any]], index: int, value: Any) -> dict[str, Any]:
    """An item of a foreach task started again: the same item keeps counting its attempts."""
    if index < len(old) and old[index].get("item") == value:
        return _reset_item(old[index])
    return new_item_state(value)


def _started_extras(task: dict[str, Any], data: Mapping[str, Any]) -> None:
    """``task.started`` of a foreach task (its item list), a loop iteration, a cache lookup."""
    task.pop("cached", None)
    task.pop("waiting_for_pool", None)
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


def _close_items(task: dict[str, Any], time: str, status: str) -> None:
    """A foreach task ended: items that never ran (or were cut off) are cancelled."""
    for item in task["items"]:
        if item["status"] in ("pending", "running"):
            item.update(status="cancelled", finished_at=time, next_attempt_at=None,
                        error=item.get("error") or f"not run: the task was {status}")


def _item_event(state: dict[str, Any], etype: str, data: Mapping[str, Any], time: str) -> None:
    """Fold an ``item.*`` event into its foreach task's per-item records."""
    task = state["tasks"].get(data["task"])
    items = task.get("items") if task else None
    index = data.get("index")
    if not items or not isinstance(index, int) or not 0 <= index < len(items):
        return
    item = items[index]
    if etype == "item.started":
        task.pop("waiting_for_pool", None)
        item.update(status="running", attempts=data.get("attempt", item["attempts"] + 1), started_at=time,
                    finished_at=None, error=None, error_kind=None, next_attempt_at=None)
        item.pop("cached", None)
    elif etype == "item.completed":
        item.update(status="completed", finished_at=time, outputs=data.get("outputs"), next_attempt_at=None)
        if data.get("cached"):
            item["cached"] = True
    elif etype == "item.failed":
        status = "cancelled" if data.get("kind") == "cancelled" else "failed"
        item.update(status=status, finished_at=time, error=data.get("error"), error_kind=data.get("kind"), next_attempt_at=None)
    elif etype == "item.skipped":
        item.update(status="skipped", finished_at=time, error=data.get("error"), error_kind="condition", next_attempt_at=None)
    elif etype == "item.retrying":
        item.update(status="pending", error=data.get("error"), error_kind=data.get("kind"), next_attempt_at=data.get("due"))
    elif etype == "item.reset":
        items[index] = _reset_item(item)


def _loop_event(state: dict[str, Any], data: Mapping[str, Any], time: str) -> None:
    """An iteration ended without meeting ``until``: its outputs are the latest; the next one is pending."""
    task = state["tasks"].get(data["task"])
    if task is None:
        return
    previous = data.get("outputs")
    task.update(status="pending", outputs=previous if previous is not None else {}, next_attempt_at=data.get("due"))
    task["loop"] = {"iteration": int(data.get("iteration", 0)) + 1, "first_attempt": None,
                    "previous": task["outputs"]}
    _close_attempt(task, time, "completed", {})


def _close_attempt(task: dict[str, Any], time: str, status: str, data: Mapping[str, Any]) -> None:
    if task["history"] and "finished_at" not in task["history"][-1]:
        entry = task["history"][-1]
        entry.update(finished_at=time, status=status)
        if data.get("error"):
            entry["error"] = data["error"]
        if data.get("exit_code") is not None:
            entry["exit_code"] = data["exit_code"]


_INSTANCE_STATUS = {
    "workflow.started": "running",
    "workflow.resumed": "running",
    "workflow.completed": "completed",
    "workflow.failed": "failed",
    "workflow.paused": "paused",
    "workflow.cancelled": "cancelled",
    "workflow.waiting": "waiting",
    "workflow.queued": "queued",
}


def status_after(etype: str, status: str) -> str:
    """The instance status after an event of type ``etype`` (what :func:`apply_event` sets)."""
    return _INSTANCE_STATUS.get(etype, status)


INSTANCE_STATUS_EVENTS = frozenset(_INSTANCE_STATUS)


def apply_event(state: dict[str, Any], event: Mapping[str, Any]) -> dict[str, Any]:
    """Fold one event into ``state`` (in place) and return it."""
    etype, data, time = event["type"], event.get("data") or {}, event.get("time")
    if etype.startswith("task."):
        _task_event(state, etype, data, time)
    elif etype.startswith("item."):
        _item_event(state, etype, data, time)
    elif etype == "loop.iteration":
        _loop_event(state, data, time)
    elif etype in _INSTANCE_STATUS:
        state["status"] = _INSTANCE_STATUS[etype]
        if etype in ("workflow.started", "workflow.resumed") and not state["started_at"]:
            state["started_at"] = time  # an instance stopped before it ever ran starts on its first resume
        if etype in ("workflow.started", "workflow.resumed"):
            state["finished_at"] = None
            state["error"] = None
            state["error_kind"] = None
            state["waiting_for"] = None
        if etype in ("workflow.completed", "workflow.failed", "workflow.cancelled"):
            state["finished_at"] = time
            state["error"] = data.get("error")
            state["error_kind"] = data.get("kind")
        if etype == "workflow.waiting":
            state["waiting_for"] = data.get("waiting_for")
        if etype == "workflow.paused":
            state["error"] = data.get("reason")
            state["finished_at"] = None  # a paused instance (after a rollback of a failed one too) has not finished
        if etype == "workflow.queued":  # SPEC 18.4: what the queue orders by and caps with
            state["queue"] = {"priority": int(data.get("priority") or 0), "queued_at": time,
                              "max_active_runs": data.get("max_active_runs"), "released_at": None}
    elif etype == "queue.released":
        if state.get("queue"):
            state["queue"]["released_at"] = time
    elif etype == "checkpoint.created":
        # ``completed`` (how many tasks had completed) is what a rollback cuts at; the variables stay in
        # the event only, so the snapshot does not grow with a copy of them per checkpoint
        state["checkpoints"].append({"id": data["id"], "created_at": time, "task": data.get("task"),
                                     "completed": data.get("completed")})
        state["checkpoint_seq"] = max(state.get("checkpoint_seq", 0), _checkpoint_number(data["id"]))
    elif etype == "signal.buffered":
        state.setdefault("signals", {})[data.get("name")] = data.get("payload")
    elif etype == "signal.consumed":
        state.setdefault("signals", {}).pop(data.get("name"), None)
    elif etype == "vars.set":
        state["vars"].update(data.get("vars") or {})
    elif etype == "child.linked":
        state["children"].append(data.get("child"))
    elif etype == "rollback.started":
        state["rollback"] = {"checkpoint": data.get("checkpoint"), "tasks": list(data.get("tasks") or []), "done": []}
    elif etype == "rollback.task":
        state.setdefault("rollback", {"tasks": [], "done": []})["done"].append(data["task"])
    elif etype == "rollback.completed":
        state["rollback"] = None
        if "vars" in data:
            state["vars"] = dict(data["vars"])
        if "checkpoint" in data:  # checkpoints after the one returned to (all of them: the start) are gone
            cut = _checkpoint_number(data["checkpoint"]) if data["checkpoint"] else 0
            state["checkpoints"] = [cp for cp in state["checkpoints"] if _checkpoint_number(cp["id"]) <= cut]
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


def replay(state: Mapping[str, Any], events: list[Mapping[str, Any]]) -> dict[str, Any]:
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
