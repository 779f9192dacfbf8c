"""The instance state as a pure fold over its event log (SPEC 7.1).

``state.json`` is only a cache of :func:`apply_event` applied to every event up to its ``last_seq``;
a reader loads it and replays the events after that, so a crash between the two writes loses nothing.
"""

from __future__ import annotations

import copy
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
    from datetime import datetime

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
    elif etype in ("task.completed", "task.failed", "task.skipped", "task.cancelled"):
        status = etype.split(".")[1]
        task.update(status=status, finished_at=time, waiting=None, next_attempt_at=None)
        task["duration_seconds"] = _seconds_between(task["started_at"], time) if status in ("completed", "failed") else None
        if status == "completed":
            task["outputs"] = data.get("outputs") or {}
            state["completion_order"].append(data["task"])
        if status in ("failed", "cancelled", "skipped"):
            task["error"] = data.get("error")
            task["error_kind"] = data.get("kind")
            task["exit_code"] = data.get("exit_code")
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
        task.clear()
        task.update(new_task_state())
        task.update(attempts=keep_attempts, history=keep_history)
        if data["task"] in state["completion_order"]:
            state["completion_order"].remove(data["task"])


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
}


def apply_event(state: dict[str, Any], event: Mapping[str, Any]) -> dict[str, Any]:
    """Fold one event into ``state`` (in place) and return it."""
    etype, data, time = event["type"], event.get("data") or {}, event.get("time")
    if etype.startswith("task."):
        _task_event(state, etype, data, time)
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
