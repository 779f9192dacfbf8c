"""Starting a child process for an action: glibc's ``posix_spawn`` where it can do all that is asked, else Popen.

Every command attempt starts a process in a new session, in the workspace, with piped output and its own
environment (SPEC 6.2). ``subprocess.Popen`` does that with about 0.17 ms of Python per process on top
of the spawn itself (measured on CPython 3.11: option handling, encoding ~100 environment variables,
three pipe wrappers, the error pipe), which is most of a short task's overhead. On Linux with glibc 2.34
or later, one ``posix_spawn`` call through :mod:`ctypes` does the same work: ``addchdir_np`` for the working
folder, ``addclosefrom_np`` for ``close_fds``, ``POSIX_SPAWN_SETSID`` for the session, SIGPIPE and
SIGXFSZ back to their defaults as Popen's ``restore_signals`` does (Python ignores both), and the
runner's environment is encoded once per process instead of once per child.

Anything else (another C library, a file descriptor 0-2 that would be duplicated onto itself, a program
that is not found) goes through Popen, and ``WORKFLOW_CLI_SPAWN=popen`` forces it. Both paths return an
object with the part of Popen's interface :mod:`workflow_cli.actions._process` uses: ``pid``,
``stdin``/``stdout``/``stderr`` (``fileno``, ``close``), ``poll``, ``wait`` and ``returncode``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

_SETSIGDEF, _SETSIGMASK, _SETSID = 0x04, 0x08, 0x80  # glibc's POSIX_SPAWN_* flags (spawn.h)
_KEEP_ARGV = 256  # argument vectors kept
_KEEP_ACTIONS = 32  # file action sets kept per thread


class _Fd:
    """A pipe end of a spawned child, closed once."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


class SpawnedProcess:
    """A child started by ``posix_spawn``: Popen's ``pid``, pipes, ``poll``, ``wait`` and ``returncode``."""

    def __init__(self, args: list[str], pid: int, stdin: _Fd | None, stdout: _Fd, stderr: _Fd) -> None:
        self.args, self.pid = args, pid
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code (negative: the signal) once the child has exited, else None; reaps it.

        Only the thread running the attempt waits for its child, so no lock guards the reaping.
        """
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere (a SIGCHLD handler set to ignore): the code is lost
                pid, status = self.pid, 255 << 8
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit; ``subprocess.TimeoutExpired`` after ``timeout`` seconds."""
        end = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while self.poll() is None:
            if end is not None and time.monotonic() >= end:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(delay if end is None else max(0.0, min(delay, end - time.monotonic())))
            delay = min(delay * 2, 0.05)
        return self.returncode  # type: ignore[return-value]


class _PosixSpawn:
    """glibc's posix_spawn with the calls Popen needs, looked up once (None when something is missing)."""

    def __init__(self) -> None:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        c_void_p, c_int, c_char_p = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
        self.ctypes = ctypes
        self.fa_init = libc.posix_spawn_file_actions_init
        self.fa_destroy = libc.posix_spawn_file_actions_destroy
        self.fa_dup2 = libc.posix_spawn_file_actions_adddup2
        self.fa_chdir = libc.posix_spawn_file_actions_addchdir_np
        self.fa_closefrom = libc.posix_spawn_file_actions_addclosefrom_np
        self.fa_open = libc.posix_spawn_file_actions_addopen
        self.spawn = libc.posix_spawn
        for fn, argtypes in ((self.fa_init, [c_void_p]), (self.fa_destroy, [c_void_p]), (self.fa_dup2, [c_void_p, c_int, c_int]),
                             (self.fa_chdir, [c_void_p, c_char_p]), (self.fa_closefrom, [c_void_p, c_int]),
                             (self.fa_open, [c_void_p, c_int, c_char_p, c_int, ctypes.c_uint]),
                             (self.spawn, [c_void_p, c_char_p, c_void_p, c_void_p, c_void_p, c_void_p])):
            fn.argtypes, fn.restype = argtypes, c_int  # type: ignore[assignment]
        # opaque glibc structures, given generous room: 80, 336 and 128 bytes on 64-bit Linux
        self.actions_type = ctypes.c_char * 512
        self.attr = (ctypes.c_char * 1024)()
        sigdef, sigmask = (ctypes.c_char * 256)(), (ctypes.c_char * 256)()
        libc.sigemptyset(sigdef)
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):
            libc.sigaddset(sigdef, int(sig))
        libc.sigemptyset(sigmask)
        libc.posix_spawnattr_setflags.argtypes = [c_void_p, ctypes.c_short]
        if (libc.posix_spawnattr_init(self.attr) or libc.posix_spawnattr_setsigdefault(self.attr, sigdef)
                or libc.posix_spawnattr_setsigmask(self.attr, sigmask)
                or libc.posix_spawnattr_setflags(self.attr, _SETSIGDEF | _SETSIGMASK | _SETSID)):
            raise OSError("posix_spawnattr set-up failed")
        self.argvs: dict[tuple[str, ...], Any] = {}
        self.local = threading.local()

    def __call__(self, argv: list[str], executable: str, cwd: str, env: Mapping[str, str], stdin_pipe: bool) -> SpawnedProcess | None:
        """Start the child; None when this path cannot (a standard descriptor is closed in the runner)."""
        ctypes = self.ctypes
        c_argv = self._argv(argv)
        c_env = self._environ(env)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r, in_w = os.pipe() if stdin_pipe else (-1, -1)  # -1: the child opens /dev/null itself
        mine = [out_r, out_w, err_r, err_w] + ([in_r, in_w] if stdin_pipe else [])
        if min(mine) < 3:  # dup2 onto itself would keep close-on-exec: Popen handles that case
            for fd in mine:
                os.close(fd)
            return None
        pid = ctypes.c_int()
        error = 0
        try:
            actions = self._actions(in_r, out_w, err_w, cwd)
            error = self.spawn(ctypes.byref(pid), os.fsencode(executable), actions, self.attr, c_argv, c_env)
        except BaseException:
            error = -1
            raise
        finally:
            for fd in (out_w, err_w, in_r, *((out_r, err_r, in_w) if error else ())):
                if fd >= 0:
                    os.close(fd)
        if error:
            raise OSError(error, os.strerror(error), executable)
        return SpawnedProcess(argv, pid.value, _Fd(in_w) if stdin_pipe else None, _Fd(out_r), _Fd(err_r))

    # What posix_spawn reads is built once and kept: it only reads these, and with CLONE_VFORK it is done
    # with them when it returns. Per thread where a child fills in its own part (its variables).
    def _argv(self, argv: list[str]) -> Any:
        """The C argv, shared by every child with the same arguments (most tasks of a run repeat theirs)."""
        key = tuple(argv)
        c_argv = self.argvs.get(key)
        if c_argv is None:
            if len(self.argvs) >= _KEEP_ARGV:
                self.argvs.clear()
            items = _encoded_args(argv)
            c_argv = self.argvs[key] = (self.ctypes.c_char_p * (len(items) + 1))(*items, None)
        return c_argv

    def _environ(self, env: Mapping[str, str]) -> Any:
        """The C environment: the run's base variables are laid out once per thread, a child's own go after them."""
        c_char_p = self.ctypes.c_char_p
        if not isinstance(env, ChildEnvironment) or type(env.base) is not dict:
            items = _encoded_env(env)
            return (c_char_p * (len(items) + 1))(*items, None)
        lines = _base_lines(env.base)
        changes = env.changes
        if changes.keys() & lines.keys():  # a task replaces or removes a variable of the runner
            items = _encoded_env(env)
            return (c_char_p * (len(items) + 1))(*items, None)
        own = [_encode(name, value) for name, value in changes.items() if value is not None]
        kept = getattr(self.local, "environ", None)
        if kept is None or kept[0] is not env.base or kept[1] != len(own):
            array = (c_char_p * (len(lines) + len(own) + 1))(*lines.values(), *own, None)
            self.local.environ = (env.base, len(own), array)
            return array
        array, at = kept[2], len(lines)
        for i, line in enumerate(own, at):
            array[i] = line
        return array

    def _actions(self, stdin: int, stdout: int, stderr: int, cwd: str) -> Any:
        """File actions for these descriptor numbers and folder (the same few come back task after task).

        Kept per thread (a set is never freed while another thread may be spawning with it) and freed
        with the thread.
        """
        key = (stdin, stdout, stderr, cwd)
        kept = getattr(self.local, "actions", None)
        if kept is None:
            kept = self.local.actions = {}
        actions = kept.get(key)
        if actions is None:
            if len(kept) >= _KEEP_ACTIONS:
                kept.clear()
            actions = kept[key] = _FileActions(self, stdin, stdout, stderr, os.fsencode(cwd))
        return actions.buffer


class _FileActions:
    """One ``posix_spawn_file_actions_t``: stdin from ``stdin`` (-1: /dev/null), stdout and stderr, every
    other descriptor closed, the working folder."""

    def __init__(self, spawner: _PosixSpawn, stdin: int, stdout: int, stderr: int, cwd: bytes) -> None:
        self.destroy = spawner.fa_destroy
        self.buffer = buffer = spawner.actions_type()
        spawner.fa_init(buffer)
        if stdin < 0:
            failed = spawner.fa_open(buffer, 0, os.devnull.encode(), os.O_RDONLY, 0)
        else:
            failed = spawner.fa_dup2(buffer, stdin, 0)
        failed = failed or spawner.fa_dup2(buffer, stdout, 1) or spawner.fa_dup2(buffer, stderr, 2)
        if failed or spawner.fa_closefrom(buffer, 3) or spawner.fa_chdir(buffer, cwd):
            raise OSError("posix_spawn file actions could not be set up")

    def __del__(self) -> None:
        self.destroy(self.buffer)


def _encoded_args(argv: list[str]) -> list[bytes]:
    out = [os.fsencode(arg) for arg in argv]
    if any(b"\0" in arg for arg in out):
        raise ValueError("embedded null byte")
    return out


class ChildEnvironment(dict):  # type: ignore[type-arg]
    """A child's environment: the runner's ``base`` (one object for the whole run) with ``changes`` on top.

    A plain dict for everyone (Popen included); :func:`spawn` encodes ``base`` once per run and then
    only what changed per child. A ``None`` change removes the variable.
    """

    def __init__(self, base: Mapping[str, str], changes: Mapping[str, str | None]) -> None:
        super().__init__(base)
        for name, value in changes.items():
            if value is None:
                self.pop(name, None)
            else:
                self[name] = value
        self.base, self.changes = base, changes


_BASE: tuple[Any, dict[str, bytes]] = (None, {})  # the last base mapping and its lines, replaced as one


def _encode(name: str, value: str) -> bytes:
    raw_name, raw_value = os.fsencode(name), os.fsencode(value)
    if b"\0" in raw_name or b"\0" in raw_value:
        raise ValueError(f"embedded null byte in environment variable {name!r}")
    if b"=" in raw_name:
        raise ValueError(f"illegal environment variable name {name!r}")
    return raw_name + b"=" + raw_value


def _base_lines(base: dict[str, str]) -> dict[str, bytes]:
    """The lines of a run's base environment, encoded once (~100 variables cost ~30 µs per child)."""
    global _BASE
    kept, lines = _BASE
    if kept is not base:
        lines = {name: _encode(name, value) for name, value in base.items()}
        _BASE = (base, lines)  # one assignment: another runner's thread never sees half of it
    return lines


def _encoded_env(env: Mapping[str, str]) -> list[bytes]:
    """``NAME=value`` lines of ``env``, every variable encoded now (see :meth:`_PosixSpawn._environ` for the
    usual case, where the run's own variables were encoded once)."""
    return [_encode(name, value) for name, value in env.items()]


_FAST: Any = None  # _PosixSpawn, False when unavailable, None before the first look


def _fast() -> _PosixSpawn | None:
    global _FAST
    if _FAST is None:
        _FAST = False
        if sys.platform.startswith("linux") and os.environ.get("WORKFLOW_CLI_SPAWN", "") != "popen":
            libc = os.confstr("CS_GNU_LIBC_VERSION") if "CS_GNU_LIBC_VERSION" in os.confstr_names else None
            if libc and libc.startswith("glibc "):
                try:
                    _FAST = _PosixSpawn()
                except (OSError, AttributeError):  # an older glibc lacks addclosefrom_np (2.34) or addchdir_np (2.29)
                    _FAST = False
    return _FAST or None


def spawn(argv: list[str], *, executable: str | None, cwd: str, env: Mapping[str, str], stdin_pipe: bool) -> Any:
    """Start ``argv`` (``executable``: its resolved path) in a new session with piped stdout and stderr.

    Raises OSError when the program cannot be started, ValueError for a NUL byte in an argument or variable.
    """
    fast = _fast()
    if fast is not None:
        program = executable if executable is not None else (argv[0] if "/" in argv[0] else None)
        if program is not None:
            child = fast(argv, program, cwd, env, stdin_pipe)
            if child is not None:
                return child
    return subprocess.Popen(
        argv,
        executable=executable,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
