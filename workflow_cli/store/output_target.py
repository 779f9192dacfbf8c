"""Files the user names for output (``report --output``, ``--junit``, ``--events``): regular files only (SPEC 14)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO

from workflow_cli.errors import InvalidInputError


def _kind(mode: int) -> str:
    """A word for a file that is not a regular file."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def check_output_target(path: Path, option: str) -> Path:
    """``path`` made absolute, or InvalidInputError (exit 2) when something other than a regular file is there."""
    target = Path(path).expanduser().absolute()
    try:
        info = target.lstat()
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise InvalidInputError.at(option, f"cannot write {target}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(info.st_mode):
        hint = "give a file name such as report.html" if stat.S_ISDIR(info.st_mode) else "give the path of a regular file"
        raise InvalidInputError.at(option, f"{target} is {_kind(info.st_mode)}", hint)
    return target


def open_output_append(path: Path, option: str) -> IO[str]:
    """Open a regular file for appending text (created 0644); never follows a symlink nor blocks on a FIFO."""
    target = check_output_target(path, option)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(target, flags, 0o644)
    except OSError as exc:
        raise InvalidInputError.at(option, f"cannot write {target}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidInputError.at(option, f"{target} is not a regular file", "give the path of a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "a", encoding="utf-8")
