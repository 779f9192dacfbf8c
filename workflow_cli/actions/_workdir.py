"""The working directory of a process a task starts (SPEC 6.2).

A ``command`` task (and a ``command`` agent) runs in its ``cwd`` if set, else in the document's
top-level ``working_dir`` if set, else in the instance's base directory (the current directory of
the ``create``/``run`` that made it, or ``--workdir``). A relative path is relative to the base
directory and ``~`` is expanded. Any readable directory is allowed: a shell line can ``cd``
anywhere anyway, so confinement is for ``file_operation`` alone. An instance created before base
directories were recorded keeps running in its workspace, as it did.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class WorkdirError(Exception):
    """The chosen working directory cannot be used; the message names it."""


def base_directory(services: Mapping[str, Any] | None, workspace: Path) -> Path:
    """The instance's base directory (the workspace for an instance that recorded none)."""
    base = (services or {}).get("base_dir")
    return Path(base) if base else workspace


def working_folder(cwd: Any, services: Mapping[str, Any] | None, workspace: Path) -> Path:
    """The folder to run in: ``cwd``, else the document's ``working_dir``, else the base directory."""
    services = services or {}
    base = base_directory(services, workspace)
    workflow = services.get("workflow")
    default = getattr(workflow, "working_dir", None)
    chosen, what = (cwd, "cwd") if cwd not in (None, "") else (default, "working_dir") if default else (None, "base directory")
    target = base if chosen is None else base / os.path.expanduser(str(chosen))
    target = Path(os.path.normpath(target))
    if chosen is None and not services.get("base_dir"):
        target.mkdir(parents=True, exist_ok=True, mode=0o700)  # an old instance: its workspace, as before
    if not target.is_dir():
        shown = f"{what} '{chosen}' ({target})" if chosen is not None else f"{what} {target}"
        problem = "is not a directory" if target.exists() else "does not exist"
        raise WorkdirError(f"working directory: {shown} {problem}")
    if not os.access(target, os.R_OK | os.X_OK):
        raise WorkdirError(f"working directory: {what} {target} is not readable")
    return target
