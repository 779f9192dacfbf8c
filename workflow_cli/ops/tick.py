"""``tick``: one pass over every instance, for system cron: wake what can move on and run it.

An instance is resumed when it has requests waiting, a waiting task whose timer, timeout, mailbox
reply or child is due, a retry whose delay passed, or a dead runner. Two ticks at once are safe:
the runner lock lets one of them drive an instance and the other skips it. ``serve`` makes the same
pass every second (:func:`due_instances`), starting background runners instead of driving here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from workflow_cli.errors import ConflictError, WorkflowError
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths, load_state, read_document
from workflow_cli.store.locks import is_locked


def _due_reason(home: Home, paths: InstancePaths, state: dict[str, Any], now: float) -> str | None:
    """Why the instance should be resumed now, or None."""
    from workflow_cli.clock import parse_iso
    from workflow_cli.engine.waiting import can_move_on

    if state["status"] == "running":
        return "its runner died"
    if any(paths.requests.glob("*.json")) if paths.requests.is_dir() else False:
        return "requests are waiting"
    doc = None
    for tid, ts in state["tasks"].items():
        if ts["status"] == "pending" and ts.get("next_attempt_at") and parse_iso(ts["next_attempt_at"]) <= now:
            return f"the retry of {tid} is due"
        if ts["status"] == "waiting":
            doc = doc or read_document(paths)
            action = (doc["tasks"].get(tid) or {}).get("action") or "agent_task"
            if can_move_on(action, ts.get("waiting") or {}, now, {"home": home}):
                return f"{tid} can move on"
    if state["status"] == "waiting" and not any(
            ts["status"] == "waiting" or (ts["status"] == "pending" and ts.get("next_attempt_at")) for ts in state["tasks"].values()):
        return "nothing waits any more"  # a decision or signal applied with --no-continue released its wait
    return None


def due_instances(home: Home, now: float) -> Iterator[tuple[InstancePaths, str]]:
    """Each waiting or running instance without a live runner that can move on now, with the reason."""
    from workflow_cli.ops.query import instance_paths, list_instances

    for status in ("waiting", "running"):
        for row in list_instances(home, status=status, problems=[]):
            try:
                paths = instance_paths(home, row["id"])
                if is_locked(paths.lock):
                    continue
                state = load_state(paths)
                if state["status"] not in ("waiting", "running"):
                    continue
                reason = _due_reason(home, paths, state, now)
            except WorkflowError:
                continue
            if reason is not None:
                yield paths, reason


def tick(home: Home, *, stop: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """Resume every instance that can move on; returns what was done per instance.

    ``stop``: asked before each step; once true (a signal, SPEC 6.6), nothing more is started: the run
    being driven stops on its own (the signal's handler tells its runner) and tick returns.
    """
    from datetime import datetime, timezone

    from workflow_cli.clock import SystemClock
    from workflow_cli.ops.queue import detach_start, dispatch, queue_or_start
    from workflow_cli.ops.run import drive
    from workflow_cli.ops.schedules import fire_due_schedules
    from workflow_cli.ops.triggers import fire_file_triggers

    now = SystemClock().time()
    scheduled = fire_due_schedules(home, datetime.fromtimestamp(now, tz=timezone.utc), start=queue_or_start)  # SPEC 12
    files = [] if stop() else fire_file_triggers(home, now)
    queued = [] if stop() else dispatch(home, detach_start)
    report: list[dict[str, Any]] = []
    for paths, reason in list(due_instances(home, now)):
        if stop():
            break
        try:
            result = drive(home, paths)
            report.append({"id": paths.id, "reason": reason, "status": result.status["status"], "exit_code": result.exit_code})
        except ConflictError:
            continue  # another tick or runner has it
        except WorkflowError as exc:
            report.append({"id": paths.id, "error": str(exc)})
    return {"resumed": report, "scheduled": scheduled, "files": files, "queue_started": queued}
