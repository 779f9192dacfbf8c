"""How a run is asked to behave (:class:`RunOptions`) and what it reports back (:class:`RunOutcome`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workflow_cli.actions.base import ChildWorkflows
from workflow_cli.engine.journal import EventSink


@dataclass
class RunOptions:
    """How a run behaves: limits and what to do with what it sees."""

    max_parallel: int | None = None
    wait_threshold: float = 60.0
    sink: EventSink | None = None
    no_cache: bool = False
    reopen: bool = False
    reset_tasks: tuple[tuple[str, bool], ...] = ()  # (task, full): put back to pending first (retry)
    apply_only: bool = False
    child_workflows: ChildWorkflows | None = None  # what workflow_trigger uses (given by ops)


@dataclass
class RunOutcome:
    """The state the runner left the instance in, plus why it stopped."""

    state: dict[str, Any]
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
