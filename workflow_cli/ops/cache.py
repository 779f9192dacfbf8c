"""``cache list`` and ``cache clear``: the home's result cache (SPEC 8).

Two kinds of entries live under ``<home>/cache/``: task results (``<sha256>.json``, written by runs
of tasks with ``cache``) and results kept through the Python API (``results/<instance>.json``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from workflow_cli.errors import InvalidInputError
from workflow_cli.store.cache import RESULTS_DIR, ResultCache
from workflow_cli.store.home import Home


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    from workflow_cli.clock import utc_iso

    return utc_iso(ts)


def _result_rows(folder: Path) -> list[dict[str, Any]]:
    """Rows for the results the Python API keeps (``cache_workflow_result``)."""
    rows = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            st = path.stat()
        except OSError:
            continue
        rows.append({"kind": "result", "hash": path.stem, "task": None, "template": None, "instance": path.stem,
                     "created": st.st_mtime, "created_at": _iso(st.st_mtime), "expires_at": None, "expired": False,
                     "size": st.st_size, "path": str(path)})
    return rows


def list_cache(home: Home, *, now: float | None = None) -> list[dict[str, Any]]:
    """Every entry, oldest first: hash, task, template, instance, created/expires times, size, expired."""
    now = time.time() if now is None else now
    rows = []
    for entry in ResultCache(home.cache).entries():
        expires = entry.get("expires")
        rows.append({"kind": "task", "hash": entry["hash"], "task": entry.get("task"), "template": entry.get("template"),
                     "instance": entry.get("instance"), "action": entry.get("action"), "created": entry.get("created"),
                     "created_at": entry.get("created_at") or _iso(entry.get("created")), "expires_at": entry.get("expires_at"),
                     "expired": isinstance(expires, (int, float)) and now >= expires, "corrupt": entry.get("corrupt", False),
                     "size": entry.get("size", 0), "path": entry.get("path")})
    rows += _result_rows(home.cache / RESULTS_DIR)
    return sorted(rows, key=lambda r: (r.get("created") or 0, r["hash"]))


def clear_cache(home: Home, *, older_than: str | None = None, now: float | None = None) -> dict[str, Any]:
    """Remove entries made more than ``older_than`` ago (``30m``, ``2h``, ``7d``; None: every entry)."""
    now = time.time() if now is None else now
    before = None
    if older_than is not None:
        from workflow_cli.clock import parse_duration

        seconds = parse_duration(older_than)
        if seconds is None:
            raise InvalidInputError.at("--older-than", f"not a duration: {older_than!r}", "e.g. 30m, 2h, 7d, 1h30m")
        before = now - seconds
    removed = ResultCache(home.cache).clear(before=before)
    results = home.cache / RESULTS_DIR
    for path in sorted(results.glob("*.json")) if results.is_dir() else []:
        try:
            if before is None or path.stat().st_mtime < before:
                path.unlink()
                removed.append(path.stem)
        except FileNotFoundError:
            continue
    return {"removed": len(removed), "entries": removed, "older_than": older_than}
