"""Read-only operations: ``list`` and ``status``. They never create or change a file."""

from __future__ import annotations

from typing import Any

from workflow_cli.errors import InvalidInputError, StateError
from workflow_cli.monitor.summary import list_row, status_document
from workflow_cli.store.home import Home
from workflow_cli.store.ids import resolve_instance_id
from workflow_cli.store.instances import InstancePaths, instance_dirs, load_state
from workflow_cli.store.locks import is_locked

SORT_KEYS = ("created", "name", "status")
STATUSES = ("created", "queued", "running", "waiting", "paused", "completed", "failed", "cancelled")


def instance_paths(home: Home, id_or_prefix: str) -> InstancePaths:
    """The folder of the instance an id or unique prefix names (NotFoundError otherwise)."""
    return InstancePaths(home.instances / resolve_instance_id(home.instances, id_or_prefix))


def get_status(home: Home, id_or_prefix: str) -> dict[str, Any]:
    """The SPEC 8 status document of one instance."""
    return status_and_state(home, id_or_prefix)[0]


def status_and_state(home: Home, id_or_prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The status document and the state it was made from (the instance read once; the web UI needs both)."""
    paths = instance_paths(home, id_or_prefix)
    from workflow_cli.store.state import add_task_extras

    state = load_state(paths)
    doc = status_document(state, runner_alive=is_locked(paths.lock), eta_seconds=_eta(home, paths, state))
    return add_task_extras(doc, state), state


def _eta(home: Home, paths: InstancePaths, state: dict[str, Any]) -> float | None:
    if state["status"] in ("completed", "failed", "cancelled"):
        return 0.0
    try:
        from workflow_cli.monitor.eta import estimate_remaining
    except ImportError:
        return None
    return estimate_remaining(home, paths, state)


def list_instances(
    home: Home,
    *,
    status: str | None = None,
    template: str | None = None,
    limit: int | None = None,
    sort: str = "created",
    problems: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Instances, newest first, filtered by status and template."""
    if status is not None and status not in STATUSES:
        from workflow_cli.errors import did_you_mean

        raise InvalidInputError.at("--status", f"unknown status '{status}'", did_you_mean(status, STATUSES) or f"one of: {', '.join(STATUSES)}")
    if sort not in SORT_KEYS:
        raise InvalidInputError.at("--sort", f"unknown sort key '{sort}'", f"one of: {', '.join(SORT_KEYS)}")
    if limit is not None and limit < 0:
        raise InvalidInputError.at("--limit", "must be 0 or more")
    rows = []
    for paths in reversed(instance_dirs(home.instances)):
        try:
            state = load_state(paths)
        except StateError as exc:  # one damaged instance must not hide the others
            if problems is None:
                raise
            problems.append(str(exc))
            continue
        if status and state["status"] != status:
            continue
        if template and state.get("template") != template:
            continue
        rows.append(list_row(state, runner_alive=state["status"] == "running" and is_locked(paths.lock)))
    if sort == "name":
        rows.sort(key=lambda r: (r["name"], r["id"]))
    elif sort == "status":
        rows.sort(key=lambda r: (r["status"], r["id"]))
    return rows[:limit] if limit is not None else rows
