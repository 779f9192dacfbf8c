"""The instance index: ``<home>/index.sqlite3``, one row per instance, beside the files (which stay the truth).

What it holds per instance: id, template, name, status, the created/started/finished times, the next
time something is due (``next_wake_at``: a retry, a timer, a wait's timeout), progress, the health
group (``hkey``: template, else name), the declared expected duration, and, for a ``queued``
instance, the run queue's ``priority`` and ``queued_at`` (from its state).

How it stays right:

- Every change of an instance's status is written here by the one who makes it (create, the journal
  of a runner or of an operation): a row is upserted *before* an instance leaves a finished status
  and *after* it reaches one, so a crash in between leaves a row saying "not finished". Readers
  trust the rows of finished instances and read the files of every other row (a few: those running,
  waiting, paused or just created), healing the row when the files say otherwise.
- Folders added or removed behind its back (a copy, a restore, ``rm -r``) are noticed by the
  instances folder's fingerprint (mtime, link count, inode), stored after every sync: when it differs,
  the folder is listed and compared with the rows (missing ones are read from their files, extra
  ones dropped). A writer moves the stored fingerprint on only when it was the one before its own
  change (compare-and-set), so a change made by someone else meanwhile is not hidden.
- A missing, corrupt or older-format index is rebuilt from the files by the next command that
  writes (``create``, ``run``, ``tick``, ``prune``...). Read-only commands use an index that exists
  and fall back to reading every instance when there is none. Deleting the file is always safe.

SQLite in WAL mode with ``synchronous=NORMAL``: a commit does not fsync (the index is a cache; the
event logs are fsynced). Any sqlite or OS error makes the caller fall back to the files.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

INDEX_NAME = "index.sqlite3"
INDEX_FORMAT = 1
TERMINAL = ("completed", "failed", "cancelled")
DAMAGED = "damaged"  # a row for an instance whose files could not be read (always re-read)
STATE_COLUMNS = ("template", "name", "status", "created_at", "started_at", "finished_at", "finished_ts",
                 "next_wake_at", "progress", "hkey", "priority", "queued_at")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS instances (
    id TEXT PRIMARY KEY, template TEXT, name TEXT, status TEXT NOT NULL,
    created_at TEXT, started_at TEXT, finished_at TEXT, finished_ts REAL, next_wake_at REAL,
    priority INTEGER, queued_at TEXT, progress REAL, hkey TEXT,
    expected_seconds REAL, expected_known INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS instances_status ON instances (status, id);
CREATE INDEX IF NOT EXISTS instances_status_name ON instances (status, name, id);
CREATE INDEX IF NOT EXISTS instances_template ON instances (template, status, id);
CREATE INDEX IF NOT EXISTS instances_hkey ON instances (hkey, status, id);
CREATE INDEX IF NOT EXISTS instances_finished ON instances (status, finished_ts);
CREATE INDEX IF NOT EXISTS instances_unfinished ON instances (id) WHERE status NOT IN ('completed', 'failed', 'cancelled');
CREATE TABLE IF NOT EXISTS schema_ok (key TEXT PRIMARY KEY, at REAL);
CREATE INDEX IF NOT EXISTS schema_ok_at ON schema_ok (at);
"""

LOCK = threading.RLock()  # one writer at a time per process (the connection is shared by threads)
_connections: dict[str, sqlite3.Connection] = {}


def index_path(home_root: Path) -> Path:
    """Where the index of a home lives."""
    return Path(home_root) / INDEX_NAME


def _iso_ts(value: Any) -> float | None:
    """Seconds since the epoch of an ISO time (or a number), None when absent or unreadable."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def _next_wake(tasks: Mapping[str, Any]) -> float | None:
    """The earliest retry, timer or wait timeout among the tasks."""
    due: list[float] = []
    for task in tasks.values():
        if task.get("status") == "pending" and task.get("next_attempt_at"):
            due.append(_iso_ts(task["next_attempt_at"]) or 0.0)
        elif task.get("status") == "waiting":
            waiting = task.get("waiting") or {}
            for key in ("until", "timeout_at"):
                if (when := _iso_ts(waiting.get(key))) is not None:
                    due.append(when)
    return min(due) if due else None


def summary_of(state: Mapping[str, Any], instance_id: str | None = None) -> dict[str, Any]:
    """The index row (state columns) of an instance's state (``instance_id``: its folder's name, if known)."""
    tasks = state.get("tasks") or {}
    status, queue = state["status"], state.get("queue") or {}
    done = sum(1 for t in tasks.values() if t.get("status") in ("completed", "failed", "skipped", "cancelled"))
    return {
        "id": instance_id or state["id"], "template": state.get("template"), "name": state.get("name", ""), "status": state["status"],
        "created_at": state.get("created_at"), "started_at": state.get("started_at"),
        "finished_at": state.get("finished_at"), "finished_ts": _iso_ts(state.get("finished_at")),
        "next_wake_at": _next_wake(tasks), "progress": round(100.0 * done / len(tasks), 1) if tasks else 100.0,
        "hkey": str(state.get("template") or state.get("name") or "(unknown)"),
        "priority": queue.get("priority") if status == "queued" else None,
        "queued_at": queue.get("queued_at") if status == "queued" else None,
    }


def damaged_row(instance_id: str) -> dict[str, Any]:
    """The row of an instance whose files cannot be read (readers re-read it every time)."""
    return {"id": instance_id, "template": None, "name": "", "status": DAMAGED, "created_at": None, "started_at": None,
            "finished_at": None, "finished_ts": None, "next_wake_at": None, "progress": 0.0,
            "hkey": "(unknown)"}


# ---- connection --------------------------------------------------------------------------------------


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.row_factory = sqlite3.Row
    return conn


def connection(home_root: Path, *, create: bool) -> sqlite3.Connection | None:
    """The process's connection to the home's index (made when ``create``); None when there is none to use."""
    path = index_path(home_root)
    key = str(path)
    with LOCK:
        conn = _connections.get(key)
        if conn is not None and path.exists():
            return conn
        if conn is not None:  # the file was deleted under us: start again
            _connections.pop(key, None)
            conn.close()
        if not create and not path.exists():
            return None
        if create and not (Path(home_root) / "instances").is_dir():
            return None
        conn = _open(path)
        if conn is None and create and path.exists():  # not a database (any more): start again from the files
            for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
                path.with_name(name).unlink(missing_ok=True)
            conn = _open(path)
        if conn is not None:
            _connections[key] = conn
        return conn


def _open(path: Path) -> sqlite3.Connection | None:
    """A connection to the index at ``path`` (made if missing), its tables ready; None when it cannot be used."""
    conn = None
    try:
        fresh_file = not path.exists()
        conn = _connect(path)
        if fresh_file:
            os.chmod(path, 0o600)
        _ensure_schema(conn)
        return conn
    except (sqlite3.Error, OSError):
        if conn is not None:
            conn.close()
        return None


def _ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(_SCHEMA)
    row = conn.execute("SELECT value FROM meta WHERE key='format'").fetchone()
    if row is None:
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (str(INDEX_FORMAT),))
    elif row[0] != str(INDEX_FORMAT):  # another release's layout: start from the files again
        conn.executescript("DROP TABLE instances; DROP TABLE schema_ok; DELETE FROM meta;")
        conn.executescript(_SCHEMA)
        conn.execute("INSERT INTO meta VALUES ('format', ?)", (str(INDEX_FORMAT),))


def close_all() -> None:
    """Close this process's connections (tests, forked children)."""
    with LOCK:
        for conn in _connections.values():
            conn.close()
        _connections.clear()


# ---- writes ------------------------------------------------------------------------------------------


def _upsert_sql(columns: Sequence[str]) -> str:
    cols = ", ".join(("id", *columns))
    marks = ", ".join("?" for _ in range(len(columns) + 1))
    updates = ", ".join(f"{c}=excluded.{c}" for c in columns)
    return f"INSERT INTO instances ({cols}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {updates}"


_UPSERT_STATE = _upsert_sql(STATE_COLUMNS)
_UPSERT_CREATED = _upsert_sql((*STATE_COLUMNS, "expected_seconds", "expected_known"))


def _values(row: Mapping[str, Any], columns: Sequence[str]) -> tuple[Any, ...]:
    return (row["id"], *(row.get(c) for c in columns))


def upsert(conn: sqlite3.Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write the state columns of ``rows`` (queue and expected-duration columns are left as they are)."""
    with LOCK:
        conn.executemany(_UPSERT_STATE, [_values(r, STATE_COLUMNS) for r in rows])


def upsert_created(conn: sqlite3.Connection, row: Mapping[str, Any], expected_seconds: float | None) -> None:
    """Write a new instance's row, with the expected duration its document declares."""
    upsert_full(conn, [{**row, "expected_seconds": expected_seconds, "expected_known": 1}])


def upsert_full(conn: sqlite3.Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write rows read from the files: the state columns, ``expected_seconds`` and ``expected_known``."""
    columns = (*STATE_COLUMNS, "expected_seconds", "expected_known")
    with LOCK:
        conn.executemany(_UPSERT_CREATED, [_values(r, columns) for r in rows])


def remove(conn: sqlite3.Connection, ids: Iterable[str]) -> None:
    """Drop the rows of ``ids``."""
    with LOCK:
        conn.executemany("DELETE FROM instances WHERE id=?", [(i,) for i in ids])


def note_state(instances_dir: Path, state: Mapping[str, Any]) -> None:
    """Enter an instance's current state in its home's index (made if missing); an index problem is ignored."""
    try:
        conn = connection(Path(instances_dir).parent, create=False)  # made (and filled) by create, not here
        if conn is not None:
            upsert(conn, [summary_of(state)])
    except (sqlite3.Error, OSError):
        pass  # the index is a cache: readers check unfinished rows against the files


# ---- reads -------------------------------------------------------------------------------------------

_ORDER = {"created": "id DESC", "name": "name, id", "status": "id"}
_KEYS: dict[str, Callable[[Any], Any]] = {
    "created": lambda r: _Desc(r["id"]), "name": lambda r: (r["name"] or "", r["id"]), "status": lambda r: (r["status"], r["id"])}


class _Desc(str):
    """A string that sorts the other way round (newest id first)."""

    def __lt__(self, other: str) -> bool:  # type: ignore[override]
        return str.__gt__(self, other)


def query(conn: sqlite3.Connection, *, statuses: Sequence[str], template: str | None = None,
          sort: str = "created", limit: int | None = None) -> list[sqlite3.Row]:
    """Rows in ``statuses`` (of ``template``), ordered as ``list --sort`` orders them, at most ``limit``.

    One query per status, each answered from an index in order (no sort of the whole table), merged here.
    """
    rows: list[sqlite3.Row] = []
    for status in statuses:
        sql = "SELECT * FROM instances WHERE status = ?" + (" AND template = ?" if template is not None else "")
        args: list[Any] = [status, *([template] if template is not None else [])]
        sql += f" ORDER BY {_ORDER[sort]}" + (" LIMIT ?" if limit is not None else "")
        rows += conn.execute(sql, [*args, *([limit] if limit is not None else [])])
    rows.sort(key=_KEYS[sort])
    return rows[:limit] if limit is not None else rows


UNFINISHED_SQL = "SELECT * FROM instances WHERE status NOT IN ('completed', 'failed', 'cancelled') ORDER BY id"


def unfinished(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every row not of a finished instance (oldest first; the partial index holds only those)."""
    return list(conn.execute(UNFINISHED_SQL))


def ids_with_prefix(conn: sqlite3.Connection, prefix: str, limit: int) -> tuple[list[str], int]:
    """The first ``limit`` ids starting with ``prefix`` (in order), and how many there are."""
    bounds = (prefix, prefix + "\U0010ffff")
    rows = conn.execute("SELECT id FROM instances WHERE id >= ? AND id < ? ORDER BY id LIMIT ?", (*bounds, limit))
    ids = [r[0] for r in rows]
    if len(ids) < limit:
        return ids, len(ids)
    return ids, conn.execute("SELECT COUNT(*) FROM instances WHERE id >= ? AND id < ?", bounds).fetchone()[0]


def finished_before(conn: sqlite3.Connection, statuses: Sequence[str], cutoff: float) -> list[str]:
    """Ids of instances in ``statuses`` that finished at or before ``cutoff`` (oldest first)."""
    marks = ", ".join("?" for _ in statuses)
    sql = f"SELECT id FROM instances WHERE status IN ({marks}) AND finished_ts <= ? ORDER BY id"
    return [r[0] for r in conn.execute(sql, (*statuses, cutoff))]


def groups(conn: sqlite3.Connection) -> list[str]:
    """The distinct health groups, found by hopping along the index (one lookup per group, not per row)."""
    found: list[str] = []
    row = conn.execute("SELECT MIN(hkey) FROM instances").fetchone()
    while row is not None and row[0] is not None:
        found.append(row[0])
        row = conn.execute("SELECT MIN(hkey) FROM instances WHERE hkey > ?", (row[0],)).fetchone()
    return found


def recent_by_group(conn: sqlite3.Connection, per_group: int) -> list[sqlite3.Row]:
    """Every unfinished row, and the newest ``per_group`` finished rows of each health group (``hkey``), newest first."""
    rows = unfinished(conn)
    for group in groups(conn):
        finished: list[sqlite3.Row] = []
        for status in TERMINAL:
            finished += conn.execute("SELECT * FROM instances WHERE hkey = ? AND status = ? ORDER BY id DESC LIMIT ?",
                                     (group, status, per_group))
        rows += sorted(finished, key=lambda r: r["id"], reverse=True)[:per_group]
    return sorted(rows, key=lambda r: r["id"], reverse=True)


# ---- the schema-check cache --------------------------------------------------------------------------


def schema_checked(conn: sqlite3.Connection, key: str) -> bool:
    """Whether a document with this key (content hash, tool version, schema hash) passed the schema check."""
    return conn.execute("SELECT 1 FROM schema_ok WHERE key=?", (key,)).fetchone() is not None


SCHEMA_CACHE_SIZE = 10_000


def note_schema_checked(conn: sqlite3.Connection, key: str, now: float) -> None:
    """Remember that a document with this key passed the schema check (the newest SCHEMA_CACHE_SIZE are kept)."""
    with LOCK:
        conn.execute("INSERT OR REPLACE INTO schema_ok VALUES (?, ?)", (key, now))
        conn.execute("DELETE FROM schema_ok WHERE at < (SELECT at FROM schema_ok ORDER BY at DESC LIMIT 1 OFFSET ?)",
                     (SCHEMA_CACHE_SIZE,))
