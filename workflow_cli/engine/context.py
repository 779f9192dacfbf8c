"""What one run shares between the runner's collaborators: the loaded instance, its journal and flags.

:class:`RunContext` is built once per run by :meth:`RunContext.load` (under the instance lock) and
handed to each collaborator's constructor. It holds data and the few questions every collaborator
asks the same way (the expression scope, the services an action may use, a condition's verdict);
it knows nothing of the collaborators, and none of them knows the :class:`~.runner.Runner`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow_cli.clock import SystemClock, parse_iso
from workflow_cli.engine.attempt import Redactor, allowed_env
from workflow_cli.engine.journal import Journal
from workflow_cli.model.document import Task, Workflow, build_workflow
from workflow_cli.model.states import EventType
from workflow_cli.store.config import load_config
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths, load_state, read_document, read_secrets

if TYPE_CHECKING:
    import random

    from workflow_cli.engine.executors.base import Executor
    from workflow_cli.engine.options import RunOptions
    from workflow_cli.engine.scheduler import Scheduler

DEFAULT_COMMIT_MS = 20


STOPPING_POLICIES = frozenset({"fail", "rollback", "pause"})


@dataclass
class Live:
    """An attempt in flight (of a task, a loop iteration or a foreach item)."""

    task: Task
    attempt: int
    key: str | None  # the executor's unit (task id or ``T[3]``) while the attempt runs there; None otherwise
    cancel_reason: str | None = None
    index: int | None = None  # the foreach item
    digest: str | None = None  # the cache entry its result is stored under
    cached: bool = False  # the result came from the cache


def default_parallel(wf: Workflow, config: Mapping[str, Any], override: int | None) -> int:
    """max_parallel: option > document > home config > CPUs (at least 2)."""
    return int(override or wf.max_parallel or config.get("max_parallel") or max(2, os.cpu_count() or 2))


def parse_due(text: str | float) -> float:
    """A stored due time (ISO text, or seconds) as seconds since the epoch."""
    return float(text) if isinstance(text, (int, float)) else parse_iso(text)


@dataclass
class RunContext:
    """The state of one run that the collaborators share (only the runner thread or a worker holding
    the runner's state lock reads or changes it)."""

    home: Home
    paths: InstancePaths
    clock: SystemClock
    options: RunOptions
    wf: Workflow
    config: Mapping[str, Any]
    journal: Journal
    redact: Redactor
    params: dict[str, Any]
    max_parallel: int
    commit_interval: float
    base_env: dict[str, str]
    workspace_resolved: Path
    _rng: random.Random | None = None  # retry jitter's random source, made on the first retry
    live: dict[str, Live] = field(default_factory=dict)
    waiting: dict[str, dict[str, Any]] = field(default_factory=dict)  # waiting tasks and what they wait for
    children: list[str] = field(default_factory=list)  # child instances started by this run
    stop_requested: str | None = None  # why the run pauses (stop request, interrupted task)
    cancel_requested: bool = False
    deadline_hit: bool = False
    failure: tuple[str, str] | None = None  # (task, policy) that ended normal scheduling
    resumed_from: str = "created"
    scheduler: Scheduler | None = None  # set when the loop starts
    executor: Executor | None = None  # set when the loop starts
    state: dict[str, Any] = field(default_factory=dict)  # the journal's state (one dict for the whole run)
    secret_values: tuple[str, ...] = ()  # what every attempt masks
    state_lock: Any = None  # the runner's state lock (set by the runner)
    interrupt_seen: bool = False  # a SIGINT/SIGTERM already stopped this run (engine.interrupt)
    _instance_scope: dict[str, Any] = field(default_factory=dict)
    _env_scope: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, home: Home, paths: InstancePaths, clock: SystemClock, options: RunOptions) -> RunContext:
        """Read the instance (document, state, secrets) and the home's configuration."""
        wf = build_workflow(read_document(paths))
        config = load_config(home)
        state = load_state(paths)
        secrets = read_secrets(paths)
        redact = Redactor(secrets)
        # every event's data is masked before it is recorded (SPEC 14): log, state, index, subscribers, hooks
        journal = Journal(paths, home.checkpoints / paths.id, state, clock, sink=options.sink,
                          mask=redact.value if redact.values else None)
        paths.outputs.mkdir(exist_ok=True, mode=0o700)  # made at create; older instances may lack it
        run = cls(home=home, paths=paths, clock=clock, options=options, wf=wf, config=config, journal=journal,
                  redact=redact, params={**state.get("params", {}), **secrets},
                  max_parallel=default_parallel(wf, config, options.max_parallel),
                  commit_interval=float(config.get("commit_interval_ms", DEFAULT_COMMIT_MS)) / 1000.0,
                  # read once per run: copying os.environ and resolving the workspace cost ~0.2 ms per task otherwise
                  base_env=dict(os.environ), workspace_resolved=paths.workspace.resolve())
        st = run.state = journal.state
        run.secret_values = tuple(run.redact.values)
        run._instance_scope = {"id": paths.id, "name": st.get("name"), "template": st.get("template"),
                               "created_at": st.get("created_at"), "workspace": str(paths.workspace)}
        run._env_scope = allowed_env(wf.env_allow)
        return run

    @property
    def sched(self) -> Scheduler:
        """The scheduler (the loop has started)."""
        return self.scheduler  # type: ignore[return-value]  # set by the runner before any collaborator asks

    @property
    def halted(self) -> bool:
        """No new attempt starts: a stop or cancel request, or the deadline."""
        return bool(self.stop_requested or self.cancel_requested or self.deadline_hit)

    def scope(self, task: Task | None = None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The names expressions see (``extra``: item/index of a foreach item, loop of a loop task)."""
        instance = self._instance_scope
        state = self.journal.state
        if instance.get("started_at") != state.get("started_at"):
            instance["started_at"] = state.get("started_at")
        scope = {"params": self.params, "vars": state["vars"], "tasks": state["tasks"], "instance": instance, "env": self._env_scope}
        if extra:
            scope.update(extra)
        return scope

    def services(self, task: Task | None = None, scope: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """What actions may use besides their parameters (the scope, the clock, the home...): in-process handles."""
        return {"clock": self.clock, "scope": scope if scope is not None else self.scope(task), "home": self.home,
                "workflow": self.wf, "paths": self.paths, "signals": self.journal.state.get("signals") or {},
                "signal_keys": self.journal.state.get("signal_keys") or {},
                "children": self.children, "base_env": self.base_env, "workspace_resolved": self.workspace_resolved,
                "child_workflows": self.options.child_workflows, "task": task,
                "base_dir": self.journal.state.get("base_dir"), "link_child": self.link_child,
                "linked_children": self.journal.state.get("children") or ()}

    def link_child(self, child_id: str, task_id: str) -> None:
        """(a worker thread) A ``workflow_trigger`` task created a child instance: record the link."""
        with self.state_lock:
            self.journal.record(EventType.CHILD_LINKED, {"child": child_id, "task": task_id})

    def evaluate_conditions(self, conditions: tuple[str, ...], scope: Mapping[str, Any]) -> tuple[bool, str | None]:
        """(all true, why not): the first condition that is false or cannot be evaluated."""
        from workflow_cli.templates.render import evaluate, truthy

        for cond in conditions:
            try:
                value = evaluate(cond, scope)
            except Exception as exc:  # noqa: BLE001 - a bad expression skips with its message
                return False, f"condition '{cond}' could not be evaluated: {exc}"
            if not truthy(value):
                return False, f"condition '{cond}' is false (value: {self.redact(repr(value))})"
        return True, None

    @property
    def rng(self) -> random.Random:
        """The random source of retry jitter (``random`` is imported on the first retry, not by every run)."""
        if self._rng is None:
            import random

            self._rng = random.Random()
        return self._rng

    def unhandled_failure(self) -> tuple[str, str] | None:
        """The first failed task whose ``on_failure`` stops the workflow (read once per run, not per task)."""
        for tid, ts in self.journal.state["tasks"].items():
            policy = self.wf.tasks[tid].on_failure
            if ts["status"] == "failed" and policy in STOPPING_POLICIES:
                return tid, policy
        return None

    def take_live(self, key: str, attempt: int) -> Live | None:
        """The attempt in flight under ``key`` if ``attempt`` is still the current one (it is no longer in flight)."""
        live = self.live.get(key)
        if live is None or live.attempt != attempt:
            return None  # an attempt that is no longer current: its result is discarded
        del self.live[key]
        return live

    def enter_failure(self, tid: str, policy: str) -> None:
        """A task finally failed with a policy that ends normal scheduling (SPEC 6.2)."""
        self.failure = (tid, policy)
        if self.scheduler is not None:
            self.apply_failure_mode(self.scheduler)

    def apply_failure_mode(self, scheduler: Scheduler) -> None:
        """Tell the scheduler what a failure means: pause asks a person first, fail/rollback let cleanup tasks run."""
        if self.failure is None:
            return
        if self.failure[1] == "pause":
            scheduler.stopping = True  # ask a person before anything else starts, cleanup tasks included
        else:
            scheduler.failing = True  # only failure-accepting tasks (cleanup, notification) still start

    def cancel_attempt(self, live: Live, reason: str, *, grace: float | None = None, hurry: Any = None) -> None:
        """Ask an attempt in flight to stop, giving the reason its result will carry (``grace``/``hurry``:
        how long its process tree gets between SIGTERM and SIGKILL, and what cuts that short)."""
        live.cancel_reason = reason
        if live.key is not None and self.executor is not None:
            self.executor.cancel((live.key, live.attempt), grace=grace, hurry=hurry)
