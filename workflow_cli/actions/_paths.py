"""The roots a ``file_operation`` may use (the workspace and the home's ``file_roots``), the error for a
refused path, and how a path is shown (SPEC 6.4, 14). The race-free walk beneath a root is in
:mod:`workflow_cli.actions._beneath`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable


class PathRefusedError(Exception):
    """A path that the action may not use; the message says which path and why."""


def allowed_roots(workspace: Path, file_roots: Iterable[Any] | None) -> list[Path]:
    """The workspace and each absolute ``file_roots`` folder, symlinks resolved (the workspace first)."""
    roots = [Path(os.path.realpath(workspace))]
    for root in file_roots or ():
        if isinstance(root, (str, os.PathLike)) and os.path.isabs(root):
            resolved = Path(os.path.realpath(root))
            if resolved not in roots:
                roots.append(resolved)
    return roots


def display(path: Path, workspace: Path) -> str:
    """``path`` relative to the workspace when inside it (POSIX separators), else absolute."""
    base = Path(os.path.realpath(workspace))
    try:
        relative = path.relative_to(base)
    except ValueError:
        return str(path)
    return relative.as_posix() if relative.parts else "."
