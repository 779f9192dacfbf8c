"""The one place errors become output and exit codes (SPEC 8): never a traceback for a user error."""

from __future__ import annotations

import errno
import functools
import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

from workflow_cli.errors import InvalidInputError, NotFoundError, WorkflowError

F = TypeVar("F", bound=Callable[..., Any])
_ACCESS_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


_QUICK_OBJ: list[Any] = []  # the global options of a command the quick path runs (no click context then)


def _root_obj() -> Any:
    """The global options (``CliContext``) of the running command, None outside one.

    Under typer they hang on the root click context; newer typer releases vendor click as
    ``typer._click``, asked first (a separate ``click`` may be installed too: uvicorn, of the ``[server]``
    extra, brings one, and it knows nothing of typer's contexts). The quick path (``cli/quick.py``) runs
    a command without click and registers its options with :func:`quick_context`.
    """
    if _QUICK_OBJ:
        return _QUICK_OBJ[-1]
    if "typer" not in sys.modules:
        return None
    try:
        from typer._click.globals import get_current_context
    except ImportError:
        try:
            from click import get_current_context  # type: ignore[no-redef]
        except ImportError:
            return None
    ctx = get_current_context(silent=True)
    return getattr(ctx.find_root(), "obj", None) if ctx else None


class quick_context:  # noqa: N801 - used as a context manager, like contextlib's
    """While active, ``obj`` is the running command's global options (for errors and their logs)."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __enter__(self) -> Any:
        _QUICK_OBJ.append(self.obj)
        return self.obj

    def __exit__(self, *exc: object) -> None:
        _QUICK_OBJ.remove(self.obj)


def _wants_json() -> bool:
    return bool(getattr(_root_obj(), "json", False))


def _home_searched() -> str | None:
    """The home folder of the current command (for "not found" errors), None when it cannot be told."""
    obj = _root_obj()
    try:
        home = getattr(obj, "home", None)
        return str(home.root) if home is not None else None
    except Exception:  # noqa: BLE001 - a home that cannot be resolved has its own error
        return None


def _private_folder(path: Path) -> Path | None:
    """``path`` made if missing (0700), when it is a real folder of this user that nobody else can enter."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    return path


def _log_folders() -> list[Path]:
    """Where logs of unexpected errors may go, best first (SPEC 14: never a shared temporary folder)."""
    folders = []
    if os.environ.get("WORKFLOW_CLI_LOG_DIR"):  # an explicit choice (the test suite uses it)
        folders.append(Path(os.environ["WORKFLOW_CLI_LOG_DIR"]) / "workflow-cli-logs")
    home = getattr(_root_obj(), "_home", None)
    if home is not None and home.root.is_dir():
        folders.append(home.logs)
    state = os.environ.get("XDG_STATE_HOME", "")
    base = Path(state) if state and os.path.isabs(state) else Path.home() / ".local" / "state"
    folders.append(base / "workflow-cli" / "logs")
    return folders


def _log_unexpected(exc: BaseException) -> Path | None:
    """Write the traceback to a private log file (mode 0600, never through a link) and return its path."""
    import traceback  # only here: every command imports this module

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    for candidate in _log_folders():
        folder = _private_folder(candidate)
        if folder is None:
            continue
        path = folder / f"error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{os.urandom(2).hex()}.log"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError:
            continue
        return path
    return None


def _user_error(exc: BaseException) -> str | None:
    """The message of an OS or encoding error that a command line caused (exit 2, SPEC 16), else None."""
    if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
        name = str(exc.filename or "")
        shown = name if len(name) <= 80 else name[:40] + "..." + name[-20:]
        return f"name too long for the file system: {shown} ({len(name)} characters)"
    if isinstance(exc, UnicodeError) and "surrogate" in str(exc):
        return "an argument or a file name is not valid Unicode (check the shell's locale and the bytes given)"
    return None


def report(exc: BaseException) -> int:
    """Print one line per problem on stderr (and a JSON error document with --json); return the exit code."""
    if isinstance(exc, WorkflowError):
        code = exc.exit_code
        issues = getattr(exc, "issues", None) or []
        lines = [f"error: {issue}" for issue in issues] if isinstance(exc, InvalidInputError) and issues else [f"error: {exc}"]
        payload: dict[str, Any] = {"message": str(exc), "exit_code": code}
        home = _home_searched() if isinstance(exc, NotFoundError) else None
        if home:  # SPEC 8: a "not found" error names the home it searched
            payload["home"] = home
            if home not in lines[-1]:
                lines[-1] += f" (home: {home})"
        if issues:
            payload["issues"] = [i.to_json() for i in issues]
    elif isinstance(exc, OSError) and exc.errno in _ACCESS_ERRNOS:
        # a file of the home (or one the user named) that cannot be read or written: the user's to fix (SPEC 16)
        code = 2
        where = f"{exc.filename}: " if exc.filename else ""
        message = f"{where}{exc.strerror or exc} (check the permissions of the home and its files, or choose another home with --home)"
        lines = [f"error: {message}"]
        payload = {"message": message, "exit_code": code}
    elif (user_message := _user_error(exc)) is not None:
        code = 2
        lines = [f"error: {user_message}"]
        payload = {"message": user_message, "exit_code": code}
    else:
        code = 1
        log = _log_unexpected(exc)
        where = f"details in {log}" if log else "no private folder for its details"
        lines = [f"error: unexpected {type(exc).__name__}: {exc} ({where})"]
        payload = {"message": f"unexpected {type(exc).__name__}: {exc}", "exit_code": code, "log": str(log) if log else None}
    for line in lines:
        sys.stderr.write(line + "\n")
    if _wants_json():
        try:
            sys.stdout.write(json.dumps({"error": payload}, indent=2) + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # the reader of stdout left: the message is on stderr, the exit code stands
            _silence_stdout()
    return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _passes_through(exc: BaseException) -> bool:
    """click's ``Exit``/``Abort`` (``typer.Exit``): a command's chosen way out, not an error (typer loaded only then)."""
    typer = sys.modules.get("typer")
    return typer is not None and isinstance(exc, (typer.Exit, typer.Abort))


def guarded(fn: F) -> F:
    """Wrap a command body so every error is reported once with its exit code (``SystemExit``)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SystemExit:
            raise
        except KeyboardInterrupt:
            sys.stderr.write("interrupted\n")
            raise SystemExit(130) from None
        except BrokenPipeError:  # `workflow-cli audit ID | head`: the reader left; end quietly as SIGPIPE would
            _silence_stdout()
            raise SystemExit(141) from None
        except Exception as exc:  # noqa: BLE001 - this is the one handler
            if _passes_through(exc):
                raise
            raise SystemExit(report(exc)) from None

    return wrapper  # type: ignore[return-value]
