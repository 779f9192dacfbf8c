"""The executor contract: run attempt specs somewhere, hand their results back, cancel, shut down."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Protocol

from workflow_cli.actions.base import ActionResult
from workflow_cli.engine.spec import AttemptSpec

TaskKey = tuple[str, int]
"""``(unit, attempt)``: how a result finds its attempt again (``unit``: a task id, or ``T[3]`` for a foreach item)."""


class Executor(Protocol):
    """Runs attempts somewhere and reports their results; never raises for a failing attempt.

    What crosses to an executor is data: an :class:`~workflow_cli.engine.spec.AttemptSpec` that it runs
    with the action registered under ``spec.action``. ``services`` are the runner's in-process handles
    (the live scope, the home); an executor running attempts in this process passes them to the
    action, a remote one leaves them behind.
    """

    capacity: int

    def submit(self, spec: AttemptSpec, *, key: TaskKey, services: Mapping[str, Any] | None = None) -> None:
        """Start ``spec`` as soon as a slot is free; its result comes back through the handler or :meth:`poll`."""
        ...

    def cancel(self, key: TaskKey, *, grace: float | None = None, hurry: Any = None) -> None:
        """Ask a submitted attempt to stop (it ends with a result as usual); unknown keys are ignored.

        ``grace``: seconds its process tree gets between SIGTERM and SIGKILL; ``hurry``: an event that
        cuts the grace short (a second SIGINT). A remote executor may ignore both."""
        ...

    def set_result_handler(self, handler: Callable[[TaskKey, ActionResult], None] | None) -> None:
        """Hand each result to ``handler`` as soon as it exists (the runner records it there, under its
        own lock, and may submit more work from inside the handler)."""
        ...

    def poll(self, timeout: float | None) -> list[tuple[TaskKey, ActionResult]]:
        """Without a handler: wait up to ``timeout`` seconds (None: forever) for one result, then return every finished one."""
        ...

    def shutdown(self, *, wait: bool) -> None:
        """Stop taking work; with ``wait``, return once running work has finished."""
        ...
