"""The home folder: where it is (SPEC 2), what it holds, and how it is created safely (SPEC 14)."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from workflow_cli.errors import InvalidInputError
from workflow_cli.store.atomic import fsync_dir, write_bytes_atomic

APP_NAME = "workflow-cli"
MARKER_NAME = ".workflow-home"
HOME_FORMAT = 1
DIR_MODE = 0o700
_SUBDIRS = ("templates", "instances", "checkpoints", "monitoring", "cache")
_MARKER_TEXT = f"# workflow-cli home folder: state lives here; see 'workflow-cli init'\nformat: {HOME_FORMAT}\n"


def _absolute(path: Path, cwd: Path) -> Path:
    """``path`` with ``~`` expanded, made absolute against ``cwd`` and normalized."""
    try:
        expanded = path.expanduser()
    except RuntimeError:  # ~name of a user this system does not know
        raise InvalidInputError(f"home folder '{path}': cannot expand '{path.parts[0]}' (no such user)") from None
    return Path(os.path.normpath(cwd / expanded))


def _user_data_dir(env: Mapping[str, str], platform: str) -> Path:
    """The platform user-data folder for the tool."""
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    if platform == "darwin":
        return home / "Library" / "Application Support" / APP_NAME
    xdg = env.get("XDG_DATA_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / APP_NAME
    return home / ".local" / "share" / APP_NAME


def _discover(cwd: Path) -> Path | None:
    """The nearest ancestor of ``cwd`` (itself included) that looks like a home, or None."""
    for folder in (cwd, *cwd.parents):
        if (folder / "instances").is_dir() or (folder / MARKER_NAME).is_file():
            return folder
    return None


def resolve_home(
    explicit: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    platform: str | None = None,
) -> Path:
    """Pick the home folder: ``--home``, else $WORKFLOW_HOME, else a home above cwd, else the user-data folder."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else Path(cwd)
    if explicit:
        return _absolute(Path(explicit), cwd)
    if env.get("WORKFLOW_HOME"):
        return _absolute(Path(env["WORKFLOW_HOME"]), cwd)
    found = _discover(Path(os.path.abspath(cwd)))
    if found is not None:
        return found
    return _user_data_dir(env, platform or sys.platform)


def _refuse_if_shared(path: Path, what: str = "the home", *, folder: bool = True) -> None:
    """Raise InvalidInputError when ``path`` exists and can be written by group or others (SPEC 14)."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return
    except PermissionError as exc:
        raise InvalidInputError(f"{path}: {what} cannot be read ({exc.strerror}); check its permissions or choose "
                                "another home with --home") from exc
    if folder and not stat.S_ISDIR(st.st_mode):
        raise InvalidInputError(f"{path}: {what} is not a folder (choose another home with --home)")
    if st.st_mode & 0o022:
        raise InvalidInputError(
            f"{path}: {what} can be written by other users (mode {stat.S_IMODE(st.st_mode):04o}); "
            f"refusing to use it (run: chmod go-w {path})"
        )


def refuse_shared_instance(path: Path) -> None:
    """Refuse an instance folder that group or others can write to."""
    _refuse_if_shared(path, "the instance folder")


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) if missing, giving the created leaf mode 0700 whatever the umask."""
    if path.is_dir():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        if not path.is_dir():
            raise
        return path  # created by a concurrent process: leave its mode alone
    os.chmod(path, DIR_MODE)
    fsync_dir(path.parent)
    return path


def _check_component(value: str, what: str) -> str:
    """``value`` if it is a plain file name, else InvalidInputError (no path tricks into the home)."""
    if not value or value in (".", "..") or "/" in value or "\\" in value or "\0" in value:
        raise InvalidInputError(f"invalid {what} {value!r}: expected a plain name without '/' or '..'")
    return value


@dataclass(frozen=True)
class Home:
    """A home folder and the paths inside it; building one touches nothing on disk."""

    root: Path

    @property
    def templates(self) -> Path:
        """Home templates (shadow built-in ones)."""
        return self.root / "templates"

    @property
    def instances(self) -> Path:
        """One folder per instance."""
        return self.root / "instances"

    @property
    def checkpoints(self) -> Path:
        """One folder of checkpoints per instance."""
        return self.root / "checkpoints"

    @property
    def monitoring(self) -> Path:
        """Health reports and alerts."""
        return self.root / "monitoring"

    @property
    def cache(self) -> Path:
        """The task result cache."""
        return self.root / "cache"

    @property
    def logs(self) -> Path:
        """Logs of unexpected errors."""
        return self.root / "logs"

    @property
    def agents_file(self) -> Path:
        """The optional agent registry."""
        return self.root / "agents.yaml"

    @property
    def config_file(self) -> Path:
        """The optional home configuration (SPEC 6.5)."""
        return self.root / "config.yaml"

    @property
    def marker_file(self) -> Path:
        """The file that marks a folder as a home."""
        return self.root / MARKER_NAME

    def instance_dir(self, instance_id: str) -> Path:
        """The folder of one instance (the id is not checked for existence)."""
        return self.instances / _check_component(instance_id, "instance id")

    def checkpoint_dir(self, instance_id: str) -> Path:
        """The checkpoint folder of one instance."""
        return self.checkpoints / _check_component(instance_id, "instance id")

    def _refuse_shared(self) -> None:
        _refuse_if_shared(self.root)
        if self.root.is_dir() and not os.access(self.root, os.R_OK | os.X_OK):
            raise InvalidInputError(f"{self.root}: the home cannot be read (permission denied); check its permissions "
                                    "or choose another home with --home")
        _refuse_if_shared(self.instances, "the home's instances/ folder")
        _refuse_if_shared(self.checkpoints, "the home's checkpoints/ folder")
        _refuse_if_shared(self.config_file, "the home's config.yaml", folder=False)

    def check_readable(self) -> Home:
        """Refuse a home that others can write to, creating nothing (for read-only commands)."""
        self._refuse_shared()
        return self

    def ensure(self) -> Home:
        """Refuse a shared home, then create the missing folders with mode 0700."""
        self._refuse_shared()
        try:
            make_private_dir(self.root)
            for name in _SUBDIRS:
                make_private_dir(self.root / name)
        except OSError as exc:
            raise InvalidInputError(
                f"{self.root}: cannot create the home folder: {exc.strerror or exc} (choose another one with --home)"
            ) from exc
        for name in ("instances", "checkpoints"):  # what every writing command writes into
            if not os.access(self.root / name, os.W_OK | os.X_OK):
                raise InvalidInputError(f"{self.root / name}: the home cannot be written (permission denied or a "
                                        "read-only file system); check its permissions or choose another home with --home")
        return self


def init_home(path: Path) -> Home:
    """Create a home at ``path``: its folders and the ``.workflow-home`` marker (kept if present)."""
    home = Home(Path(os.path.abspath(Path(path).expanduser()))).ensure()
    if not home.marker_file.exists():
        write_bytes_atomic(home.marker_file, _MARKER_TEXT.encode("utf-8"), mode=0o600)
    return home
