"""Recent agent calls and current load, for ``workflow-cli agents`` (best effort, never fails a task).

``<home>/agents/stats.jsonl`` gets one line per finished call (``time, agent, ok, seconds``); it is
trimmed to its newest part when it grows past :data:`TRIM_BYTES` (a line appended by another process
during the trim may be lost: these are statistics, not state). A call in progress holds a marker file
``<home>/agents/<id>/running/<pid>.<instance>.<task>``; markers of dead processes are ignored and removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any, Iterator

WINDOW = 50
TRIM_BYTES = 4 * 1024 * 1024
_TAIL_BYTES = 512 * 1024


def stats_path(home_root: Path) -> Path:
    """The call log of a home."""
    return Path(home_root) / "agents" / "stats.jsonl"


def _agents_dir(home_root: Path) -> Path:
    from workflow_cli.store.home import make_private_dir

    return make_private_dir(make_private_dir(Path(home_root)) / "agents")


def record_call(home_root: Path, agent_id: str, *, ok: bool, seconds: float, instance: str | None = None,
                task: str | None = None) -> None:
    """Append one finished call to the call log."""
    line = json.dumps({"time": round(time.time(), 3), "agent": agent_id, "ok": bool(ok), "seconds": round(seconds, 4),
                       "instance": instance, "task": task}) + "\n"
    with contextlib.suppress(OSError):
        path = _agents_dir(home_root) / "stats.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))  # one write of a short line: appends do not interleave
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size > TRIM_BYTES:
            _trim(path)


def _trim(path: Path) -> None:
    from workflow_cli.store.atomic import write_bytes_atomic

    with open(path, "rb") as fh:
        fh.seek(max(0, os.fstat(fh.fileno()).st_size - TRIM_BYTES // 2))
        tail = fh.read()
    write_bytes_atomic(path, tail[tail.find(b"\n") + 1 :])


def _tail_lines(path: Path) -> list[bytes]:
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.seek(max(0, size - _TAIL_BYTES))
            data = fh.read()
    except OSError:
        return []
    lines = data.split(b"\n")
    return lines[1:] if size > _TAIL_BYTES else lines  # the first line of a tail may be cut


def recent_stats(home_root: Path, window: int = WINDOW) -> dict[str, dict[str, Any]]:
    """agent -> ``{"calls", "success_rate", "avg_seconds"}`` over its last ``window`` calls."""
    calls: dict[str, list[tuple[bool, float]]] = {}
    for raw in _tail_lines(stats_path(home_root)):
        try:
            entry = json.loads(raw)
            calls.setdefault(str(entry["agent"]), []).append((bool(entry["ok"]), float(entry.get("seconds") or 0)))
        except (ValueError, KeyError, TypeError):
            continue  # a torn or foreign line
    out = {}
    for agent, items in calls.items():
        last = items[-window:]
        out[agent] = {"calls": len(last), "success_rate": round(sum(ok for ok, _ in last) / len(last), 3),
                      "avg_seconds": round(sum(s for _, s in last) / len(last), 3)}
    return out


@contextlib.contextmanager
def running(home_root: Path | None, agent_id: str, instance: str, task: str) -> Iterator[None]:
    """Hold a marker for a call in progress (nothing when there is no home, or it cannot be written)."""
    marker = None
    if home_root is not None:
        with contextlib.suppress(OSError):
            from workflow_cli.store.home import make_private_dir

            folder = make_private_dir(make_private_dir(_agents_dir(home_root) / agent_id) / "running")
            marker = folder / f"{os.getpid()}.{instance}.{task}"
            marker.write_text("")
    try:
        yield
    finally:
        if marker is not None:
            with contextlib.suppress(OSError):
                marker.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def current_load(home_root: Path) -> dict[str, int]:
    """agent -> calls in progress now, from the markers of live processes (stale markers are removed)."""
    load: dict[str, int] = {}
    base = Path(home_root) / "agents"
    if not base.is_dir():
        return load
    for folder in base.glob("*/running"):
        count = 0
        for marker in folder.iterdir():
            pid = marker.name.split(".", 1)[0]
            if pid.isdigit() and int(pid) > 0 and _alive(int(pid)):
                count += 1
            else:
                with contextlib.suppress(OSError):
                    marker.unlink()
        load[folder.parent.name] = count
    return load
