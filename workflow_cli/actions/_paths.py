"""Confinement of user paths to the workspace and the home's ``file_roots`` (SPEC 6.4, 14).

Every path is resolved with :func:`os.path.realpath` (symlinks followed, missing tails allowed)
*before* it is checked, so a symlink anywhere along the path - a parent folder or the last
component, dangling or not - that leads outside the allowed roots is refused. ``..`` is refused
outright, even when it would land inside a root again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Sequence


class PathRefusedError(Exception):
    """A path that the action may not use; the message says which path and why."""


@dataclass(frozen=True)
class Confined:
    """A checked path: ``resolved`` has every symlink followed, ``entry`` only those of its parents."""

    raw: str
    resolved: Path
    entry: Path
    root: Path


def allowed_roots(workspace: Path, file_roots: Iterable[Any] | None) -> list[Path]:
    """The workspace and each absolute ``file_roots`` folder, symlinks resolved (the workspace first)."""
    roots = [Path(os.path.realpath(workspace))]
    for root in file_roots or ():
        if isinstance(root, (str, os.PathLike)) and os.path.isabs(root):
            resolved = Path(os.path.realpath(root))
            if resolved not in roots:
                roots.append(resolved)
    return roots


def _root_of(path: Path, roots: Sequence[Path]) -> Path | None:
    for root in roots:
        if path == root or root in path.parents:
            return root
    return None


def confine(raw: Any, workspace: Path, roots: Sequence[Path], *, what: str = "path") -> Confined:
    """Check ``raw`` (relative to the workspace, or absolute inside a root) and return it resolved.

    Raises:
        PathRefusedError: the path is empty, holds ``..``, or resolves outside every root.
    """
    if not isinstance(raw, (str, os.PathLike)) or not str(raw).strip():
        raise PathRefusedError(f"{what} must be a non-empty string")
    text = os.fspath(raw)
    if "\x00" in text:
        raise PathRefusedError(f"{what} '{text}' contains a NUL character")
    if ".." in PurePosixPath(text).parts:
        raise PathRefusedError(f"{what} '{text}' is refused: '..' is not allowed in paths")
    workspace = Path(os.path.realpath(workspace))
    candidate = Path(text) if os.path.isabs(text) else workspace / text
    resolved = Path(os.path.realpath(candidate))
    parent = Path(os.path.realpath(candidate.parent))
    entry = parent / candidate.name if candidate.name else resolved
    root = _root_of(resolved, roots)
    if root is None or _root_of(entry, roots) is None:
        if _root_of(Path(os.path.normpath(candidate)), roots) is None:
            raise PathRefusedError(f"{what} '{text}' is refused: it is outside the workspace and file_roots")
        raise PathRefusedError(
            f"{what} '{text}' is refused: a symlink leads to {resolved}, outside the workspace and file_roots"
        )
    return Confined(text, resolved, entry, root)


def display(path: Path, workspace: Path) -> str:
    """``path`` relative to the workspace when inside it (POSIX separators), else absolute."""
    base = Path(os.path.realpath(workspace))
    try:
        relative = path.relative_to(base)
    except ValueError:
        return str(path)
    return relative.as_posix() if relative.parts else "."
