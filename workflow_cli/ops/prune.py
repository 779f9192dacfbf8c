"""``prune``: delete (or archive) old finished instances and their checkpoints."""

from __future__ import annotations

import shutil
import sqlite3
from typing import Any, Sequence

from workflow_cli.errors import InvalidInputError
from workflow_cli.store.home import Home
from workflow_cli.store import index
from workflow_cli.store import indexed
from workflow_cli.store.indexed import open_index, unfinished_rows, verified
from workflow_cli.store.instances import InstancePaths, instance_dirs, load_state
from workflow_cli.store.locks import is_locked

FINISHED = ("completed", "failed", "cancelled")


def _candidates(home: Home, conn: Any, statuses: list[str], cutoff: float) -> list[InstancePaths]:
    """Instances that may be prunable (each is checked against its files by the caller): with the index,
    the rows finished in ``statuses`` by ``cutoff``, after the unfinished rows are checked and healed."""
    if conn is None:
        return instance_dirs(home.instances)
    try:
        stored = unfinished_rows(conn)
        for _ in verified(home, conn, stored, stored):
            pass  # heals rows whose instance finished without the index hearing of it
        ids = index.finished_before(conn, statuses, cutoff)
    except sqlite3.Error:
        return instance_dirs(home.instances)
    return [InstancePaths(home.instances / i) for i in ids]


def _forget(conn: Any, home: Home, instance_id: str, before: str | None) -> None:
    """Drop a pruned instance's row and move the index's fingerprint on past the removal."""
    if conn is None:
        return
    try:
        index.remove(conn, [instance_id])
        indexed.moved_on(conn, home.instances, before)
    except (sqlite3.Error, OSError):
        pass  # the fingerprint no longer matches: the next reader drops the row


def _retention(home: Home, older_than: str | None, statuses: Sequence[str]) -> tuple[str, Sequence[str]]:
    """``--older-than``/``--status``, else the defaults of ``retention`` in config.yaml (SPEC 6.5)."""
    if older_than is not None and statuses:
        return older_than, statuses
    from workflow_cli.store.config import load_config

    retention = load_config(home).get("retention") or {}
    older_than = older_than if older_than is not None else retention.get("older_than")
    if older_than is None:
        raise InvalidInputError.at("--older-than", "missing: give --older-than (e.g. 30d), "
                                   f"or set retention.older_than in {home.config_file}")
    return older_than, list(statuses or retention.get("status") or ())


def prune(home: Home, *, older_than: str | None, statuses: Sequence[str] = (), archive: bool = False,
          dry_run: bool = False, now: float | None = None) -> dict[str, Any]:
    """Finished instances whose finish is older than ``older_than`` (``7d``, ``12h``...): removed or archived."""
    from workflow_cli.clock import SystemClock, parse_duration, parse_iso

    older_than, statuses = _retention(home, older_than, statuses)
    seconds = parse_duration(older_than)
    if seconds is None:
        raise InvalidInputError.at("--older-than", f"not a duration: {older_than!r}", "e.g. 30m, 12h, 7d, 2w")
    unknown = [s for s in statuses if s not in FINISHED]
    if unknown:
        raise InvalidInputError.at("--status", f"only finished instances can be pruned, not '{unknown[0]}'", f"one of: {', '.join(FINISHED)}")
    cutoff = (now if now is not None else SystemClock().time()) - seconds
    wanted = set(statuses or FINISHED)
    done: list[dict[str, Any]] = []
    conn = open_index(home, write=not dry_run)
    for paths in _candidates(home, conn, sorted(wanted), cutoff):
        state = load_state(paths)
        finished = state.get("finished_at")
        if state["status"] not in wanted or not finished or parse_iso(finished) > cutoff or is_locked(paths.lock):
            continue
        done.append({"id": paths.id, "status": state["status"], "finished_at": finished, "template": state.get("template")})
        if dry_run:
            continue
        checkpoints = home.checkpoints / paths.id
        before = indexed.fingerprint_before(home.instances)
        if archive:
            target = home.root / "archive"
            (target / "instances").mkdir(parents=True, exist_ok=True, mode=0o700)
            (target / "checkpoints").mkdir(parents=True, exist_ok=True, mode=0o700)
            paths.root.rename(target / "instances" / paths.id)
            if checkpoints.exists():
                checkpoints.rename(target / "checkpoints" / paths.id)
        else:
            # rename first so a crash never leaves a half-deleted instance that looks valid
            doomed = home.instances / f".pruning-{paths.id}"
            paths.root.rename(doomed)
            shutil.rmtree(doomed, ignore_errors=True)
            shutil.rmtree(checkpoints, ignore_errors=True)
        _forget(conn, home, paths.id, before)
    return {"pruned": done, "archived": archive, "dry_run": dry_run}
