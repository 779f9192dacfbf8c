"""The executor contract: submit keyed work, poll for finished results, shut down."""

from __future__ import annotations

from typing import Callable, Protocol

from workflow_cli.actions.base import ActionResult

TaskKey = tuple[str, int]
"""``(task_id, attempt)``: how a result finds its attempt again."""


class Executor(Protocol):
    """Runs attempts somewhere and reports their results; never raises for a failing attempt."""

    capacity: int

    def submit(self, fn: Callable[[], ActionResult], *, key: TaskKey) -> None:
        """Start ``fn`` as soon as a slot is free; its result comes back through :meth:`poll`."""
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
