"""Read-only operations: ``list`` and ``status``. They never create or change a file."""

from __future__ import annotations

import sqlite3
from typing import Any

from workflow_cli.errors import InvalidInputError, StateError
from workflow_cli.monitor.summary import list_row, status_document
from workflow_cli.store.home import Home, refuse_shared_instance
from workflow_cli.store import index
from workflow_cli.store.ids import _MAX_CANDIDATES, _check_prefix, pick_match, resolve_instance_id
from workflow_cli.store.indexed import open_index, unfinished_rows, verified
from workflow_cli.store.instances import InstancePaths, instance_dirs, load_state
from workflow_cli.store.locks import is_locked

SORT_KEYS = ("created", "name", "status")
STATUSES = ("created", "queued", "running", "waiting", "paused", "completed", "failed", "cancelled")


def instance_paths(home: Home, id_or_prefix: str) -> InstancePaths:
    """The folder of the instance an id or unique prefix names (NotFoundError otherwise)."""
    paths = InstancePaths(home.instances / resolve_id(home, id_or_prefix))
    refuse_shared_instance(paths.root)
    return paths


def resolve_id(home: Home, id_or_prefix: str) -> str:
    """The id an id or unique prefix names: an exact folder, else the index's ids, else a scan of the folder."""
    _check_prefix(id_or_prefix)
    if (home.instances / id_or_prefix).is_dir():
        return id_or_prefix
    conn = open_index(home, write=False)
    if conn is None:
        return resolve_instance_id(home.instances, id_or_prefix)
    try:
        matches, count = index.ids_with_prefix(conn, id_or_prefix, _MAX_CANDIDATES)
    except sqlite3.Error:
        return resolve_instance_id(home.instances, id_or_prefix)
    return pick_match(id_or_prefix, matches, count)


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
    if template is not None and not template.strip():
        raise InvalidInputError.at("--template", "the template name is empty", "give a template name, or leave --template out")
    if limit is not None and limit < 0:
        raise InvalidInputError.at("--limit", "must be 0 or more")
    if limit is not None and limit > 2**62:
        limit = None  # more rows than any home holds, and more than sqlite's INTEGER takes
    conn = open_index(home, write=False)
    if conn is not None:
        try:
            return _list_indexed(home, conn, status=status, template=template, limit=limit, sort=sort, problems=problems)
        except sqlite3.Error:
            pass  # read the files instead
    rows = []
    for paths in reversed(instance_dirs(home.instances)):
        try:
            state = load_state(paths, verify=False)
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
    return _sorted(rows, sort, limit)


def _sorted(rows: list[dict[str, Any]], sort: str, limit: int | None) -> list[dict[str, Any]]:
    if sort == "name":
        rows.sort(key=lambda r: (r["name"], r["id"]))
    elif sort == "status":
        rows.sort(key=lambda r: (r["status"], r["id"]))
    else:
        rows.sort(key=lambda r: r["id"], reverse=True)
    return rows[:limit] if limit is not None else rows


def _list_indexed(home: Home, conn: Any, *, status: str | None, template: str | None, limit: int | None,
                  sort: str, problems: list[str] | None) -> list[dict[str, Any]]:
    """``list`` from the index: rows of finished instances as stored, the others read from their files."""
    stored = unfinished_rows(conn)
    rows: list[dict[str, Any]] = []
    for checked in verified(home, conn, stored, stored):
        if checked.state is None:
            if problems is None:
                raise checked.error  # type: ignore[misc]
            problems.append(str(checked.error))
            continue
        state = checked.state
        if (status and state["status"] != status) or (template and state.get("template") != template):
            continue
        rows.append(list_row(state, runner_alive=state["status"] == "running" and is_locked(checked.paths.lock)))
    finished = [s for s in index.TERMINAL if status in (None, s)]
    seen = {r["id"] for r in rows}
    if finished:
        for row in index.query(conn, statuses=finished, template=template, sort=sort, limit=limit):
            if row["id"] not in seen:  # a row just healed from unfinished to finished is already listed
                rows.append(_finished_row(row))
    return _sorted(rows, sort, limit)


def _finished_row(row: Any) -> dict[str, Any]:
    """A ``list --json`` row of a finished instance, from its index row."""
    return {"id": row["id"], "name": row["name"] or "", "template": row["template"], "status": row["status"],
            "display_status": row["status"], "progress": row["progress"], "created_at": row["created_at"],
            "finished_at": row["finished_at"]}
