"""The runner: drives one instance under its lock, combining scheduler, executor, actions and journal.

Only this module joins the pieces; each of them is tested alone. A pass is:
requests -> deadline -> waiting tasks -> decide (skip / start) -> group commit. The runner thread
makes a pass, then sleeps until a timer, the group commit or a worker wakes it; a worker whose attempt
ended records the result and makes a pass itself (:meth:`Runner._result_on_worker`). The periodic
group commit (the fsync) is the runner thread's alone, so no start waits behind one.
"""

from __future__ import annotations

import gc
import os
import random
import threading
from collections import deque
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any, Callable

from workflow_cli.actions.base import ActionResult
from workflow_cli.engine.attempt import Redactor, allowed_env
from workflow_cli.engine.cache import CacheMixin
from workflow_cli.engine.clock import SystemClock
from workflow_cli.engine.foreach import ForeachMixin
from workflow_cli.engine.interrupt import active as interrupt_active
from workflow_cli.engine.interrupt import stop_runner
from workflow_cli.engine.journal import EventSink, Journal
from workflow_cli.engine.launch import LaunchMixin, _Live
from workflow_cli.engine.loop import LoopMixin
from workflow_cli.engine.pools import PoolMixin
from workflow_cli.engine.requests import RequestsMixin
from workflow_cli.engine.runner_waits import WaitingMixin
from workflow_cli.engine.scheduler import Scheduler
from workflow_cli.errors import ConflictError
from workflow_cli.model.document import Task, Workflow, build_workflow
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths, load_state, read_document, read_secrets
from workflow_cli.store.locks import InstanceLock
from workflow_cli.store.state import next_checkpoint_id

POLL_SECONDS = 0.2
DEFAULT_COMMIT_MS = 20
STOPPING_POLICIES = {"fail", "rollback", "pause"}


@dataclass
class RunOptions:
    """How a run behaves: limits and what to do with what it sees."""

    max_parallel: int | None = None
    wait_threshold: float = 60.0
    sink: EventSink | None = None
    no_cache: bool = False
    reopen: bool = False
    prepare: Callable[[Any], None] | None = None
    apply_only: bool = False


@dataclass
class RunOutcome:
    """The state the runner left the instance in, plus why it stopped."""

    state: dict[str, Any]
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def default_parallel(wf: Workflow, config: Mapping[str, Any], override: int | None) -> int:
    """max_parallel: option > document > home config > CPUs (at least 2)."""
    return int(override or wf.max_parallel or config.get("max_parallel") or max(2, os.cpu_count() or 2))


class Runner(LaunchMixin, RequestsMixin, WaitingMixin, ForeachMixin, LoopMixin, CacheMixin, PoolMixin):
    """Runs one instance until it is terminal, waiting, or paused."""

    def __init__(self, home: Home, paths: InstancePaths, *, clock: SystemClock | None = None,
                 options: RunOptions | None = None, executor_factory: Callable[[int], Any] | None = None) -> None:
        self.home = home
        self.paths = paths
        self.clock = clock or SystemClock()
        self.options = options or RunOptions()
        self.executor_factory = executor_factory
        self.lock = InstanceLock(paths.lock)
        self.live: dict[str, _Live] = {}
        self.stop_requested: str | None = None
        self.cancel_requested = False
        self.failure: tuple[str, str] | None = None  # (task, policy) that ended normal scheduling
        self.deadline_hit = False
        self.waiting: dict[str, dict[str, Any]] = {}
        self.children: list[str] = []
        self._requests_mtime: int | None = None
        self._requests_looked = float("-inf")
        self.fanouts: dict[str, Any] = {}  # running foreach tasks
        self.pool_waits: set[str] = set()  # what waits for a pool slot (task id or item key)
        self._conditions_split: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._result_cache_files: Any = None
        self._resumed_from = "created"
        self._state_lock = threading.RLock()  # the runner thread and the workers handling their results
        self._wake = threading.Event()  # a worker tells the runner thread to look
        self._worker_error: BaseException | None = None
        self._inbox: deque[tuple[tuple[str, int], ActionResult]] = deque()  # results waiting for the state lock
        self._looping = True
        self._deadline_at: float | None = None

    # -- setup ---------------------------------------------------------------------------------------
    def _load(self) -> None:
        from workflow_cli.ops.config import load_config

        self.doc = read_document(self.paths)
        self.wf = build_workflow(self.doc)
        self.config = load_config(self.home)
        state = load_state(self.paths)
        secrets = read_secrets(self.paths)
        self.redact = Redactor(secrets)
        self.journal = Journal(self.paths, self.home.checkpoints / self.paths.id, state, self.clock, sink=self.options.sink,
                               mask=self.redact.value if self.redact.values else None)
        self.state = self.journal.state
        self.params = {**state.get("params", {}), **secrets}
        self.max_parallel = default_parallel(self.wf, self.config, self.options.max_parallel)
        from workflow_cli.actions import registry

        self.registry = registry()
        self.rng = random.Random()
        self.commit_interval = float(self.config.get("commit_interval_ms", DEFAULT_COMMIT_MS)) / 1000.0
        self._instance_scope = {"id": self.paths.id, "name": self.state.get("name"), "template": self.state.get("template"),
                                "created_at": self.state.get("created_at"), "workspace": str(self.paths.workspace)}
        self._env_scope = allowed_env(self.wf.env_allow)
        self.paths.outputs.mkdir(exist_ok=True, mode=0o700)  # made at create; older instances may lack it
        # read once per run: copying os.environ and resolving the workspace cost ~0.2 ms per task otherwise
        self._base_env = dict(os.environ)
        self._workspace_resolved = self.paths.workspace.resolve()
        self._attach_hooks()

    def _attach_hooks(self) -> None:
        """Hooks run for each durable event, after any ``--events`` subscriber (SPEC 9)."""
        self.hooks = None
        if not self.wf.hooks:
            return
        from workflow_cli.engine.hooks import HookRunner

        hooks = self.hooks = HookRunner(self.wf.hooks, self.paths, self.redact, self._scope(), {"home": self.home,
                                        "clock": self.clock, "paths": self.paths, "workflow": self.wf,
                                        "base_dir": self.state.get("base_dir"), "link_child": self._link_child}, self.config)
        user_sink = self.options.sink

        def sink(event: dict[str, Any]) -> None:
            if user_sink is not None:
                user_sink(event)
            hooks(event)

        self.journal.sink = sink

    def _begin(self) -> None:
        if self.options.prepare is not None:
            self.options.prepare(self)
        status = self._resumed_from = self.state["status"]
        if status in ("completed", "failed", "cancelled") and not self.options.reopen:
            raise ConflictError(f"instance {self.paths.id} is {status}; use 'workflow-cli retry {self.paths.id}' to run failed tasks again")
        if status in ("created", "queued"):
            self.journal.record("workflow.started", {"max_parallel": self.max_parallel})
        else:
            self.journal.record("workflow.resumed", {"from": status})
        if status == "paused":
            self._reset_paused_failures()
        if status in ("paused", "failed", "cancelled"):
            self._reset_aborted()
        if status in ("running", "waiting", "paused"):
            # a failure that was being handled when the run stopped (a crash, a stop) still decides the outcome
            found = self._unhandled_failure()
            if found is not None:
                self._enter_failure(*found)
        self._recover_interrupted()
        self._fail_unknown_pools()

    def _recover_interrupted(self) -> None:
        """Tasks recorded as running when the runner died: rerun, fail or pause (SPEC 7.4)."""
        for tid, ts in self.state["tasks"].items():
            if ts["status"] != "running":
                continue
            task = self.wf.tasks[tid]
            if task.foreach:
                self._recover_items(task)  # the task goes on; only its unfinished items run again
                continue
            error = "the runner stopped while this attempt ran"
            if task.on_interrupt == "rerun":
                self.journal.record("task.retrying", {"task": tid, "attempt": ts["attempts"], "error": error, "kind": "interrupted", "due": None})
                continue
            self.journal.record("task.failed", {"task": tid, "attempt": ts["attempts"], "error": error, "kind": "interrupted"})
            if task.on_interrupt == "pause":
                self.stop_requested = (f"task {tid} was interrupted and must not run twice: check it, "
                                       f"then 'workflow-cli resume {self.paths.id}' runs it again")
            elif task.on_failure in STOPPING_POLICIES and self.failure is None:
                self._enter_failure(tid, task.on_failure)

    def _pauses_on_failure(self, task: Task) -> bool:
        return task.on_failure == "pause" or (task.on_failure == "fail" and self.wf.on_failure == "pause")

    def _reset_paused_failures(self) -> None:
        """Resuming a paused run: the failures that paused it (a person has looked at them) run again."""
        for tid, ts in self.state["tasks"].items():
            if ts["status"] != "failed":
                continue
            task = self.wf.tasks[tid]
            interrupted = ts.get("error_kind") == "interrupted" and task.on_interrupt == "pause"
            if interrupted or self._pauses_on_failure(task):
                self.journal.record("task.reset", {"task": tid, "reason": "resume"})

    def _reset_aborted(self) -> None:
        """Tasks skipped only because an earlier failure stopped new starts get their chance again."""
        for tid, ts in self.state["tasks"].items():
            if ts["status"] == "skipped" and ts.get("error_kind") == "aborted":
                self.journal.record("task.reset", {"task": tid, "reason": "resume"})

    def _unhandled_failure(self) -> tuple[str, str] | None:
        """The first failed task whose ``on_failure`` stops the workflow (read once per run, not per task)."""
        for tid, ts in self.state["tasks"].items():
            policy = self.wf.tasks[tid].on_failure
            if ts["status"] == "failed" and policy in STOPPING_POLICIES:
                return tid, policy
        return None

    def _enter_failure(self, tid: str, policy: str) -> None:
        """A task finally failed with a policy that ends normal scheduling (SPEC 6.2)."""
        self.failure = (tid, policy)
        scheduler = getattr(self, "scheduler", None)
        if scheduler is not None:
            self._apply_failure_mode(scheduler)

    def _apply_failure_mode(self, scheduler: Scheduler) -> None:
        if self.failure is None:
            return
        if self.failure[1] == "pause":
            scheduler.stopping = True  # ask a person before anything else starts, cleanup tasks included
        else:
            scheduler.failing = True  # only failure-accepting tasks (cleanup, notification) still start

    # -- the loop --------------------------------------------------------------------------------------
    def run(self) -> RunOutcome:
        """Acquire the lock and run; ConflictError (exit 5) if a live runner holds the instance."""
        if not self.lock.acquire():
            raise ConflictError(f"instance {self.paths.id} is held by a live runner; wait for it, or 'workflow-cli stop {self.paths.id}'")
        frozen = not gc.isenabled() or gc.get_freeze_count() > 0  # someone else manages the collector
        try:
            self._load()
            if not frozen:
                # Everything loaded so far (modules, the document, the state) lives as long as the run: keep it
                # out of the collector's full passes, which otherwise rescan it every few hundred tasks.
                gc.freeze()
            self._begin()
            self.journal.flush()
            return self._loop()
        finally:
            if not frozen:
                gc.unfreeze()
            journal = getattr(self, "journal", None)
            if journal is not None:
                journal.close()
            if getattr(self, "hooks", None) is not None:
                self.hooks.close()  # hooks of the last events finish before the command returns
            self.lock.release()

    def _loop(self) -> RunOutcome:
        from workflow_cli.engine.executors.local import LocalExecutor

        statuses = {tid: ts["status"] for tid, ts in self.state["tasks"].items()}
        self.scheduler = Scheduler(self.wf, statuses, max_parallel=self.max_parallel)
        self._apply_failure_mode(self.scheduler)
        for tid, ts in self.state["tasks"].items():
            if ts["status"] == "pending" and ts.get("next_attempt_at"):
                self.scheduler.delay(tid, self._parse_due(ts["next_attempt_at"]))
        factory = self.executor_factory or (lambda n: LocalExecutor(n))
        self.executor = factory(self.max_parallel)
        self._load_waiting()
        self._restore_fanouts()
        self._deadline_at = self._deadline()
        # Results are handled on the worker thread that produced them (see _result_on_worker): the runner
        # thread only wakes for what needs its timing.
        self.executor.set_result_handler(self._result_on_worker)
        self.journal.defer_snapshots = True
        try:
            if self.options.apply_only:
                self._process_requests(force=True)
                self._poll_waiting(self.clock.time())
                return self._finish(apply_only=True)
            while True:
                with self._state_lock:
                    if self._worker_error is not None:
                        raise self._worker_error
                    self._wake.clear()
                    self._drain_inbox()
                    now = self._pass()
                    commit = None
                    if not self.live:
                        if self._should_stop(now):
                            self._looping = False
                            break  # the run's last events go to disk with its final one, in one fsync
                        self.journal.flush()  # durable before this thread sleeps
                    else:
                        commit = self.journal.begin_commit(self.commit_interval)
                    timeout = self._poll_timeout()
                    live = bool(self.live)
                if commit is not None:
                    self.journal.sync_unlocked()  # the group commit's fsync: workers go on meanwhile
                    with self._state_lock:
                        self.journal.end_commit(commit)
                        timeout = self._poll_timeout()
                if self.journal.snapshot_due:
                    self._write_snapshot()
                if self._inbox:
                    self._take_inbox()  # left by a worker while this thread held the lock
                if not live:
                    if timeout > 0:
                        self.clock.sleep(timeout)
                else:
                    # at least a millisecond: a wake-up already due (a retry waiting for a free slot) must not
                    # spin on the lock the workers need to hand in their results
                    self._wake.wait(max(timeout, 0.001))
        finally:
            with self._state_lock:
                self._looping = False  # a late result (an abandoned attempt) is dropped from now on
                self.journal.defer_snapshots = False
            self.executor.shutdown(wait=True)
        return self._finish()

    def _write_snapshot(self) -> None:
        """The periodic snapshot: encoded under the state lock, written (fsync, rename) without it."""
        with self._state_lock:
            if not self.journal.snapshot_due:
                return
            data = self.journal.snapshot_data()
        self.journal.write_snapshot(data)

    def _pass(self) -> float:
        """One pass of the loop: requests, deadline, waiting tasks, then start what may start."""
        self._process_requests()
        now = self.clock.time()
        deadline = self._deadline_at
        if deadline is not None and now >= deadline and not self.deadline_hit:
            self._hit_deadline()
        if self.waiting:
            self._poll_waiting(now)
        if not (self.stop_requested or self.cancel_requested or self.deadline_hit):
            self._schedule(now)
        return now

    def _result_on_worker(self, key: tuple[str, int], result: ActionResult) -> None:
        """An attempt ended on a worker thread: handle it there, under the state lock.

        Recording the result, starting what it unblocked and the group commit happen on this thread,
        so a chain of short tasks needs no hand-over to the runner thread and back (a thread wake-up
        costs more than the bookkeeping). The result goes to an inbox first; whoever holds the state
        lock empties it (flat combining), so a worker never sleeps on the lock: it leaves its result
        and goes back to work.
        """
        self._inbox.append((key, result))
        self._take_inbox()

    def _take_inbox(self) -> None:
        """Handle the inbox unless another thread holds the lock (it looks again after releasing it).

        The runner thread is woken only when it has something to decide: nothing is left running, a
        timer (retry delay, waiting task, foreach) may have moved, or handling a result failed.
        """
        inbox, lock = self._inbox, self._state_lock
        while inbox and lock.acquire(blocking=False):
            try:
                if not self._looping:
                    inbox.clear()  # the loop is over: an abandoned attempt's late result is dropped
                    return
                try:
                    self._drain_inbox()
                    self._pass()  # no group commit here: the runner thread's (an fsync never delays a start)
                except BaseException as exc:  # noqa: BLE001 - re-raised on the runner thread
                    self._worker_error = exc
                    self._wake.set()
                    return
                if not self.live or self.waiting or self.fanouts or self.scheduler.next_wake() is not None \
                        or self.stop_requested or self.cancel_requested or self.deadline_hit:
                    self._wake.set()
            finally:
                lock.release()

    def _drain_inbox(self) -> None:
        """(state lock held) Record the results workers left in the inbox (SIGINT/SIGTERM first: SPEC 6.6).

        A signal is taken in before the results, so an attempt it cut off is recorded as interrupted.
        """
        interrupt = interrupt_active()
        if interrupt is not None:
            stop_runner(self, interrupt)  # as 'stop --force'
        inbox = self._inbox
        while inbox:
            key, result = inbox.popleft()
            self._on_result(key, result)

    def _should_stop(self, now: float) -> bool:
        """Nothing runs: stop unless a retry or a waiting task wakes within the wait threshold."""
        if self.stop_requested or self.cancel_requested or self.deadline_hit or self.scheduler.stopping:
            return True
        if self.fanouts:
            return False  # a foreach task's items wait in place for their retry delay or pool slot
        wakes = [w for w in (self.scheduler.next_wake(), self._waiting_wake()) if w is not None]
        if not wakes:
            return self.scheduler.idle()
        return min(wakes) - now > self.options.wait_threshold

    def _poll_timeout(self) -> float:
        """How long to wait for results: until the next wake-up, deadline or group commit."""
        timeout = POLL_SECONDS
        now = self.clock.time()
        deadline = self._deadline_at
        for wake in (self.scheduler.next_wake(), self._waiting_wake() if self.waiting else None,
                     None if self.deadline_hit else deadline,
                     self._fanout_wake() if self.fanouts else None):
            if wake is not None:
                timeout = min(timeout, wake - now)
        if self.live or self.journal.dirty:  # the group commit is this thread's: workers never wait for an fsync
            timeout = min(timeout, self.journal.commit_wait(self.commit_interval))
        return max(0.0, timeout)

    def _deadline(self) -> float | None:
        if not self.wf.timeout_seconds or not self.state.get("started_at"):
            return None
        return self._parse_due(self.state["started_at"]) + float(self.wf.timeout_seconds)

    @staticmethod
    def _parse_due(text: str | float) -> float:
        from workflow_cli.engine.clock import parse_iso

        return float(text) if isinstance(text, (int, float)) else parse_iso(text)

    # -- scheduling --------------------------------------------------------------------------------------
    def _schedule(self, now: float) -> None:
        while True:
            inline_done = self._pump_items(now) if self.fanouts else False
            running = [live.task.id for live in self.live.values()] if self.fanouts else self.live.keys()
            decision = self.scheduler.decide(now, running, self._check_conditions)
            for tid, kind, reason in decision.skip:
                self.journal.record("task.skipped", {"task": tid, "kind": kind, "error": reason})
            for tid in decision.cancel:
                self._cancel_dependency(tid)
            for tid in decision.start:
                inline_done |= self._start(tid)
            if not inline_done:
                return

    def _cancel_dependency(self, tid: str) -> None:
        """A dependency a started ``min_success`` task no longer needs (``cancel_remaining``)."""
        if tid in self.fanouts:
            self._cancel_fanout(tid, "min_success")
            return
        live = self.live.get(tid)
        if live is not None:
            live.cancel_reason = "min_success"
            if live.ctx is not None:
                live.ctx.cancel.set()
            return
        self.journal.record("task.cancelled", {"task": tid, "kind": "cancelled",
                                               "error": "cancelled: a min_success dependent no longer needs it"})
        self.scheduler.finished(tid, "cancelled")

    def _scope(self, task: Task | None = None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The names expressions see (``extra``: item/index of a foreach item, loop of a loop task)."""
        instance = self._instance_scope
        if instance.get("started_at") != self.state.get("started_at"):
            instance["started_at"] = self.state.get("started_at")
        scope = {"params": self.params, "vars": self.state["vars"], "tasks": self.state["tasks"],
                 "instance": instance, "env": self._env_scope}
        if extra:
            scope.update(extra)
        return scope

    def _services(self, task: Task | None = None, scope: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """What actions may use besides their parameters (the scope, the clock, the home...)."""
        return {"clock": self.clock, "scope": scope if scope is not None else self._scope(task), "home": self.home,
                "workflow": self.wf, "paths": self.paths, "signals": self.state.get("signals") or {}, "children": self.children,
                "base_env": self._base_env, "workspace_resolved": self._workspace_resolved,
                "base_dir": self.state.get("base_dir"), "link_child": self._link_child,
                "linked_children": self.state.get("children") or ()}

    def _link_child(self, child_id: str, task_id: str) -> None:
        """(a worker thread) A ``workflow_trigger`` task created a child instance: record the link."""
        with self._state_lock:
            self.journal.record("child.linked", {"child": child_id, "task": task_id})

    def _check_conditions(self, task: Task) -> tuple[bool, str | None]:
        """The task-level conditions (a foreach task's conditions on ``item``/``index`` are checked per item)."""
        conditions = self._task_conditions(task) if task.foreach else task.conditions
        extra = self._loop_scope(task) if task.loop else None
        return self._evaluate_conditions(conditions, self._scope(task, extra))

    def _evaluate_conditions(self, conditions: tuple[str, ...], scope: Mapping[str, Any]) -> tuple[bool, str | None]:
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

    # -- results -----------------------------------------------------------------------------------------
    def _on_result(self, key: tuple[str, int], result: ActionResult) -> None:
        """An attempt ended: complete, wait, retry or fail it (a stale attempt's result is dropped)."""
        unit, attempt = key
        live = self.live.get(unit)
        if live is None or live.attempt != attempt:
            return  # an attempt that is no longer current: its result is discarded
        del self.live[unit]
        if live.index is not None:
            self._item_result(live, result)
            return
        task = live.task
        tid = task.id
        if live.cancel_reason and not result.ok:
            result = ActionResult.failure(result.error or live.cancel_reason, kind="cancelled", exit_code=result.exit_code)
        if result.ok and result.waiting is None:
            if task.action == "wait" and isinstance(result.outputs, Mapping) and result.outputs.get("signal") in (self.state.get("signals") or {}):
                self.journal.record("signal.consumed", {"name": result.outputs["signal"], "task": tid})
            self._complete(task, attempt, result, live)
        elif result.ok:
            self._start_waiting(tid, attempt, result.waiting)
        else:
            self._failed(task, attempt, result, live.cancel_reason)

    def _complete(self, task: Task, attempt: int, result: ActionResult, live: _Live | None = None,
                  extra: Mapping[str, Any] | None = None) -> None:
        """Record a success (or the next loop iteration): outputs, cache entry, set_vars, checkpoint, dependents."""
        cached = live is not None and live.cached
        if task.loop and not cached and self._loop_continues(task, attempt, result):
            return
        outputs = self.redact.value(result.outputs if result.outputs is not None else {})
        data = {"task": task.id, "attempt": attempt, "outputs": outputs}
        if cached:
            data["cached"] = True
        if extra:
            data.update(extra)
        self.journal.record("task.completed", data)
        if task.cache is not None and not cached and not task.foreach:
            self._cache_store(task, (live.digest if live is not None else None) or self.state["tasks"][task.id].get("cache_key"), outputs)
        self._set_vars(task)
        if task.checkpoint:
            self.journal.record("checkpoint.created", {"id": next_checkpoint_id(self.state), "task": task.id,
                                                       "completed": len(self.state["completion_order"]),
                                                       "vars": dict(self.state["vars"])})  # a copy: later set_vars must not change it
        self.scheduler.finished(task.id, "completed")

    def _set_vars(self, task: Task) -> None:
        if not task.set_vars:
            return
        from workflow_cli.templates.render import evaluate

        scope = self._scope(task)
        values = {}
        for name, expr in task.set_vars.items():
            try:
                values[name] = evaluate(expr, scope)
            except Exception as exc:  # noqa: BLE001 - reported, not fatal
                values[name] = None
                self.journal.record("task.warning", {"task": task.id, "error": f"set_vars.{name}: {exc}"})
        self.journal.record("vars.set", {"task": task.id, "vars": values})

    def _failed(self, task: Task, attempt: int, result: ActionResult, cancel_reason: str | None) -> None:
        """A failed attempt: retried per the task's policy, else a final failure."""
        data = {"task": task.id, "attempt": attempt, "error": self.redact(result.error or "failed"), "kind": result.kind,
                "exit_code": result.exit_code}
        if result.outputs:  # what a failed attempt still tells (a rejected gate's decision, a child's outputs)
            data["outputs"] = self.redact.value(result.outputs)
        if cancel_reason == "stop":
            data.update(kind="stopped", due=None)
            self.journal.record("task.retrying", data)
            self.scheduler.reset(task.id)
            return
        retry = task.retry
        # attempts before a retry/resume reset do not count: it gets its policy's attempts again (SPEC 8)
        tries = self._loop_tries(task, attempt) if task.loop else attempt - int(self.state["tasks"][task.id].get("retry_base") or 0)
        if not cancel_reason and tries < retry.max_attempts and retry.allows(result.kind, result.exit_code):
            delay = retry.delay_before(tries + 1, self.rng.random())
            due = self.clock.time() + delay
            from workflow_cli.engine.clock import utc_iso

            data.update(due=utc_iso(due), delay_seconds=round(delay, 3))
            self.journal.record("task.retrying", data)
            self.scheduler.reset(task.id, retry=True)
            if delay > 0:
                self.scheduler.delay(task.id, due)
            return
        self._final_failure(task, data, "cancelled" if result.kind == "cancelled" else "failed")

    def _final_failure(self, task: Task, data: Mapping[str, Any], status: str = "failed") -> None:
        """The task ends failed (or cancelled); its ``on_failure`` decides what the workflow does."""
        self.journal.record(f"task.{status}", data)
        self.scheduler.finished(task.id, status)
        if status == "failed" and task.on_failure in STOPPING_POLICIES and self.failure is None:
            self._enter_failure(task.id, task.on_failure)

    # -- the end -----------------------------------------------------------------------------------------
    def _finish(self, *, apply_only: bool = False) -> RunOutcome:
        from workflow_cli.engine.finish import finish_run

        return finish_run(self, apply_only=apply_only)
