"""SIGINT/SIGTERM to a runner's process (SPEC 6.6): stop as ``stop --force`` does.

The command layer installs the signal handlers (:func:`workflow_cli.ops.interrupt.handling_signals`);
the handler only records the signal here. Every runner of the process (a ``workflow_trigger``
child run in a worker thread included) looks at the active :class:`Interrupt` at the top of each
pass and, the first time it sees one, stops: no new task starts, every attempt in flight is
cancelled with reason ``stop`` (its process tree gets SIGTERM, then SIGKILL after the grace; the
attempt is recorded and runs again on ``resume``), and the run ends ``paused``. A second signal
sets :attr:`Interrupt.hurry`, which cuts the grace short.
"""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workflow_cli.engine.context import RunContext

DEFAULT_GRACE = 5.0


class Interrupt:
    """The signals one command received while it ran a workflow."""

    def __init__(self, grace: float = DEFAULT_GRACE) -> None:
        self.grace = grace
        self.signum: int | None = None
        self.count = 0
        self.hurry = threading.Event()  # a second signal: SIGKILL without waiting for the grace

    def received(self, signum: int) -> None:
        """Record a signal (called from the signal handler: no locks, no I/O)."""
        self.count += 1
        if self.signum is None:
            self.signum = signum
        else:
            self.hurry.set()

    @property
    def name(self) -> str:
        """``SIGINT`` or ``SIGTERM`` (empty before any signal)."""
        return signal.Signals(self.signum).name if self.signum is not None else ""

    @property
    def exit_code(self) -> int:
        """128 + the signal number, as shells report it (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + (self.signum or 0)


_active: Interrupt | None = None


def activate(interrupt: Interrupt | None) -> None:
    """Make ``interrupt`` the one runners of this process obey (None: none)."""
    global _active
    _active = interrupt


def active() -> Interrupt | None:
    """The interrupt a signal has been recorded in, if any (cheap: called on every pass)."""
    interrupt = _active
    return interrupt if interrupt is not None and interrupt.signum is not None else None


def stop_runner(run: RunContext, interrupt: Interrupt) -> None:
    """(state lock held) Stop the run as ``stop --force`` does; nothing happens the second time.

    Each attempt in flight is cancelled with reason ``stop``, and its process killer is told the grace
    to give and the event that cuts it short.
    """
    if run.interrupt_seen:
        return
    run.interrupt_seen = True
    run.stop_requested = (f"interrupted by {interrupt.name}: 'workflow-cli resume {run.paths.id}' "
                          "continues it (interrupted tasks run again)")
    run.sched.stopping = True
    for live in run.live.values():
        run.cancel_attempt(live, "stop", grace=interrupt.grace, hurry=interrupt.hurry)
