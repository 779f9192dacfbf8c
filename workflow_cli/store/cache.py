"""The task result cache (SPEC 3 ``cache``, 8 ``cache list|clear``): one JSON file per entry.

An entry is ``<home>/cache/<sha256>.json``, named by the hash of (rendered key, action, rendered
parameters), so any instance of the home that would run the same thing finds it. It holds the
outputs, the time it was made and when it expires. Entries are replaced atomically; a corrupt or
unreadable entry counts as a miss (``cache clear`` removes it). Results kept by the Python API
(``cache_workflow_result``) live apart, in ``<home>/cache/results/<instance>.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

from workflow_cli.store.atomic import write_json_atomic

CACHE_FORMAT = 1
RESULTS_DIR = "results"


def entry_hash(key: Any, action: str, parameters: Mapping[str, Any]) -> str:
    """The sha256 (hex) naming the entry of a rendered key, an action and its rendered parameters."""
    payload = json.dumps([key, action, parameters], sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ResultCache:
    """Entries under one folder (``<home>/cache``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        """The file of one entry."""
        return self.root / f"{digest}.json"

    def get(self, digest: str, now: float) -> dict[str, Any] | None:
        """The entry if it exists, is readable and has not expired at ``now``; else None."""
        entry = _read(self.path(digest))
        if entry is None:
            return None
        expires = entry.get("expires")
        if isinstance(expires, (int, float)) and now >= expires:
            return None
        return entry

    def put(self, digest: str, outputs: Any, *, now: float, ttl_seconds: float | None, about: Mapping[str, Any]) -> Path:
        """Store ``outputs`` under ``digest`` (``about``: key, task, template, instance, action)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        expires = now + float(ttl_seconds) if ttl_seconds else None
        entry = {"format": CACHE_FORMAT, "hash": digest, **dict(about), "created": now, "created_at": _iso(now),
                 "ttl_seconds": ttl_seconds, "expires": expires, "expires_at": _iso(expires) if expires else None,
                 "outputs": outputs}
        path = self.path(digest)
        write_json_atomic(path, entry)
        return path

    def entries(self) -> list[dict[str, Any]]:
        """Every entry's description (outputs left out), oldest first; an unreadable one is ``corrupt``."""
        rows = []
        for path in self._files():
            entry = _read(path)
            size = _size(path)
            if entry is None:
                rows.append({"hash": path.stem, "corrupt": True, "size": size, "created": _mtime(path), "path": str(path)})
                continue
            row = {k: v for k, v in entry.items() if k not in ("outputs", "format")}
            row.update(size=size, path=str(path), corrupt=False)
            rows.append(row)
        return sorted(rows, key=lambda r: (r.get("created") or 0, r["hash"]))

    def clear(self, *, before: float | None = None) -> list[str]:
        """Remove entries made before ``before`` (None: every entry); returns the removed hashes."""
        removed = []
        for path in self._files():
            if before is not None:
                entry = _read(path)
                created = entry.get("created") if entry is not None else _mtime(path)
                if isinstance(created, (int, float)) and created >= before:
                    continue
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed.append(path.stem)
        return removed

    def _files(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.glob("*.json") if p.is_file() and not p.name.startswith("."))


def _iso(ts: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _read(path: Path) -> dict[str, Any] | None:
    """An entry's content, or None when it is missing, unreadable or not an entry."""
    try:
        entry = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(entry, dict) or entry.get("format") != CACHE_FORMAT or "outputs" not in entry:
        return None
    return entry


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _mtime(path: Path) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None
