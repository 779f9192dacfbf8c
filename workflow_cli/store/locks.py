"""OS locks: one ``flock`` per instance held by its runner, and a short-lived home-wide lock (SPEC 6.6).

``flock`` locks belong to an open file description and the kernel drops them when the holder dies, so a
runner killed with SIGKILL never leaves a stale lock. Every descriptor is close-on-exec: a task process
must not inherit (and so keep alive) its runner's lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workflow_cli.errors import ConflictError

LOCK_NAME = "runner.lock"
HOME_LOCK_NAME = ".lock"
# A status probe (is_locked) holds a shared lock for microseconds; a starting runner retries this long
# before concluding that a live runner holds the instance.
_PROBE_GRACE_SECONDS = 0.05
_POLL_SECONDS = 0.01


def try_flock(fd: int, operation: int) -> bool:
    """Take a non-blocking flock; False when someone else holds a conflicting one (the one flock helper)."""
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def try_lock_file(path: Path | str, *, mode: int = 0o600) -> int | None:
    """Open ``path`` (made if missing) and take an exclusive flock without waiting.

    Returns the descriptor (closing it releases the lock), or None when another process holds it.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
    try:
        if try_flock(fd, fcntl.LOCK_EX):
            return fd
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)
    return None


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (it was not deleted or replaced meanwhile)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


class InstanceLock:
    """The exclusive runner lock of one instance, held for the runner's whole life."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def _open_locked(self, blocking: bool) -> int | None:
        """A descriptor of the lock file holding the exclusive lock, or None if a live holder has it."""
        deadline = time.monotonic() + _PROBE_GRACE_SECONDS
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            if blocking:
                fcntl.flock(fd, fcntl.LOCK_EX)
                got = True
            else:
                got = try_flock(fd, fcntl.LOCK_EX)
            if got and _same_file(fd, self.path):
                return fd
            os.close(fd)
            if not got and time.monotonic() >= deadline:
                return None
            time.sleep(_POLL_SECONDS if not got else 0)

    def acquire(self, blocking: bool = False) -> bool:
        """Take the lock; False (at once, unless ``blocking``) when another holder has it."""
        if self._fd is not None:
            return True
        fd = self._open_locked(blocking)
        if fd is None:
            return False
        info = {"pid": os.getpid(), "host": os.uname().nodename,
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode("utf-8"), 0)
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the lock up (clearing the holder info); a no-op when not held."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> InstanceLock:
        if not self.acquire():
            raise ConflictError(f"{self.path}: a live runner holds this instance; wait for it or stop it first")
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_locked(path: Path) -> bool:
    """Whether a live process holds the lock at ``path``; never creates the file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        if not try_flock(fd, fcntl.LOCK_SH):
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def holder_info(path: Path) -> dict[str, Any] | None:
    """The ``pid``, ``host`` and ``started_at`` of the live holder of the lock at ``path``, or None."""
    if not is_locked(path):
        return None
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # the holder is between taking the lock and writing its info
    return info if isinstance(info, dict) else None


@contextmanager
def home_lock(home_root: Path, *, timeout: float = 30.0) -> Iterator[None]:
    """Serialize a short operation across processes with an exclusive flock on ``<home>/.lock``.

    Raises:
        ConflictError: another process held the lock for longer than ``timeout`` seconds.
    """
    path = Path(home_root) / HOME_LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while not try_flock(fd, fcntl.LOCK_EX):
            if time.monotonic() >= deadline:
                raise ConflictError(f"{path}: another workflow-cli process kept the home locked for {timeout:g} s; "
                                    f"try again, or find it with: fuser {path}")
            time.sleep(_POLL_SECONDS)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the flock
