"""The contract between the runner and a task action (SPEC 6.4, 17).

An action gets everything through :class:`ActionContext` and answers with an :class:`ActionResult`:
failure is data, not an exception. Actions never touch the store or the console.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from workflow_cli.errors import Issue

MAX_OUTPUT_BYTES = 1024 * 1024


@dataclass
class ActionContext:
    """What one attempt of one task may use."""

    instance_id: str
    task_id: str
    attempt: int
    parameters: Mapping[str, Any]
    workspace: Path
    log: Callable[[str], None]
    env: Mapping[str, str] = field(default_factory=dict)
    timeout: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    output_file: Path | None = None
    home: Path | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    task: Any = None
    services: Mapping[str, Any] = field(default_factory=dict)

    def task_env(self) -> dict[str, str]:
        """The WORKFLOW_* variables every task process gets (SPEC 6.2)."""
        env = {
            "WORKFLOW_INSTANCE_ID": self.instance_id,
            "WORKFLOW_TASK_ID": self.task_id,
            "WORKFLOW_ATTEMPT": str(self.attempt),
            "WORKFLOW_IDEMPOTENCY_KEY": f"{self.instance_id}:{self.task_id}",
            "WORKFLOW_WORKSPACE": str(self.workspace),
        }
        if self.output_file is not None:
            env["WORKFLOW_OUTPUT"] = str(self.output_file)
        env.update(self.env)
        return env


@dataclass
class ActionResult:
    """How an attempt ended. ``kind`` says why it failed: error, timeout, cancelled, rejected, output."""

    ok: bool
    outputs: Any = None
    error: str | None = None
    kind: str = "error"
    exit_code: int | None = None
    waiting: Mapping[str, Any] | None = None

    @classmethod
    def success(cls, outputs: Any = None) -> ActionResult:
        return cls(True, outputs if outputs is not None else {})

    @classmethod
    def failure(cls, error: str, *, kind: str = "error", exit_code: int | None = None, outputs: Any = None) -> ActionResult:
        return cls(False, outputs, error, kind, exit_code)


class Action(Protocol):
    """A task action: ``run`` one attempt; ``validate`` its parameters before anything runs."""

    name: str
    shell_fields: tuple[str, ...]
    inline: bool

    def run(self, ctx: ActionContext) -> ActionResult: ...

    def validate(self, parameters: Mapping[str, Any], path: str) -> list[Issue]: ...
