"""SIGINT/SIGTERM while a command drives a run (SPEC 6.6): the handlers and the line that explains them."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from workflow_cli.engine.interrupt import DEFAULT_GRACE, Interrupt, activate

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def handling_signals(grace: float | None = None) -> Iterator[Interrupt]:
    """While the block runs, SIGINT/SIGTERM stop the run as ``stop --force`` (a second one skips the grace).

    Outside the main thread (where Python cannot install handlers) the block runs unchanged.
    """
    interrupt = Interrupt(DEFAULT_GRACE if grace is None else max(0.0, grace))
    if threading.current_thread() is not threading.main_thread():
        yield interrupt
        return

    def handler(signum: int, frame: Any) -> None:
        interrupt.received(signum)

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    activate(interrupt)
    try:
        yield interrupt
    finally:
        activate(None)
        for sig, old in previous.items():
            signal.signal(sig, old)


def interrupted_line(interrupt: Interrupt, status: dict[str, Any]) -> str:
    """The one stderr line an interrupted run ends with: what happened and how to go on."""
    instance = status.get("id", "?")
    state = status.get("status")
    if state == "paused":
        return (f"interrupted by {interrupt.name}: instance {instance} is paused; "
                f"'workflow-cli resume {instance}' continues it (interrupted tasks run again)")
    return f"interrupted by {interrupt.name}: instance {instance} is {state}"
