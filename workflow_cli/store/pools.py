"""Concurrency pools shared by every runner of a home (SPEC 3 ``pool``, 6.5): one ``flock`` per slot.

A pool ``db`` with 2 slots is the files ``<home>/pools/db/slot-0.lock`` and ``slot-1.lock``. An attempt
holds one of them with an exclusive, non-blocking ``flock`` while it runs and closes it afterwards. The
kernel drops a lock when its holder dies, so a runner killed with SIGKILL never leaks a slot, and the
descriptor is close-on-exec, so a task process cannot keep one alive either.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Mapping

from workflow_cli.store.locks import try_lock_file

POOLS_DIR = "pools"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


class PoolSlot:
    """One slot held by this process; :meth:`release` gives it back (calling it twice is harmless)."""

    def __init__(self, pool: str, number: int, fd: int) -> None:
        self.pool = pool
        self.number = number
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        """Whether the slot is still held."""
        return self._fd is not None

    def release(self) -> None:
        """Close the lock file: the slot is free for any runner of the home."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def pool_problem(name: str, pools: Mapping[str, Any], config_file: Path) -> str | None:
    """Why a task cannot use pool ``name`` with the home's ``pools`` configuration (None: it can)."""
    if name not in pools:
        from workflow_cli.errors import did_you_mean

        known = ", ".join(sorted(pools)) or "none"
        hint = did_you_mean(name, list(pools)) or f"pools defined: {known}"
        return f"pool '{name}' is not defined in {config_file} (add 'pools: {{{name}: N}}'; {hint})"
    if not _NAME.match(name):
        return f"pool name '{name}' is not usable as a folder name (letters, digits, '_', '.', '-')"
    return None


def try_acquire(home_root: Path, name: str, slots: int) -> PoolSlot | None:
    """Take a free slot of pool ``name`` (tried in turn, never blocking); None when all are held."""
    folder = Path(home_root) / POOLS_DIR / name
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for number in range(max(1, int(slots))):
        fd = try_lock_file(folder / f"slot-{number}.lock")
        if fd is not None:
            return PoolSlot(name, number, fd)
    return None

