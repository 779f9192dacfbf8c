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
import contextlib
import errno
import hashlib
import json
import os
import shutil
import stat
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Mapping

from workflow_cli.actions._beneath import NotFoundError, Resolved, resolve
from workflow_cli.actions._paths import PathRefusedError, allowed_roots, display
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


class _OpError(Exception):
    """An operation that cannot be carried out; becomes a failed attempt of kind ``error``."""


class _Op:
    """One run of the action: the parameters, the allowed roots and the helpers the operations share."""

    def __init__(self, ctx: ActionContext) -> None:
        self.ctx = ctx
        self.params = ctx.parameters
        self.roots = allowed_roots(ctx.workspace, ctx.config.get("file_roots"))
        self.encoding = str(self.params.get("encoding") or "utf-8")

    def path(self, key: str = "path", *, create: bool = False, follow: bool = True) -> Resolved:
        try:
            return resolve(self.params.get(key), self.ctx.workspace, self.roots, what=key, create_parents=create, follow=follow)
        except NotFoundError as exc:
            raise _OpError(str(exc)) from exc

    def shown(self, path: PurePosixPath | Path) -> str:
        return display(Path(path), self.roots[0])

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


def _open_regular(target: Resolved, raw: str) -> int:
    """A read descriptor of a regular file (never a symlink, FIFO or device: those could block or lie)."""
    try:
        fd = target.open(os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError as exc:
        raise _OpError(f"'{raw}' does not exist") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _OpError(f"'{raw}' was replaced by a symlink while it was used") from exc
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise _OpError(f"'{raw}' is " + ("a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"))
    os.set_blocking(fd, True)
    return fd


def _read(op: _Op) -> ActionResult:
    with op.path() as target:
        raw = str(op.params.get("path"))
        with os.fdopen(_open_regular(target, raw), "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_OUTPUT_BYTES:
                return ActionResult.failure(f"'{raw}' is {format_mib(size)}; read outputs are limited to 1 MiB", kind="output")
            data = fh.read(MAX_OUTPUT_BYTES + 1)
    try:
        content = data.decode(op.encoding)
    except UnicodeDecodeError as exc:
        raise _OpError(f"'{raw}' is not {op.encoding} text (byte {exc.start})") from exc
    return outputs_result({"content": content, "bytes": len(data)})


def _open_for_write(target: Resolved, raw: str, *, append: bool, overwrite: bool) -> int:
    """A write descriptor of a regular file with one link, created when missing; never through a symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | (os.O_APPEND if append else 0) | (0 if overwrite or append else os.O_EXCL)
    if not target.name:
        raise _OpError(f"cannot write '{raw}': it is a folder")
    try:
        fd = target.open(flags)
    except FileExistsError as exc:
        raise _OpError(f"'{raw}' exists and overwrite is false") from exc
    except IsADirectoryError as exc:
        raise _OpError(f"cannot write '{raw}': it is a folder") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _OpError(f"'{raw}' is refused: a symlink there leads outside the workspace and file_roots") from exc
        raise
    st = os.fstat(fd)
    problem = None if stat.S_ISREG(st.st_mode) else "it is not a regular file"
    if problem is None and st.st_nlink > 1:
        problem = f"it has {st.st_nlink} hard links (writing would change the other names too)"
    if problem:
        os.close(fd)
        raise _OpError(f"cannot write '{raw}': {problem}")
    os.set_blocking(fd, True)
    if not append:
        os.ftruncate(fd, 0)
    return fd


def _write(op: _Op, *, append: bool = False) -> ActionResult:
    data = op.text()
    raw = str(op.params.get("path"))
    with op.path(create=True) as target:
        with os.fdopen(_open_for_write(target, raw, append=append, overwrite=op.overwrite()), "wb") as fh:
            fh.write(data)
        shown = op.shown(target.shown)
    op.ctx.log(f"{'appended' if append else 'wrote'} {len(data)} bytes to {shown}")
    return outputs_result({"path": shown, "bytes": len(data)})


def _into_folder(dest: Resolved, name: str) -> Resolved:
    """``dest`` names an existing folder: the entry ``name`` inside it (like cp and mv)."""
    st = dest.lstat()
    if st is None or not stat.S_ISDIR(st.st_mode):
        return dest
    fd = dest.open(os.O_RDONLY | os.O_DIRECTORY)
    inner = Resolved(fd, name, dest.shown / name, dest.root, [*dest.ancestors, (st.st_dev, st.st_ino)])
    dest.close()
    return inner


def _copy_file(source: Resolved, target: Resolved, raw: str) -> int:
    """Copy a regular file into a fresh temporary name, then rename it over the target (never written through)."""
    src_fd = _open_regular(source, raw)
    tmp = f".{target.name}.{os.urandom(4).hex()}.tmp"
    try:
        st = os.fstat(src_fd)
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=target.dir_fd)
        try:
            with os.fdopen(os.dup(src_fd), "rb") as fin, os.fdopen(out, "wb") as fout:
                shutil.copyfileobj(fin, fout, _CHUNK)
                os.fchmod(fout.fileno(), stat.S_IMODE(st.st_mode))
                os.utime(fout.fileno(), ns=(st.st_atime_ns, st.st_mtime_ns))
            os.rename(tmp, target.name, src_dir_fd=target.dir_fd, dst_dir_fd=target.dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=target.dir_fd)
            raise
        return st.st_size
    finally:
        os.close(src_fd)


def _tree_size(source: Resolved) -> int:
    st = source.lstat()
    if st is None or not stat.S_ISDIR(st.st_mode):
        return st.st_size if st else 0
    total = 0
    fd = source.open(os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _, _, files, dfd in os.fwalk(".", dir_fd=fd):
            total += sum(os.stat(name, dir_fd=dfd, follow_symlinks=False).st_size for name in files)
    finally:
        os.close(fd)
    return total


def _transfer(op: _Op, *, move: bool) -> ActionResult:
    verb = "move" if move else "copy"
    raw = str(op.params.get("path"))
    with op.path(follow=not move) as source:
        src_st = source.lstat()
        if src_st is None or not source.name:
            raise _OpError(f"cannot {verb} '{raw}': " + ("no such file" if src_st is None else "it is an allowed root"))
        if not move and not stat.S_ISREG(src_st.st_mode):
            raise _OpError(f"cannot copy '{raw}': " + ("it is a folder (copy copies files)" if stat.S_ISDIR(src_st.st_mode) else "not a regular file"))
        target = _into_folder(op.path("dest", create=True), source.name)
        if (tst := target.lstat()) is not None and stat.S_ISLNK(tst.st_mode):  # like cp: onto what the link names
            target.close()
            target = resolve(str(target.shown), op.ctx.workspace, op.roots, what="dest")
        with target:
            tst = target.lstat()
            if (src_st.st_dev, src_st.st_ino) in target.ancestors or (tst and (tst.st_dev, tst.st_ino) == (src_st.st_dev, src_st.st_ino)):
                raise _OpError(f"cannot {verb} '{raw}' onto or into itself")
            if tst is not None and not op.overwrite():
                raise _OpError(f"'{op.shown(target.shown)}' exists and overwrite is false")
            if tst is not None and stat.S_ISDIR(tst.st_mode) or not target.name:
                raise _OpError(f"cannot {verb} onto the folder '{op.shown(target.shown)}'")
            size = _tree_size(source)
            if move:
                _move(source, target, raw)
            else:
                _copy_file(source, target, raw)
            shown = op.shown(target.shown)
        op.ctx.log(f"{verb}d {op.shown(source.shown)} to {shown} ({size} bytes)")
        return outputs_result({"path": op.shown(source.shown), "dest": shown, "bytes": size})


def _move(source: Resolved, target: Resolved, raw: str) -> None:
    try:
        os.rename(source.name, target.name, src_dir_fd=source.dir_fd, dst_dir_fd=target.dir_fd)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        st = source.lstat()
        if st is None or not stat.S_ISREG(st.st_mode):
            raise _OpError(f"cannot move '{raw}' to another file system: only files can be") from exc
        _copy_file(source, target, raw)
        os.unlink(source.name, dir_fd=source.dir_fd)


def _remove_tree(name: str, dir_fd: int) -> None:
    """``rm -r`` of the folder ``name`` in ``dir_fd``, by descriptors only (symlinks are removed, never followed)."""
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        for _, dirs, files, folder_fd in os.fwalk(".", topdown=False, dir_fd=fd):
            for entry in files:
                os.unlink(entry, dir_fd=folder_fd)
            for entry in dirs:  # a symlink to a folder is listed here too: unlinked, not entered
                try:
                    os.rmdir(entry, dir_fd=folder_fd)
                except NotADirectoryError:
                    os.unlink(entry, dir_fd=folder_fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def _delete(op: _Op) -> ActionResult:
    raw = str(op.params.get("path"))
    with op.path(follow=False) as target:
        if not target.name:
            raise _OpError(f"refusing to delete '{raw}': it is an allowed root itself")
        st = target.lstat()
        if st is None:
            return outputs_result({"deleted": False})
        if stat.S_ISDIR(st.st_mode):
            if flag(op.params.get("recursive"), default=False):
                _remove_tree(target.name, target.dir_fd)
            else:
                try:
                    os.rmdir(target.name, dir_fd=target.dir_fd)
                except OSError as exc:
                    raise _OpError(f"cannot delete the folder '{raw}': {exc.strerror} (set recursive: true)") from exc
        else:
            os.unlink(target.name, dir_fd=target.dir_fd)
        op.ctx.log(f"deleted {op.shown(target.shown)}")
    return outputs_result({"deleted": True})


def _mkdir(op: _Op) -> ActionResult:
    raw = str(op.params.get("path"))
    with op.path(create=True) as target:
        if target.name:
            try:
                os.mkdir(target.name, 0o777, dir_fd=target.dir_fd)
            except FileExistsError as exc:
                st = target.lstat()
                if st is None or not stat.S_ISDIR(st.st_mode):
                    raise _OpError(f"cannot create the folder '{raw}': a file has that name") from exc
        return outputs_result({"path": op.shown(target.shown)})


def _exists(op: _Op) -> ActionResult:
    try:
        target = op.path()
    except _OpError:  # a folder on the way is missing (or is a file)
        return outputs_result({"exists": False, "is_file": False, "is_dir": False})
    with target:
        st = target.lstat()
    mode = st.st_mode if st else 0
    return outputs_result({"exists": st is not None and not stat.S_ISLNK(mode), "is_file": stat.S_ISREG(mode),
                           "is_dir": stat.S_ISDIR(mode)})


def _list(op: _Op) -> ActionResult:
    raw = str(op.params.get("path"))
    with op.path() as target:
        try:
            fd = target.open(os.O_RDONLY | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError, OSError) as exc:
            raise _OpError(f"cannot list '{raw}': it is not a folder") from exc
    try:
        if not flag(op.params.get("recursive"), default=False):
            return outputs_result({"entries": sorted(os.listdir(fd))})
        entries: list[str] = []
        for folder, dirs, files, _dfd in os.fwalk(".", dir_fd=fd):  # symlinked folders are listed, not entered
            base = PurePosixPath(folder)
            entries += [(base / name).as_posix() for name in dirs + files]
        return outputs_result({"entries": sorted(entries)})
    finally:
        os.close(fd)


def _checksum(op: _Op) -> ActionResult:
    algorithm = str(op.params.get("algorithm") or "sha256").lower()
    if algorithm not in ALGORITHMS:
        raise _OpError(f"unknown checksum algorithm '{algorithm}' (use {', '.join(ALGORITHMS)})")
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with op.path() as target, os.fdopen(_open_regular(target, str(op.params.get("path"))), "rb") as fh:
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
