"""Starting a child process for an action: one path, the standard library's ``subprocess.Popen``.

Every command attempt starts a process in a new session, in the workspace, with piped output and its own
environment (SPEC 6.2): ``start_new_session``, ``cwd``, every other descriptor closed (``close_fds``),
SIGPIPE and SIGXFSZ back to their defaults (``restore_signals``), stdin from a pipe or ``/dev/null``.
On Linux, CPython starts the child with ``vfork`` (or ``posix_spawn`` where that can express it), so
the kernel's side is as cheap as it gets; what is left is Popen's own Python (see
``docs/architecture.md``, "Child processes").
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping


class ChildEnvironment(dict):  # type: ignore[type-arg]
    """A child's environment: the runner's ``base`` with ``changes`` on top (a ``None`` change removes a variable)."""

    def __init__(self, base: Mapping[str, str], changes: Mapping[str, str | None]) -> None:
        super().__init__(base)
        for name, value in changes.items():
            if value is None:
                self.pop(name, None)
            else:
                self[name] = value


def spawn(argv: list[str], *, executable: str | None, cwd: str, env: Mapping[str, str],
          stdin_pipe: bool) -> subprocess.Popen[bytes]:
    """Start ``argv`` (``executable``: its resolved path) in a new session with piped stdout and stderr.

    Raises OSError when the program cannot be started, ValueError for a NUL byte in an argument or
    variable, or an ``=`` in a variable's name.
    """
    return subprocess.Popen(
        argv,
        executable=executable,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        bufsize=0,  # raw pipe ends: only their descriptors are used (polled and read with os.read); ~10 µs less per child
    )
