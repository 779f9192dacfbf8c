"""A mailbox through which other processes hand requests (stop, cancel, approve, ...) to a live runner (SPEC 6.6).

Only the runner appends to ``events.jsonl``; a command that wants to change a live instance posts a request
file instead. The runner records each request in its event log and only then acks (deletes) it, so a crash
between the two replays the request: the request's ``id`` lets the runner recognize one it already logged.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workflow_cli.errors import InvalidInputError
from workflow_cli.store.atomic import fsync_dir, read_json, write_json_atomic
from workflow_cli.clock import utc_now
from workflow_cli.store.events import default_actor
from workflow_cli.store.home import make_private_dir

REQUEST_FORMAT = 1
REQUESTS_DIR = "requests"
_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_NAME = re.compile(r"^(\d+)-(\d+)-([a-z][a-z0-9_]*)\.json$")
_WAY_OUT = "delete the file and post the request again"

_clock_lock = threading.Lock()
_last_ns = 0


def _unique_ns() -> int:
    """Nanoseconds since the epoch, strictly increasing within this process (two posts never share a name)."""
    global _last_ns
    with _clock_lock:
        _last_ns = max(time.time_ns(), _last_ns + 1)
        return _last_ns


def post_request(instance_dir: Path, kind: str, data: Mapping[str, Any] | None = None, *,
                 actor: str | None = None) -> Path:
    """Write ``requests/<time_ns>-<pid>-<kind>.json`` atomically and return its path."""
    if not _KIND.match(kind):
        raise InvalidInputError(f"invalid request kind {kind!r}: expected lowercase letters, digits and '_'")
    folder = make_private_dir(Path(instance_dir) / REQUESTS_DIR)
    stem = f"{_unique_ns():020d}-{os.getpid()}-{kind}"
    path = folder / f"{stem}.json"
    body = {"v": REQUEST_FORMAT, "id": stem, "kind": kind, "time": utc_now(), "pid": os.getpid(),
            "actor": actor or default_actor(), "data": dict(data or {})}
    write_json_atomic(path, body)
    return path


def _order(path: Path) -> tuple[int, int, str]:
    """Sort key: posting time, then pid, then name."""
    match = _NAME.match(path.name)
    assert match is not None
    return int(match.group(1)), int(match.group(2)), path.name


def pending_requests(instance_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The requests not yet acked, oldest first, as (path, request) pairs; nothing is removed.

    Raises:
        StateError: a request file is corrupt (they are written atomically, so this means outside damage).
    """
    folder = Path(instance_dir) / REQUESTS_DIR
    try:
        with os.scandir(folder) as entries:
            paths = sorted((Path(e.path) for e in entries if _NAME.match(e.name)), key=_order)
    except FileNotFoundError:
        return []
    found = []
    for path in paths:
        try:
            request = read_json(path, what="request file", way_out=_WAY_OUT)
        except FileNotFoundError:
            continue  # acked by another reader meanwhile
        found.append((path, request))
    return found


def ack_request(path: Path) -> None:
    """Delete a handled request, durably (a missing file is fine: acking twice is harmless)."""
    path = Path(path)
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)
