"""Typed, frozen view of a workflow document that has passed the JSON Schema.

The raw document stays the source of truth on disk; these classes are what the graph, the
scheduler and the commands read, with defaults and shorthands (``retry_count``) applied once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any, Literal

# The policy fields' values (the schema's enums), checked before a document becomes these types.
TaskOnFailure = Literal["fail", "skip", "continue", "pause", "rollback"]
WorkflowOnFailure = Literal["fail", "rollback", "pause"]
OnInterrupt = Literal["rerun", "fail", "pause"]
TaskMode = Literal["parallel", "sequential", "conditional"]
WorkflowMode = Literal["parallel", "sequential"]
TriggerRule = Literal["all_success", "all_done", "one_success", "one_failed", "none_failed", "all_failed"]

ACTION_NAMES = (
    "command",
    "python",
    "agent_task",
    "file_operation",
    "api_call",
    "workflow_trigger",
    "approval_gate",
    "condition_check",
    "wait",
    "noop",
)
SIMPLE_TRIGGER_RULES = ("all_success", "all_done", "one_success", "one_failed", "none_failed", "all_failed")
FAILURE_POLICIES = ("fail", "skip", "continue", "pause", "rollback")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how late a failed attempt is tried again."""

    max_attempts: int = 1
    delay_seconds: float = 0.0
    backoff_factor: float = 2.0
    max_delay_seconds: float | None = None
    jitter: float = 0.0
    retry_on: tuple[str, ...] = ("error", "timeout", "worker_lost")
    exit_codes: tuple[int, ...] | None = None

    def delay_before(self, attempt: int, rand: float = 0.5) -> float:
        """Seconds to wait before ``attempt`` (2 = first retry); ``rand`` in [0, 1) spreads by jitter."""
        base = self.delay_seconds * self.backoff_factor ** max(attempt - 2, 0)
        if self.max_delay_seconds is not None:
            base = min(base, self.max_delay_seconds)
        if self.jitter:
            base *= 1 + self.jitter * (2 * rand - 1)
        return max(base, 0.0)

    def allows(self, kind: str, exit_code: int | None = None) -> bool:
        """Whether a failure of ``kind`` (error, timeout, ...) may be retried."""
        if kind not in self.retry_on:
            return False
        if self.exit_codes is not None and kind == "error" and exit_code is not None:
            return exit_code in self.exit_codes
        return True


@dataclass(frozen=True)
class MinSuccess:
    """Trigger rule ``{"min_success": N, "cancel_remaining": bool}``."""

    n: int
    cancel_remaining: bool = False


@dataclass(frozen=True)
class Task:
    """One task of a workflow, defaults applied."""

    id: str
    index: int
    action: str
    name: str = ""
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    trigger_rule: TriggerRule | MinSuccess = "all_success"
    execution_mode: TaskMode = "parallel"
    priority: int = 0
    timeout_seconds: float | None = None
    retry: RetryPolicy = RetryPolicy()
    on_failure: TaskOnFailure = "fail"
    on_interrupt: OnInterrupt = "rerun"
    compensate: Mapping[str, Any] | None = None
    checkpoint: bool = True
    agent_id: str | None = None
    agent_type: str | None = None
    required_capabilities: tuple[str, ...] = ()
    fallback_agent: str | None = None
    foreach: str | None = None
    foreach_max_parallel: int | None = None
    foreach_tolerated_failures: int | str = 0
    loop: Mapping[str, Any] | None = None
    set_vars: Mapping[str, str] = field(default_factory=dict)
    cache: Mapping[str, Any] | None = None
    pool: str | None = None
    outputs: tuple[str, ...] = ()
    executor: str = "auto"  # "local": never sent to a remote executor (SPEC 17)
    resources: Mapping[str, float] = field(default_factory=dict)  # Dask worker resources
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def label(self) -> str:
        return self.name or self.id


@dataclass(frozen=True)
class Workflow:
    """A whole workflow document, tasks in document order."""

    version: str
    name: str
    tasks: Mapping[str, Task]
    id: str | None = None
    description: str = ""
    category: str = ""
    tags: tuple[str, ...] = ()
    parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    variables: Mapping[str, Any] = field(default_factory=dict)
    execution_mode: WorkflowMode = "parallel"
    max_parallel: int | None = None
    timeout_seconds: float | None = None
    expected_duration_seconds: float | None = None
    on_failure: WorkflowOnFailure = "fail"
    hooks: Mapping[str, Any] = field(default_factory=dict)
    agents: Mapping[str, Any] = field(default_factory=dict)
    schedule: Mapping[str, Any] | None = None
    env_allow: tuple[str, ...] = ()
    working_dir: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


_DEFAULT_RETRY = RetryPolicy()


def _retry_fields(spec: Mapping[str, Any]) -> dict[str, Any]:
    """One layer's retry settings: its shorthands, under its explicit ``retry`` block."""
    retry = dict(spec.get("retry") or {})
    if "retry_count" in spec and "max_attempts" not in retry:
        retry["max_attempts"] = int(spec["retry_count"]) + 1
    if "retry_delay" in spec and "delay_seconds" not in retry:
        retry["delay_seconds"] = spec["retry_delay"]
    return retry


def _retry_policy(task: Mapping[str, Any], defaults: Mapping[str, Any]) -> RetryPolicy:
    """The task's retry policy: its own fields over the document's ``defaults``, field by field."""
    if not any(k in task or k in defaults for k in ("retry", "retry_count", "retry_delay")):
        return _DEFAULT_RETRY
    retry = {**_retry_fields(defaults), **_retry_fields(task)}
    exit_codes = retry.get("exit_codes")
    return RetryPolicy(
        max_attempts=int(retry.get("max_attempts", 1)),
        delay_seconds=float(retry.get("delay_seconds", 0)),
        backoff_factor=float(retry.get("backoff_factor", 2)),
        max_delay_seconds=retry.get("max_delay_seconds"),
        jitter=float(retry.get("jitter", 0)),
        retry_on=tuple(retry.get("retry_on", ("error", "timeout", "worker_lost"))),
        exit_codes=tuple(exit_codes) if exit_codes is not None else None,
    )


def default_action(spec: Mapping[str, Any]) -> str:
    """The action a task runs when it names none: an agent task if it names an agent, else noop."""
    if spec.get("action"):
        return str(spec["action"])
    if spec.get("agent_id") or spec.get("agent_type"):
        return "agent_task"
    return "noop"


def build_task(task_id: str, index: int, spec: Mapping[str, Any], defaults: Mapping[str, Any]) -> Task:
    """Build a Task from its raw mapping, with the document's ``defaults`` underneath."""
    merged: Mapping[str, Any] = {**defaults, **spec} if defaults else spec
    rule = merged.get("trigger_rule", "all_success")
    if isinstance(rule, Mapping):
        rule = MinSuccess(int(rule["min_success"]), bool(rule.get("cancel_remaining", False)))
    return Task(
        id=task_id,
        index=index,
        action=default_action(merged),
        name=merged.get("name", ""),
        description=merged.get("description", ""),
        parameters=merged.get("parameters") or {},
        dependencies=tuple(merged.get("dependencies") or ()),
        conditions=tuple(merged.get("conditions") or ()),
        trigger_rule=rule,
        execution_mode=merged.get("execution_mode", "parallel"),
        priority=int(merged.get("priority", 0)),
        timeout_seconds=merged.get("timeout_seconds"),
        retry=_retry_policy(spec, defaults),
        on_failure=merged.get("on_failure", "fail"),
        on_interrupt=merged.get("on_interrupt", "rerun"),
        compensate=merged.get("compensate"),
        checkpoint=bool(merged.get("checkpoint", True)),
        agent_id=merged.get("agent_id"),
        agent_type=merged.get("agent_type"),
        required_capabilities=tuple(merged.get("required_capabilities") or ()),
        fallback_agent=merged.get("fallback_agent"),
        foreach=merged.get("foreach"),
        foreach_max_parallel=merged.get("foreach_max_parallel"),
        foreach_tolerated_failures=merged.get("foreach_tolerated_failures", 0),
        loop=merged.get("loop"),
        set_vars=merged.get("set_vars") or {},
        cache=merged.get("cache"),
        pool=merged.get("pool"),
        outputs=tuple(merged.get("outputs") or ()),
        executor=merged.get("executor", "auto"),
        resources=merged.get("resources") or {},
        raw=spec,
    )


def build_workflow(doc: Mapping[str, Any]) -> Workflow:
    """Build a Workflow from a document that has passed the schema."""
    defaults = doc.get("defaults") or {}
    tasks = {tid: build_task(tid, i, spec or {}, defaults) for i, (tid, spec) in enumerate(doc["tasks"].items())}
    return Workflow(
        version=doc["version"],
        name=doc["name"],
        tasks=tasks,
        id=doc.get("id"),
        description=doc.get("description", ""),
        category=doc.get("category", ""),
        tags=tuple(doc.get("tags") or ()),
        parameters=doc.get("parameters") or {},
        variables=doc.get("variables") or {},
        execution_mode=doc.get("execution_mode", "parallel"),
        max_parallel=doc.get("max_parallel"),
        timeout_seconds=doc.get("timeout_seconds"),
        expected_duration_seconds=doc.get("expected_duration_seconds"),
        on_failure=doc.get("on_failure", "fail"),
        hooks=doc.get("hooks") or {},
        agents=doc.get("agents") or {},
        schedule=doc.get("schedule"),
        env_allow=tuple(doc.get("env_allow") or ()),
        working_dir=doc.get("working_dir"),
        raw=doc,
    )
