"""The contract between the runner and a task action (SPEC 6.4, 17).

An action gets everything through :class:`ActionContext` and answers with an :class:`ActionResult`:
failure is data, not an exception. Actions never touch the store or the console.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Callable, Protocol

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
    usage: Mapping[str, float] | None = None  # the attempt's process tree: cpu_seconds, max_rss_mb (SPEC 9)

    @classmethod
    def success(cls, outputs: Any = None) -> ActionResult:
        return cls(True, outputs if outputs is not None else {})

    @classmethod
    def failure(cls, error: str, *, kind: str = "error", exit_code: int | None = None, outputs: Any = None) -> ActionResult:
        return cls(False, outputs, error, kind, exit_code)


class ChildWorkflows(Protocol):
    """What an action may do with other instances of the home (``workflow_trigger``).

    The operations layer provides it to the runner (``RunOptions.child_workflows``), which hands it
    to actions as ``ctx.services["child_workflows"]``: actions never import ``ops`` themselves.
    """

    def create(self, source: str, *, params: Mapping[str, Any], name: str | None, parent: Mapping[str, Any],
               workdir: str | None = None) -> str:
        """Create an instance of a template name or document file (``workdir``: its base directory); its id
        (WorkflowError when it cannot)."""
        ...

    def run(self, instance_id: str) -> None:
        """Run the instance in this thread until it stops moving (WorkflowError when it cannot run)."""
        ...

    def start_background(self, instance_id: str) -> None:
        """Start the instance's runner in a background process and return at once."""
        ...


class Action(Protocol):
    """A task action: ``run`` one attempt; ``validate`` its parameters before anything runs."""

    name: str
    shell_fields: tuple[str, ...]
    inline: bool

    def run(self, ctx: ActionContext) -> ActionResult: ...

    def validate(self, parameters: Mapping[str, Any], path: str) -> list[Issue]: ...


def unknown_key_issues(parameters: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> list[Issue]:
    """One Issue per parameter key not in ``allowed``, with a did-you-mean hint."""
    from workflow_cli.errors import did_you_mean

    return [
        Issue(f"{path}.{key}", f"unknown parameter '{key}'", did_you_mean(str(key), allowed) or f"allowed: {', '.join(allowed)}")
        for key in parameters
        if key not in allowed
    ]


def format_mib(size: int) -> str:
    """A byte count as MiB rounded up to one decimal (``1.3 MiB``), for limit messages."""
    tenths = -(-size * 10 // MAX_OUTPUT_BYTES)
    return f"{tenths // 10}.{tenths % 10} MiB"


_strict_json = json.JSONEncoder(allow_nan=False, ensure_ascii=False).encode  # outputs must be real JSON


def outputs_result(value: Any, *, exit_code: int | None = None) -> ActionResult:
    """Success with ``value`` as outputs (a non-dict becomes ``{"result": value}``), or failure kind ``output``.

    Outputs must be JSON (no NaN/Infinity) and at most :data:`MAX_OUTPUT_BYTES` once serialised (SPEC 6.2).
    """
    outputs = dict(value) if isinstance(value, Mapping) else {"result": value}
    if not value and (value is None or type(value) is dict):  # nothing to check: {} or {"result": null}
        return ActionResult(True, outputs, exit_code=exit_code)
    try:
        size = len(_strict_json(outputs).encode("utf-8"))
    except (TypeError, ValueError, RecursionError) as exc:
        return ActionResult.failure(f"outputs are not JSON-serialisable: {exc}", kind="output", exit_code=exit_code)
    if size > MAX_OUTPUT_BYTES:
        return ActionResult.failure(
            f"outputs are {format_mib(size)}; the limit is 1 MiB", kind="output", exit_code=exit_code
        )
    return ActionResult(True, outputs, exit_code=exit_code)


def ctx_now(ctx: ActionContext) -> float:
    """The runner's clock (injectable, honours WORKFLOW_CLI_TIME_OFFSET) or wall time without one."""
    clock = ctx.services.get("clock") if ctx.services else None
    if clock is not None:
        return float(clock.time())
    import time

    return time.time()


def flag(value: Any, *, default: bool) -> bool:
    """A boolean parameter that may arrive rendered as text (``"false"``, ``"yes"``...); None means ``default``."""
    if value is None:
        return default
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "yes", "on", "1"):
            return True
        if text in ("false", "no", "off", "0", ""):
            return False
    return bool(value)
