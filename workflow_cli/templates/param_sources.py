"""``--param k=@env:NAME`` and ``--param k=@file:PATH``: a value taken from the environment or a file (SPEC 4).

So a secret never has to appear on a command line (a process listing, a shell history). ``@@`` at the
start stands for a literal ``@``; any other value is taken as written. A file must be a regular file of
at most :data:`MAX_FILE_BYTES`, UTF-8 text; one trailing line ending is dropped (as ``$(cat FILE)``
would), so a token written with ``echo`` works. FIFOs, devices and folders are refused without being
opened for reading (a FIFO would block).
"""

from __future__ import annotations

import os
import stat

MAX_FILE_BYTES = 1024 * 1024
ENV_PREFIX = "@env:"
FILE_PREFIX = "@file:"


class ParamSourceError(ValueError):
    """The environment variable or file a ``--param`` names cannot be read; the message names it."""


def expand_cli_value(text: str) -> str:
    """The value a ``--param`` string stands for: ``@env:``/``@file:`` read, ``@@`` unescaped, else ``text``."""
    if text.startswith("@@"):
        return text[1:]
    if text.startswith(ENV_PREFIX):
        return _from_env(text[len(ENV_PREFIX):])
    if text.startswith(FILE_PREFIX):
        return _from_file(text[len(FILE_PREFIX):])
    return text


def _from_env(name: str) -> str:
    if not name:
        raise ParamSourceError("@env: needs a variable name (for example @env:API_TOKEN)")
    value = os.environ.get(name)
    if value is None:
        raise ParamSourceError(f"environment variable '{name}' is not set")
    return value


def _from_file(path: str) -> str:
    if not path:
        raise ParamSourceError("@file: needs a path (for example @file:token.txt)")
    shown = repr(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ParamSourceError(f"cannot read file {shown}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise ParamSourceError(f"file {shown} is not a regular file ({_kind(info.st_mode)})")
    if info.st_size > MAX_FILE_BYTES:
        raise ParamSourceError(f"file {shown} is {info.st_size} bytes; the limit is {MAX_FILE_BYTES}")
    try:
        # O_NONBLOCK: a path swapped for a FIFO since the stat does not hang us
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise ParamSourceError(f"cannot read file {shown}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise ParamSourceError(f"file {shown} is not a regular file")
        data = fh.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ParamSourceError(f"file {shown} is over the limit of {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParamSourceError(f"file {shown} is not UTF-8 text (byte {exc.start})") from exc
    return text.removesuffix("\n").removesuffix("\r") if text.endswith("\n") else text


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"
