"""The ``file_operation`` action: read, write and manage files inside the allowed roots (SPEC 6.4, 14).

Parameters: ``operation`` (read, write, append, copy, move, delete, mkdir, exists, list, checksum),
``path``, ``dest`` (copy, move), ``content`` (write, append; a non-string is written as JSON),
``encoding`` (default utf-8), ``algorithm`` (checksum: sha256, sha1 or md5), ``recursive`` (delete,
list) and ``overwrite`` (write, copy, move; default true). Paths are relative to the workspace, or
absolute inside a folder of ``file_roots`` in the home's config; see :mod:`workflow_cli.actions._paths`.

Outputs: read ``{content, bytes}``; write/append ``{path, bytes}``; copy/move ``{path, dest, bytes}``;
delete ``{deleted}``; mkdir ``{path}``; exists ``{exists, is_file, is_dir}``; list ``{entries}``;
checksum ``{algorithm, checksum}``. Output paths are workspace-relative when inside the workspace.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Mapping

from workflow_cli.actions._paths import Confined, PathRefusedError, allowed_roots, confine, display
from workflow_cli.actions.base import (
    MAX_OUTPUT_BYTES,
    ActionContext,
    ActionResult,
    flag,
    format_mib,
    outputs_result,
    unknown_key_issues,
)
from workflow_cli.errors import Issue, did_you_mean

ALLOWED = ("operation", "path", "dest", "content", "encoding", "algorithm", "recursive", "overwrite")
OPERATIONS = ("read", "write", "append", "copy", "move", "delete", "mkdir", "exists", "list", "checksum")
ALGORITHMS = ("sha256", "sha1", "md5")
_CHUNK = 1024 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class _OpError(Exception):
    """An operation that cannot be carried out; becomes a failed attempt of kind ``error``."""


class _Op:
    """One run of the action: the parameters, the allowed roots and the helpers the operations share."""

    def __init__(self, ctx: ActionContext) -> None:
        self.ctx = ctx
        self.params = ctx.parameters
        self.roots = allowed_roots(ctx.workspace, ctx.config.get("file_roots"))
        self.encoding = str(self.params.get("encoding") or "utf-8")

    def path(self, key: str = "path") -> Confined:
        return confine(self.params.get(key), self.ctx.workspace, self.roots, what=key)

    def shown(self, path: Path) -> str:
        return display(path, self.ctx.workspace)

    def overwrite(self) -> bool:
        return flag(self.params.get("overwrite"), default=True)

    def text(self) -> bytes:
        if "content" not in self.params:
            raise _OpError(f"operation '{self.params.get('operation')}' needs 'content'")
        content = self.params["content"]
        if not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False, indent=2)
        try:
            return content.encode(self.encoding)
        except UnicodeEncodeError as exc:
            raise _OpError(f"content cannot be encoded as {self.encoding}: {exc.reason}") from exc


def _open_file(path: Path, flags: int, what: str) -> int:
    """``os.open`` that refuses a symlink swapped in after the check and names the path on failure."""
    try:
        return os.open(path, flags | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o666)
    except IsADirectoryError as exc:
        raise _OpError(f"'{what}' is a folder, not a file") from exc
    except FileNotFoundError as exc:
        raise _OpError(f"'{what}' does not exist") from exc


def _write_all(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _read(op: _Op) -> ActionResult:
    target = op.path()
    if not target.resolved.is_file():
        raise _OpError(f"cannot read '{target.raw}': " + ("it is a folder" if target.resolved.is_dir() else "no such file"))
    size = target.resolved.stat().st_size
    if size > MAX_OUTPUT_BYTES:
        return ActionResult.failure(f"'{target.raw}' is {format_mib(size)}; read outputs are limited to 1 MiB", kind="output")
    with os.fdopen(_open_file(target.resolved, os.O_RDONLY, target.raw), "rb") as fh:
        data = fh.read(MAX_OUTPUT_BYTES + 1)
    try:
        content = data.decode(op.encoding)
    except UnicodeDecodeError as exc:
        raise _OpError(f"'{target.raw}' is not {op.encoding} text (byte {exc.start})") from exc
    return outputs_result({"content": content, "bytes": len(data)})


def _write(op: _Op, *, append: bool = False) -> ActionResult:
    target = op.path()
    data = op.text()
    if target.resolved.is_dir():
        raise _OpError(f"cannot write '{target.raw}': it is a folder")
    if not append and target.resolved.exists() and not op.overwrite():
        raise _OpError(f"'{target.raw}' exists and overwrite is false")
    target.resolved.parent.mkdir(parents=True, exist_ok=True)
    mode = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    _write_all(_open_file(target.resolved, mode, target.raw), data)
    op.ctx.log(f"{'appended' if append else 'wrote'} {len(data)} bytes to {op.shown(target.resolved)}")
    return outputs_result({"path": op.shown(target.resolved), "bytes": len(data)})


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for folder, _, files in os.walk(path):
        total += sum(os.lstat(os.path.join(folder, name)).st_size for name in files)
    return total


def _transfer(op: _Op, *, move: bool) -> ActionResult:
    source, dest = op.path(), op.path("dest")
    verb = "move" if move else "copy"
    if not source.resolved.exists():
        raise _OpError(f"cannot {verb} '{source.raw}': no such file")
    if not move and not source.resolved.is_file():
        raise _OpError(f"cannot copy '{source.raw}': it is a folder (copy copies files)")
    target = dest.resolved
    if target.is_dir():  # into an existing folder, like cp and mv; that entry is checked in turn
        target = confine(str(target / source.resolved.name), op.ctx.workspace, op.roots, what="dest").resolved
    if target == source.resolved or source.resolved in target.parents:
        raise _OpError(f"cannot {verb} '{source.raw}' onto or into itself")
    if target.exists() and not op.overwrite():
        raise _OpError(f"'{op.shown(target)}' exists and overwrite is false")
    if target.is_dir():
        raise _OpError(f"cannot {verb} onto the folder '{op.shown(target)}'")
    size = _tree_size(source.resolved)
    target.parent.mkdir(parents=True, exist_ok=True)
    if move:
        shutil.move(str(source.resolved), str(target))
    else:
        shutil.copy2(source.resolved, target, follow_symlinks=False)
    op.ctx.log(f"{verb}d {op.shown(source.resolved)} to {op.shown(target)} ({size} bytes)")
    return outputs_result({"path": op.shown(source.resolved), "dest": op.shown(target), "bytes": size})


def _delete(op: _Op) -> ActionResult:
    target = op.path()
    entry = target.entry
    if entry == target.root or target.resolved == target.root:
        raise _OpError(f"refusing to delete '{target.raw}': it is an allowed root itself")
    if not os.path.lexists(entry):
        return outputs_result({"deleted": False})
    if entry.is_dir() and not entry.is_symlink():
        if flag(op.params.get("recursive"), default=False):
            shutil.rmtree(entry)
        else:
            try:
                entry.rmdir()
            except OSError as exc:
                raise _OpError(f"cannot delete the folder '{target.raw}': {exc.strerror} (set recursive: true)") from exc
    else:
        entry.unlink()
    op.ctx.log(f"deleted {op.shown(entry)}")
    return outputs_result({"deleted": True})


def _mkdir(op: _Op) -> ActionResult:
    target = op.path()
    if target.resolved.exists() and not target.resolved.is_dir():
        raise _OpError(f"cannot create the folder '{target.raw}': a file has that name")
    target.resolved.mkdir(parents=True, exist_ok=True)
    return outputs_result({"path": op.shown(target.resolved)})


def _exists(op: _Op) -> ActionResult:
    path = op.path().resolved
    return outputs_result({"exists": path.exists(), "is_file": path.is_file(), "is_dir": path.is_dir()})


def _list(op: _Op) -> ActionResult:
    target = op.path()
    if not target.resolved.is_dir():
        raise _OpError(f"cannot list '{target.raw}': it is not a folder")
    if not flag(op.params.get("recursive"), default=False):
        return outputs_result({"entries": sorted(os.listdir(target.resolved))})
    entries: list[str] = []
    for folder, dirs, files in os.walk(target.resolved):  # symlinked folders are listed, not entered
        base = Path(folder).relative_to(target.resolved)
        entries += [(base / name).as_posix() for name in dirs + files]
    return outputs_result({"entries": sorted(entries)})


def _checksum(op: _Op) -> ActionResult:
    target = op.path()
    algorithm = str(op.params.get("algorithm") or "sha256").lower()
    if algorithm not in ALGORITHMS:
        raise _OpError(f"unknown checksum algorithm '{algorithm}' (use {', '.join(ALGORITHMS)})")
    if not target.resolved.is_file():
        raise _OpError(f"cannot checksum '{target.raw}': " + ("it is a folder" if target.resolved.is_dir() else "no such file"))
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with os.fdopen(_open_file(target.resolved, os.O_RDONLY, target.raw), "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return outputs_result({"algorithm": algorithm, "checksum": digest.hexdigest()})


_HANDLERS: dict[str, Callable[[_Op], ActionResult]] = {
    "read": _read,
    "write": _write,
    "append": lambda op: _write(op, append=True),
    "copy": lambda op: _transfer(op, move=False),
    "move": lambda op: _transfer(op, move=True),
    "delete": _delete,
    "mkdir": _mkdir,
    "exists": _exists,
    "list": _list,
    "checksum": _checksum,
}


class FileOperationAction:
    """File reads, writes and housekeeping confined to the workspace and ``file_roots``."""

    name = "file_operation"
    shell_fields: tuple[str, ...] = ()
    inline = False

    def run(self, ctx: ActionContext) -> ActionResult:
        """Carry out one operation; see the module docstring for parameters and outputs."""
        operation = ctx.parameters.get("operation")
        handler = _HANDLERS.get(operation) if isinstance(operation, str) else None
        if handler is None:
            hint = did_you_mean(str(operation), OPERATIONS) if operation is not None else None
            return ActionResult.failure(f"unknown operation {operation!r}" + (f" ({hint})" if hint else ""))
        op = _Op(ctx)
        try:
            codecs.lookup(op.encoding)
        except LookupError:
            return ActionResult.failure(f"unknown encoding '{op.encoding}'")
        try:
            return handler(op)
        except (PathRefusedError, _OpError) as exc:
            return ActionResult.failure(f"{operation}: {exc}")
        except OSError as exc:
            where = f" '{exc.filename}'" if exc.filename else ""
            return ActionResult.failure(f"{operation}{where}: {exc.strerror or exc}")

    def validate(self, parameters: Mapping[str, Any], path: str) -> list[Issue]:
        """Static checks: known keys, a known operation, and the paths and content it needs."""
        issues = unknown_key_issues(parameters, ALLOWED, path)
        operation = parameters.get("operation")
        if operation is None:
            issues.append(Issue(f"{path}.operation", "missing required field 'operation'", f"one of: {', '.join(OPERATIONS)}"))
        elif not _templated(operation) and operation not in OPERATIONS:
            hint = did_you_mean(str(operation), OPERATIONS) or f"one of: {', '.join(OPERATIONS)}"
            issues.append(Issue(f"{path}.operation", f"unknown operation {operation!r}", hint))
        if parameters.get("path") in (None, ""):
            issues.append(Issue(f"{path}.path", "missing required field 'path'"))
        if operation in ("copy", "move") and parameters.get("dest") in (None, ""):
            issues.append(Issue(f"{path}.dest", f"operation '{operation}' needs 'dest'"))
        if operation in ("write", "append") and "content" not in parameters:
            issues.append(Issue(f"{path}.content", f"operation '{operation}' needs 'content'"))
        algorithm = parameters.get("algorithm")
        if algorithm is not None and not _templated(algorithm) and str(algorithm).lower() not in ALGORITHMS:
            issues.append(Issue(f"{path}.algorithm", f"unknown algorithm {algorithm!r}", f"one of: {', '.join(ALGORITHMS)}"))
        for key in ("recursive", "overwrite"):
            value = parameters.get(key)
            if value is not None and not _templated(value) and not isinstance(value, bool):
                issues.append(Issue(f"{path}.{key}", "must be true or false"))
        return issues


def _templated(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value
