"""Child processes for actions: spawn in a new session, stream output to the log, wait, kill the tree.

A timed-out or cancelled attempt has its whole process tree stopped (SPEC 6.2): SIGTERM to the process
group and to every descendant found through ``/proc`` (or ``ps``), including those that started a session of
their own, then SIGKILL after a grace period (``WORKFLOW_CLI_KILL_GRACE`` seconds, default 2).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from workflow_cli.actions._spawn import spawn
from workflow_cli.actions.base import MAX_OUTPUT_BYTES

DEFAULT_GRACE = 2.0
_CHUNK = 65536
_SLICE = 0.02  # how often cancel and the deadline are checked
_DRAIN_IDLE = 0.2  # after exit, a pipe still held by a background grandchild is given up after this silence
_DRAIN_MAX = 2.0
_SHOW_AFTER = 1.0  # seconds after which a silent command's log file is written anyway


@dataclass
class ProcessOutcome:
    """How a child process ended and what it wrote to stdout (up to the capture limit)."""

    returncode: int | None
    stdout: bytes = b""
    stdout_truncated: bool = False
    last_stderr: str | None = None
    timed_out: bool = False
    cancelled: bool = False
    start_error: str | None = None
    usage: dict[str, float] | None = None  # cpu_seconds, max_rss_mb of the reaped child and its reaped descendants


def kill_grace() -> float:
    """Seconds between SIGTERM and SIGKILL (``WORKFLOW_CLI_KILL_GRACE`` overrides the default 2 s)."""
    try:
        return max(0.0, float(os.environ.get("WORKFLOW_CLI_KILL_GRACE", DEFAULT_GRACE)))
    except ValueError:
        return DEFAULT_GRACE


_RSS_UNIT = 1.0 if sys.platform == "darwin" else 1024.0  # bytes per unit of ru_maxrss: bytes on macOS, KiB elsewhere


def reap(proc: Any, *, block: bool = False) -> bool:
    """Collect the child's exit status with ``wait4`` (True once it has exited), keeping its rusage.

    The rusage is the kernel's accounting of the child and of every descendant it reaped: user + system
    CPU time and the peak resident size (SPEC 9). It is kept as ``proc.usage`` (seconds, MiB).
    """
    if proc.returncode is not None:
        return True
    try:
        pid, status, ru = os.wait4(proc.pid, 0 if block else os.WNOHANG)
    except ChildProcessError:  # collected elsewhere: Popen knows what to report
        proc.poll()
        return proc.returncode is not None
    if pid == 0:
        return False
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.usage = {"cpu_seconds": round(ru.ru_utime + ru.ru_stime, 3), "max_rss_mb": round(ru.ru_maxrss * _RSS_UNIT / 1048576.0, 1)}
    return True


def _reap_within(proc: Any, wait: float) -> bool:
    """Wait up to ``wait`` seconds for the child to exit (where no pidfd tells when); True once it has."""
    end = time.monotonic() + wait
    while not reap(proc):
        left = end - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(_SLICE / 4, left))
    return True


def _process_table() -> dict[int, tuple[int, str | None, str]]:
    """pid -> (ppid, start time or None, state) for every visible process."""
    table: dict[int, tuple[int, str | None, str]] = {}
    if os.path.isdir("/proc"):
        for name in os.listdir("/proc"):
            if name.isdigit() and (entry := _proc_stat(int(name))) is not None:
                table[int(name)] = entry
        return table
    try:
        out = subprocess.run(["ps", "-eo", "pid=,ppid=,stat="], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return table
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].isdigit() and parts[1].isdigit():
            table[int(parts[0])] = (int(parts[1]), None, parts[2][:1])
    return table


def _proc_stat(pid: int) -> tuple[int, str | None, str] | None:
    """(ppid, start time, state) from ``/proc/<pid>/stat``, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()  # the command name may hold spaces and parentheses
    if len(fields) < 20:
        return None
    return int(fields[1]), fields[19], fields[0]


def descendants(roots: list[int]) -> dict[int, str | None]:
    """Every live descendant of ``roots`` (not the roots themselves): pid -> start time (None without /proc)."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _start, _state) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: dict[int, str | None] = {}
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found and child not in roots:
                found[child] = table[child][1]
                todo.append(child)
    return found


def _alive(pid: int, start: str | None) -> bool:
    """True while ``pid`` is the same running process (a zombie counts as gone)."""
    if os.path.isdir("/proc"):
        entry = _proc_stat(pid)
        return entry is not None and entry[2] != "Z" and (start is None or entry[1] == start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _signal_tree(pgid: int, known: Mapping[int, str | None], sig: int) -> None:
    """Send ``sig`` to the process group and to every known descendant that is still the same process."""
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group may be empty already
        os.killpg(pgid, sig)
    for pid, start in known.items():
        if _alive(pid, start):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def kill_tree(proc: Any, grace: float | None = None, hurry: threading.Event | None = None) -> None:
    """Stop ``proc`` (a session leader) and all its descendants: SIGTERM, then SIGKILL after ``grace``.

    ``hurry`` (a second SIGINT/SIGTERM to the runner) cuts the grace short.
    """
    grace = kill_grace() if grace is None else grace
    # descendants must be collected before anything dies: orphans lose their ppid link
    known = descendants([proc.pid])
    _signal_tree(proc.pid, known, signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end and not (hurry is not None and hurry.is_set()):
        if reap(proc) and not _group_alive(proc.pid) and not any(_alive(p, s) for p, s in known.items()):
            break
        time.sleep(_SLICE)
    live = [proc.pid, *(p for p, s in known.items() if _alive(p, s))]
    known = {**known, **descendants(live)}
    _signal_tree(proc.pid, known, signal.SIGKILL)
    _reap_within(proc, 5.0)  # stuck in uninterruptible sleep: no signal helps


class _Pipes:
    """Non-blocking pump of a child's stdin, stdout and stderr through one ``poll`` set.

    Lines go to the log (stderr ones prefixed); stdout bytes are also kept in memory up to ``limit``.
    (``select.poll`` rather than a ``selectors`` epoll: nothing to create and close per process.)
    """

    def __init__(
        self, proc: Any, stdin: bytes | None, log: Callable[[str], None], *, log_stdout: bool, stderr_prefix: str, limit: int
    ) -> None:
        self.poller = select.poll()
        self.names: dict[int, str] = {}
        self.log, self.log_stdout, self.stderr_prefix, self.limit = log, log_stdout, stderr_prefix, limit
        self.stdout, self.truncated, self.last_stderr = bytearray(), False, ""
        self.pending = memoryview(stdin or b"")
        self.buffers: dict[int, bytearray] = {}
        for stream, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr")):
            if stream is not None:
                self._register(stream.fileno(), select.POLLIN, name)
                self.buffers[stream.fileno()] = bytearray()
        self.exit_fd, self.exited = -1, False
        self.stdin = proc.stdin
        if self.stdin is not None and self.pending:
            os.set_blocking(self.stdin.fileno(), False)
            self._register(self.stdin.fileno(), select.POLLOUT, "stdin")
        else:
            self._close_stdin()

    def _register(self, fd: int, events: int, name: str) -> None:
        self.poller.register(fd, events)
        self.names[fd] = name

    def _unregister(self, fd: int) -> None:
        if self.names.pop(fd, None) is not None:
            self.poller.unregister(fd)

    def is_open(self) -> bool:
        return bool(self.names)

    def watch_exit(self, pidfd: int) -> None:
        """Also wake up when the child exits (``pidfd`` turns readable): :attr:`exited` says it happened."""
        self.poller.register(pidfd, select.POLLIN)
        self.exit_fd = pidfd

    def pump(self, wait: float) -> bool:
        """Move whatever is ready within ``wait`` seconds; True if anything moved (or the child exited)."""
        if not self.names and self.exit_fd < 0:
            return False
        ready = self.poller.poll(wait * 1000.0)
        for fd, _events in ready:
            if fd == self.exit_fd:
                self.poller.unregister(fd)
                self.exit_fd, self.exited = -1, True
                continue
            name = self.names.get(fd)
            if name is None:
                continue
            if name == "stdin":
                self._write(fd)
            elif data := os.read(fd, _CHUNK):
                self._feed(fd, name, data)
            else:
                self._flush(fd, name)
                self._unregister(fd)
        return bool(ready)

    def _write(self, fd: int) -> None:
        try:
            sent = os.write(fd, self.pending[:_CHUNK])
        except BlockingIOError:
            return
        except OSError:  # the child closed its stdin: the rest is not wanted
            sent = len(self.pending)
        self.pending = self.pending[sent:]
        if not self.pending:
            self._close_stdin()

    def _close_stdin(self) -> None:
        if self.stdin is not None:
            self._unregister(self.stdin.fileno())
            with contextlib.suppress(OSError):
                self.stdin.close()
            self.stdin = None

    def _feed(self, fd: int, name: str, data: bytes) -> None:
        if name == "stdout" and not self.truncated:
            room = self.limit - len(self.stdout)
            self.stdout += data[:room]
            self.truncated = len(data) > room
        *lines, rest = bytes(self.buffers[fd] + data).split(b"\n")
        for line in lines:
            self._line(name, line)
        if len(rest) > _CHUNK:  # a line with no end in sight is logged in pieces
            self._line(name, rest)
            rest = b""
        self.buffers[fd] = bytearray(rest)

    def _flush(self, fd: int, name: str) -> None:
        if self.buffers[fd]:
            self._line(name, bytes(self.buffers[fd]))
            self.buffers[fd] = bytearray()

    def _line(self, name: str, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        if name == "stderr":
            self.last_stderr = text.strip() or self.last_stderr
            self.log(f"{self.stderr_prefix}{text}")
        elif self.log_stdout:
            self.log(text)

    def drain(self) -> None:
        """Read until every pipe is closed, giving up on pipes that stay silent (held by a background process)."""
        end = time.monotonic() + _DRAIN_MAX
        while self.is_open() and time.monotonic() < end and self.pump(_DRAIN_IDLE):
            pass
        self._close_stdin()
        for fd, name in list(self.names.items()):
            self._flush(fd, name)
            self._unregister(fd)


_WHICH: dict[tuple[str, str | None], str | None] = {}


def _executable(name: str, env: Mapping[str, str]) -> str | None:
    """``name`` found on the child's PATH, remembered: Popen would otherwise build and try the whole PATH
    list for every process. None for a path (it has a slash) or a name not found (Popen reports it)."""
    if "/" in name:
        return None
    key = (name, env.get("PATH"))
    if key not in _WHICH:
        import shutil

        _WHICH[key] = shutil.which(name, path=key[1] if key[1] is not None else os.defpath)
    return _WHICH[key]


def _pidfd(pid: int) -> int:
    """A descriptor that turns readable when ``pid`` exits (Linux 5.3+), or -1."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return -1
    try:
        return int(pidfd_open(pid))
    except OSError:
        return -1


def run_process(
    argv: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Callable[[str], None],
    cancel: threading.Event,
    timeout: float | None = None,
    stdin: bytes | None = None,
    log_stdout: bool = True,
    stderr_prefix: str = "[stderr] ",
    stdout_limit: int = MAX_OUTPUT_BYTES + 1,
) -> ProcessOutcome:
    """Run ``argv`` in a new session, streaming its output into ``log`` until it exits, times out or is cancelled."""
    executable = _executable(argv[0], env)
    try:
        proc = spawn(argv, executable=executable, cwd=str(cwd), env=env, stdin_pipe=stdin is not None)
    except OSError as exc:
        if executable is not None:
            _WHICH.pop((argv[0], env.get("PATH")), None)  # gone since it was found: look again next time
        return ProcessOutcome(None, start_error=f"cannot start '{argv[0]}': {exc.strerror or exc}")
    except ValueError as exc:  # a NUL byte in an argument or a variable
        return ProcessOutcome(None, start_error=f"cannot start '{argv[0]}': {exc}")
    try:
        return _follow(proc, stdin, log, cancel, timeout, log_stdout, stderr_prefix, stdout_limit)
    finally:
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass


def _follow(proc: Any, stdin: bytes | None, log: Callable[[str], None], cancel: threading.Event, timeout: float | None,
            log_stdout: bool, stderr_prefix: str, stdout_limit: int) -> ProcessOutcome:
    """Pump the child's pipes until it exits, times out or is cancelled."""
    pipes = _Pipes(proc, stdin, log, log_stdout=log_stdout, stderr_prefix=stderr_prefix, limit=stdout_limit)
    outcome = ProcessOutcome(None)
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    keep = getattr(log, "keep", None)  # a TaskLog holding the command line until there is output
    # The exit is watched in the same poll as the pipes (a pidfd), so a short command costs one wake-up;
    # without pidfds (before Linux 5.3, other systems) the loop asks waitpid each time round.
    pidfd = _pidfd(proc.pid)
    if pidfd >= 0:
        pipes.watch_exit(pidfd)
    try:
        while True:
            if pidfd < 0 or pipes.exited:
                if reap(proc):
                    break
                if pidfd >= 0:  # readable before the exit status can be collected: ask waitpid from now on
                    os.close(pidfd)
                    pidfd = -1
            if keep is not None and time.monotonic() - started >= _SHOW_AFTER:
                keep()  # a silent long command: its log (header, command line) appears for `logs --follow`
                keep = None
            outcome.cancelled = cancel.is_set()
            outcome.timed_out = not outcome.cancelled and deadline is not None and time.monotonic() >= deadline
            if outcome.cancelled or outcome.timed_out:
                # an interrupted run (SPEC 6.6) arms its cancel token with its own grace and a way to cut it short
                armed = outcome.cancelled and hasattr(cancel, "grace")
                kill_tree(proc, getattr(cancel, "grace", None) if armed else None, getattr(cancel, "hurry", None))
                break
            wait = _SLICE if deadline is None else max(0.0, min(_SLICE, deadline - time.monotonic()))
            if not pipes.pump(wait) and not pipes.is_open() and pidfd < 0:
                _reap_within(proc, wait)
    finally:
        if pidfd >= 0:
            os.close(pidfd)
    pipes.drain()
    if proc.returncode is None:  # left running after a kill that did not take (uninterruptible sleep)
        reap(proc)
    outcome.returncode = proc.returncode
    outcome.usage = getattr(proc, "usage", None)
    outcome.stdout, outcome.stdout_truncated = bytes(pipes.stdout), pipes.truncated
    outcome.last_stderr = pipes.last_stderr or None
    return outcome
