"""Pure summaries of an instance's state: the ``status`` and ``list`` documents of SPEC 8."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from workflow_cli.store.state import progress

TASK_FIELDS = ("status", "attempts", "started_at", "finished_at", "duration_seconds", "error", "outputs")
# Extra per-task fields (SPEC 8 allows additions): why a task failed, what it waits for, when it retries.
TASK_EXTRA_FIELDS = ("error_kind", "exit_code", "waiting", "next_attempt_at", "cpu_seconds", "max_rss_mb")


def display_status(state: Mapping[str, Any], *, runner_alive: bool) -> str:
    """The status a person sees: ``running (no runner)`` when the runner died."""
    status = state["status"]
    if status == "running" and not runner_alive:
        return "running (no runner)"
    return status


def status_document(state: Mapping[str, Any], *, runner_alive: bool = False, eta_seconds: float | None = None) -> dict[str, Any]:
    """The ``status --json`` document."""
    tasks = {tid: {k: t.get(k) for k in (*TASK_FIELDS, *TASK_EXTRA_FIELDS)} for tid, t in state["tasks"].items()}
    return {
        "id": state["id"],
        "name": state.get("name", ""),
        "template": state.get("template"),
        "status": state["status"],
        "display_status": display_status(state, runner_alive=runner_alive),
        "runner_alive": runner_alive,
        "progress": progress(state),
        "created_at": state.get("created_at"),
        "started_at": state.get("started_at"),
        "finished_at": state.get("finished_at"),
        "params": state.get("params", {}),
        "vars": state.get("vars", {}),
        "error": state.get("error"),
        "error_kind": state.get("error_kind"),
        "waiting_for": state.get("waiting_for"),
        "counts": task_counts(state),
        "tasks": tasks,
        "checkpoints": [cp["id"] for cp in state.get("checkpoints", [])],
        "eta_seconds": eta_seconds,
        "trigger": state.get("trigger"),
        "queue": state.get("queue") if state["status"] == "queued" else None,
        "parent": parent_link(state.get("parent")),
        "children": [c for c in dict.fromkeys(state.get("children") or []) if c],
        "base_dir": state.get("base_dir"),
    }


def parent_link(parent: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``{"id", "task"}`` of the instance whose ``workflow_trigger`` task made this one (SPEC 8), or None."""
    if not parent:
        return None
    return {"id": parent.get("instance"), "task": parent.get("task")}


def list_row(state: Mapping[str, Any], *, runner_alive: bool = False) -> dict[str, Any]:
    """One row of ``list --json``."""
    return {
        "id": state["id"],
        "name": state.get("name", ""),
        "template": state.get("template"),
        "status": state["status"],
        "display_status": display_status(state, runner_alive=runner_alive),
        "progress": progress(state),
        "created_at": state.get("created_at"),
        "finished_at": state.get("finished_at"),
    }


def task_counts(state: Mapping[str, Any]) -> dict[str, int]:
    """How many tasks are in each state."""
    counts: dict[str, int] = {}
    for task in state["tasks"].values():
        counts[task["status"]] = counts.get(task["status"], 0) + 1
    return counts


def _when(value: Any) -> str:
    """An ISO time from an ISO string or epoch seconds (waiting records hold either)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def describe_waiting(waiting: Mapping[str, Any] | None) -> str:
    """What a waiting task waits for, in a few words: approvers, a signal, a timer, a mailbox agent, a child."""
    if not waiting:
        return "waiting"
    kind = waiting.get("kind")
    timeout = f", times out at {_when(waiting['timeout_at'])}" if waiting.get("timeout_at") else ""
    if kind == "approval":
        approvers = ", ".join(waiting.get("approvers") or []) or "anyone"
        got = len(waiting.get("approvals") or [])
        return f"approval from {approvers} ({got}/{waiting.get('required', 1)}){timeout}"
    if kind == "signal":
        return f"signal '{waiting.get('name')}'{timeout}"
    if kind == "timer":
        return f"timer until {_when(waiting.get('until_iso') or waiting.get('until'))}"
    if kind == "mailbox":
        return f"a reply from mailbox agent '{waiting.get('agent')}' in {waiting.get('reply')}"
    if kind == "child":
        return f"child instance {waiting.get('child')}"
    return f"{kind or 'input'}{timeout}"


def waiting_fix(instance_id: str, task_id: str, waiting: Mapping[str, Any] | None) -> str:
    """The command that moves a waiting task on."""
    kind = (waiting or {}).get("kind")
    if kind == "approval":
        approvers = [a for a in (waiting or {}).get("approvers") or [] if a not in
                     {d.get("by") for d in (waiting or {}).get("approvals") or []}]
        return f"workflow-cli approve {instance_id} {task_id} --by {approvers[0] if approvers else 'NAME'}"
    if kind == "signal":
        return f"workflow-cli signal {instance_id} {(waiting or {}).get('name') or 'NAME'}"
    if kind == "child":
        return f"workflow-cli debug {(waiting or {}).get('child')}"
    # a due timer or a mailbox reply already written: a runner (resume, or tick from cron) picks it up
    return f"workflow-cli resume {instance_id}"
