"""Reading instances through the home's index (store/index.py), the files staying the truth.

``open_index`` gives a connection brought in line with the instance folders, or None when there is
no index to use (then callers read every instance's files, as without an index). ``verified`` reads
the files of the instances whose rows cannot be trusted (the unfinished ones) and heals their rows.
``WORKFLOW_CLI_INDEX=off`` turns the index off (every command then reads the files).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workflow_cli.errors import WorkflowError
from workflow_cli.store import index
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths, load_state, read_document


Loader = Callable[[str], "dict[str, Any] | None"]  # id -> row values from the files (None: folder gone)


# ---- the index against the folders -------------------------------------------------------------------


def _fingerprint(instances_dir: Path) -> str | None:
    try:
        st = os.stat(instances_dir)
    except OSError:
        return None
    return f"{st.st_mtime_ns}:{st.st_nlink}:{st.st_ino}"


def fingerprint_before(instances_dir: Path) -> str | None:
    """The instances folder's fingerprint, taken before a change to pass to :func:`moved_on`."""
    return _fingerprint(instances_dir)


def moved_on(conn: sqlite3.Connection, instances_dir: Path, before: str | None) -> None:
    """After a change of ours to the instances folder: store its new fingerprint if ``before`` was current."""
    after = _fingerprint(instances_dir)
    with index.LOCK:
        conn.execute("UPDATE meta SET value=? WHERE key='fingerprint' AND value=?", (after, before))


# ---- freshness ---------------------------------------------------------------------------------------


def sync(conn: sqlite3.Connection, instances_dir: Path, load: Loader) -> None:
    """Bring the rows in line with the folders when the instances folder changed behind the index's back."""
    current = _fingerprint(instances_dir)
    stored = conn.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
    if current is None or (stored is not None and stored[0] == current):
        return
    with index.LOCK:
        conn.execute("BEGIN IMMEDIATE")
        try:
            stored = conn.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
            if stored is None or stored[0] != current:
                _reconcile(conn, instances_dir, load)
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?)", (current,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _reconcile(conn: sqlite3.Connection, instances_dir: Path, load: Loader) -> None:
    with os.scandir(instances_dir) as entries:
        on_disk = {e.name for e in entries if not e.name.startswith(".") and e.is_dir()}
    indexed = {row[0] for row in conn.execute("SELECT id FROM instances")}
    gone = indexed - on_disk
    conn.executemany("DELETE FROM instances WHERE id=?", [(i,) for i in gone])
    rows = [load(instance_id) for instance_id in sorted(on_disk - indexed)]
    index.upsert_full(conn, [r for r in rows if r is not None])



# ---- reading through the index -----------------------------------------------------------------------


def enabled() -> bool:
    """Whether commands may use the index (``WORKFLOW_CLI_INDEX=off`` says no)."""
    return os.environ.get("WORKFLOW_CLI_INDEX", "").lower() not in ("off", "0", "no", "false")


def open_index(home: Home, *, write: bool) -> sqlite3.Connection | None:
    """The home's index, synced with the folders; made when missing if ``write``; None: read the files."""
    if not enabled():
        return None
    try:
        conn = index.connection(home.root, create=write)
        if conn is not None:
            sync(conn, home.instances, lambda instance_id: load_row(home, instance_id))
        return conn
    except (sqlite3.Error, OSError):
        return None


def declared_expected(paths: InstancePaths) -> float | None:
    """The ``expected_duration_seconds`` the instance's document declares, if any."""
    try:
        value = read_document(paths).get("expected_duration_seconds")
    except (WorkflowError, OSError, ValueError):
        return None
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def load_row(home: Home, instance_id: str) -> dict[str, Any] | None:
    """The full index row of an instance, from its files (None when its folder is gone)."""
    paths = InstancePaths(home.instances / instance_id)
    if not paths.root.is_dir():
        return None
    try:
        row = index.summary_of(load_state(paths), instance_id)
    except (WorkflowError, OSError, ValueError):
        return {**index.damaged_row(instance_id), "expected_seconds": None, "expected_known": 0}
    return {**row, "expected_seconds": declared_expected(paths), "expected_known": 1}


@dataclass
class Checked:
    """An instance read from its files: its state, or why it could not be read."""

    paths: InstancePaths
    state: dict[str, Any] | None = None
    error: Exception | None = None


# what a row must say right; progress and the like of an unfinished row are read from the files anyway
_COMPARED = ("status", "template", "name", "finished_at")


def verified(home: Home, conn: sqlite3.Connection | None, ids: Iterable[str],
             stored: dict[str, Any] | None = None) -> Iterator[Checked]:
    """Read each instance's files; heal its row when the files say something else (``stored``: id -> row)."""
    for instance_id in ids:
        paths = InstancePaths(home.instances / instance_id)
        try:
            state = load_state(paths)
        except (WorkflowError, OSError, ValueError) as exc:
            if not paths.root.is_dir():
                _heal(conn, remove=instance_id)
                continue
            yield Checked(paths, error=exc)
            continue
        if conn is not None:
            row = (stored or {}).get(instance_id)
            summary = index.summary_of(state, instance_id)
            if row is None or any(row[k] != summary[k] for k in _COMPARED):
                _heal(conn, upsert=summary)
        yield Checked(paths, state=state)


def _heal(conn: sqlite3.Connection | None, *, upsert: dict[str, Any] | None = None, remove: str | None = None) -> None:
    if conn is None:
        return
    try:
        if upsert is not None:
            index.upsert(conn, [upsert])
        if remove is not None:
            index.remove(conn, [remove])
    except (sqlite3.Error, OSError):
        pass


def unfinished_rows(conn: sqlite3.Connection) -> dict[str, Any]:
    """id -> row of every instance whose row is not of a finished instance (to check against the files)."""
    return {r["id"]: r for r in index.unfinished(conn)}
