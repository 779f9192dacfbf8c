"""``tick``: one pass over every instance, for system cron: wake what can move on and run it.

An instance is resumed when it has requests waiting, a waiting task whose timer, timeout, mailbox
reply or child is due, a retry whose delay passed, or a dead runner. Two ticks at once are safe:
the runner lock lets one of them drive an instance and the other skips it.
"""

from __future__ import annotations

from typing import Any

from workflow_cli.errors import ConflictError, WorkflowError
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths, instance_dirs, load_state, read_document
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
    return None


def tick(home: Home) -> dict[str, Any]:
    """Resume every instance that can move on; returns what was done per instance."""
    from datetime import datetime, timezone

    from workflow_cli.clock import SystemClock
    from workflow_cli.ops.run import drive
    from workflow_cli.ops.schedules import fire_due_schedules

    now = SystemClock().time()
    scheduled = fire_due_schedules(home, datetime.fromtimestamp(now, tz=timezone.utc))  # SPEC 12: due schedules first
    report: list[dict[str, Any]] = []
    for paths in instance_dirs(home.instances):
        try:
            state = load_state(paths)
            if state["status"] not in ("waiting", "running") or is_locked(paths.lock):
                continue
            reason = _due_reason(home, paths, state, now)
            if reason is None:
                continue
            result = drive(home, paths)
            report.append({"id": paths.id, "reason": reason, "status": result.status["status"], "exit_code": result.exit_code})
        except ConflictError:
            continue  # another tick or runner has it
        except WorkflowError as exc:
            report.append({"id": paths.id, "error": str(exc)})
    return {"resumed": report, "scheduled": scheduled}
