"""Pure summaries of an instance's state: the ``status`` and ``list`` documents of SPEC 8."""

from __future__ import annotations

from typing import Any, Mapping

from workflow_cli.store.state import progress

TASK_FIELDS = ("status", "attempts", "started_at", "finished_at", "duration_seconds", "error", "outputs")


def display_status(state: Mapping[str, Any], *, runner_alive: bool) -> str:
    """The status a person sees: ``running (no runner)`` when the runner died."""
    status = state["status"]
    if status == "running" and not runner_alive:
        return "running (no runner)"
    return status


def status_document(state: Mapping[str, Any], *, runner_alive: bool = False, eta_seconds: float | None = None) -> dict[str, Any]:
    """The ``status --json`` document."""
    tasks = {
        tid: {**{k: t.get(k) for k in TASK_FIELDS}, "error_kind": t.get("error_kind"), "exit_code": t.get("exit_code")}
        for tid, t in state["tasks"].items()
    }
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
        "waiting_for": state.get("waiting_for"),
        "tasks": tasks,
        "checkpoints": [cp["id"] for cp in state.get("checkpoints", [])],
        "eta_seconds": eta_seconds,
    }


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
