"""Race-free path resolution beneath the allowed roots (SPEC 14 "Files").

A path is never resolved by name and then used by name (a window in which a folder can be swapped for a
symlink). Instead :func:`resolve` opens the root folder and walks the path one component at a time with
``os.open(component, O_NOFOLLOW | O_DIRECTORY, dir_fd=parent)``, the user-space form of Linux's
``openat2(RESOLVE_BENEATH)`` (which the standard library does not offer). A symlink met on the way is
read with ``readlink(dir_fd=...)`` and expanded by the walk itself: a relative target continues from the
folder that holds it (``..`` may climb back to, never above, the root); an absolute one must lie in an
allowed root and restarts the walk there. The operation then uses the final folder's descriptor and the
last name (``*at`` calls), opening files with ``O_NOFOLLOW``: whatever is renamed meanwhile, nothing
outside the roots is ever opened, created or removed.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Sequence

from workflow_cli.actions._paths import PathRefusedError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_LINKS = 40  # like the kernel's MAXSYMLINKS


class NotFoundError(Exception):
    """A folder on the way (or the target) does not exist."""


@dataclass
class Resolved:
    """An open folder beneath a root and a name in it (``name == ""``: the folder itself)."""

    dir_fd: int
    name: str
    shown: PurePosixPath  # the path as walked (symlinks expanded), for messages and outputs
    root: Path
    ancestors: list[tuple[int, int]] = field(default_factory=list)  # (st_dev, st_ino) of the folders walked

    def close(self) -> None:
        """Release the folder descriptor."""
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1

    def __enter__(self) -> Resolved:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lstat(self) -> os.stat_result | None:
        """The entry itself (a symlink is not followed), or None when missing."""
        try:
            if not self.name:
                return os.fstat(self.dir_fd)
            return os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def open(self, flags: int, mode: int = 0o666) -> int:
        """``openat`` of the last name, never following a symlink."""
        if not self.name:
            return os.dup(self.dir_fd) if flags & os.O_DIRECTORY else os.open(".", flags | os.O_CLOEXEC, dir_fd=self.dir_fd)
        return os.open(self.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=self.dir_fd)


def _root_for(path: PurePosixPath, roots: Sequence[Path]) -> tuple[Path, list[str]] | None:
    for root in roots:
        try:
            rel = path.relative_to(PurePosixPath(root))
        except ValueError:
            continue
        return root, list(rel.parts)
    return None


def _start(text: str, workspace: Path, roots: Sequence[Path]) -> tuple[Path, list[str]]:
    if not os.path.isabs(text):
        return roots[0], list(PurePosixPath(text).parts)
    found = _root_for(PurePosixPath(os.path.normpath(text)), roots)
    if found is None:
        raise PathRefusedError(f"'{text}' is outside the workspace and file_roots")
    return found


class _Walk:
    """The state of one walk: the open folders from the root down, and what is left to visit."""

    def __init__(self, raw: str, roots: Sequence[Path]) -> None:
        self.raw = raw
        self.roots = roots
        self.fds: list[int] = []
        self.names: list[str] = []
        self.root = roots[0]
        self.links = 0

    def restart(self, root: Path) -> None:
        self.close()
        self.root = root
        self.fds = [os.open(root, _DIR_FLAGS)]
        self.names = []

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []

    def refuse(self, why: str) -> PathRefusedError:
        return PathRefusedError(f"'{self.raw}' is refused: {why}")

    def expand(self, name: str, todo: list[str]) -> None:
        """``name`` (in the current folder) is a symlink: put its target's components in front of ``todo``."""
        self.links += 1
        if self.links > _MAX_LINKS:
            raise self.refuse("too many levels of symlinks")
        target = os.readlink(name, dir_fd=self.fds[-1])
        if os.path.isabs(target):
            found = _root_for(PurePosixPath(os.path.normpath(target)), self.roots)
            if found is None:
                raise self.refuse(f"a symlink leads to {target}, outside the workspace and file_roots")
            self.restart(found[0])
            todo[:0] = found[1]
        else:
            todo[:0] = list(PurePosixPath(target).parts)

    def step(self, name: str, todo: list[str], *, create: bool) -> None:
        """Enter the folder ``name`` of the current folder (``..`` climbs; a symlink is expanded)."""
        if name in (".", ""):
            return
        if name == "..":
            if len(self.fds) == 1:
                raise self.refuse("a symlink leads outside the workspace and file_roots")
            os.close(self.fds.pop())
            self.names.pop()
            return
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=self.fds[-1])
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK) and _is_link(name, self.fds[-1]):
                self.expand(name, todo)
                return
            if exc.errno == errno.ENOENT and create:
                try:
                    os.mkdir(name, 0o777, dir_fd=self.fds[-1])
                except FileExistsError:
                    pass
                fd = os.open(name, _DIR_FLAGS, dir_fd=self.fds[-1])
            elif exc.errno == errno.ENOENT:
                raise NotFoundError(f"'{self.raw}': the folder '{name}' on its way does not exist") from exc
            elif exc.errno == errno.ENOTDIR:
                raise NotFoundError(f"'{self.raw}': '{name}' on its way is not a folder") from exc
            else:
                raise
        self.fds.append(fd)
        self.names.append(name)


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def resolve(raw: Any, workspace: Path, roots: Sequence[Path], *, what: str = "path", create_parents: bool = False,
            follow: bool = True) -> Resolved:
    """Walk ``raw`` beneath its root; the result holds the open parent folder and the last name.

    ``follow``: a symlink as the last component is expanded too (else the entry itself is the target, as
    for ``delete``). ``create_parents``: missing folders on the way are made (beneath the root).

    Raises:
        PathRefusedError: the path is malformed or leads outside the roots.
        NotFoundError: a folder on the way is missing (and not to be created).
    """
    if not isinstance(raw, (str, os.PathLike)) or not str(raw).strip():
        raise PathRefusedError(f"{what} must be a non-empty string")
    text = os.fspath(raw)
    if "\x00" in text:
        raise PathRefusedError(f"{what} '{text}' contains a NUL character")
    if ".." in PurePosixPath(text).parts:
        raise PathRefusedError(f"{what} '{text}' is refused: '..' is not allowed in paths")
    root, todo = _start(text, workspace, roots)
    walk = _Walk(text, roots)
    walk.restart(root)
    try:
        while True:
            while len(todo) > 1:
                walk.step(todo.pop(0), todo, create=create_parents)
            last = todo.pop(0) if todo else ""
            if last in ("", "."):
                last = ""
            elif last == "..":
                walk.step(last, todo, create=False)
                continue
            if last and follow and _is_link(last, walk.fds[-1]):
                walk.expand(last, todo)
                continue
            break
        ancestors = [(st.st_dev, st.st_ino) for st in map(os.fstat, walk.fds)]
        resolved = Resolved(walk.fds.pop(), last, PurePosixPath(walk.root, *walk.names, last), walk.root, ancestors)
    except BaseException:
        walk.close()
        raise
    walk.close()
    return resolved
