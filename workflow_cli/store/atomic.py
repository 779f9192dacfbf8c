"""Atomic file replacement and strict JSON reading for state files (SPEC 7.1)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

from workflow_cli.errors import StateError
from workflow_cli.store.codec import dumps

_DEFAULT_WAY_OUT = "restore it from a backup or remove it"


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename or a new file in it) to disk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some file systems (and platforms) cannot fsync a folder; the data itself was fsynced.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (os.write may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_bytes_atomic(path: Path, data: bytes, *, mode: int = 0o600, sync_dir: bool = True) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new content, never a mix.

    ``sync_dir=False`` leaves the rename itself to the file system's next commit: for a file whose old
    content is still right if the replacement is lost in a crash (a snapshot that the event log completes).
    """
    path = Path(path)
    folder = path.parent
    tmp = folder / f".{path.name}.{os.urandom(4).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        try:
            os.fchmod(fd, mode)  # exact mode whatever the umask
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(folder)


def dumps_json(obj: Any) -> str:
    """Serialize ``obj`` the way every state file is written (compact UTF-8 JSON, :mod:`.codec`)."""
    return dumps(obj).decode("utf-8")


def write_json_atomic(path: Path, obj: Any, *, mode: int = 0o600) -> None:
    """Serialize ``obj`` first, then replace ``path`` atomically; a serialization error writes nothing."""
    data = dumps(obj) + b"\n"
    write_bytes_atomic(path, data, mode=mode)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON value {name}")


def read_json(path: Path, *, what: str = "state file", way_out: str | None = None) -> Any:
    """Load a JSON state file; raise StateError naming the file and the way out when it is corrupt.

    Raises:
        FileNotFoundError: the file does not exist (callers decide what that means).
        StateError: the file is empty, not UTF-8, not JSON, or holds NaN/Infinity.
    """
    path = Path(path)
    raw = path.read_bytes()
    hint = way_out or _DEFAULT_WAY_OUT
    if not raw.strip():
        raise StateError(f"{path}: corrupt {what}: the file is empty; {hint}")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise StateError(f"{path}: corrupt {what}: {exc}; {hint}") from exc


def check_output_path(path: Path, option: str, *, parent_must_exist: bool = True) -> Path:
    """A path the user names for output (``--output``, ``--junit``, ``--events``), checked (SPEC 14).

    Only a regular file (or nothing) may be there: a symlink, FIFO, device or folder is refused, so the
    command never writes through a link nor replaces ``/dev/full`` with a file.

    Raises:
        InvalidInputError: what is there is not a regular file, or (``parent_must_exist``) its folder is missing.
    """
    import stat

    from workflow_cli.errors import InvalidInputError

    target = Path(os.path.abspath(Path(path).expanduser()))
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        if parent_must_exist and not target.parent.is_dir():
            raise InvalidInputError.at(option, f"cannot write {target}: the folder {target.parent} does not exist",
                                       "create it first, or choose another path") from None
        return target
    except OSError as exc:
        raise InvalidInputError.at(option, f"cannot write {target}: {exc.strerror or exc}") from exc
    if stat.S_ISREG(st.st_mode):
        return target
    kind = ("a symlink" if stat.S_ISLNK(st.st_mode) else "a folder" if stat.S_ISDIR(st.st_mode)
            else "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "not a regular file")
    raise InvalidInputError.at(option, f"{target} is {kind}; refusing to write there", "name a regular file")
