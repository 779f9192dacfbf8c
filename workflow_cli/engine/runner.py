"""The runner: drives one instance under its lock, composed of collaborators that each own one concern.

:class:`Runner` builds the run's :class:`~.context.RunContext` and its collaborators (each in its own
module, dependencies through its constructor, none knowing the runner; see docs/architecture.md) and
keeps the loop and its threading. A pass is: requests -> deadline -> waiting tasks -> decide -> group
commit. The runner thread makes a pass, then sleeps until a timer, the group commit or a worker wakes
it; a worker whose attempt ended records the result and makes a pass itself (:meth:`Runner._result_on_worker`).
The periodic group commit (the fsync) is the runner thread's alone, so no start waits behind one.
"""

from __future__ import annotations

import gc
import threading
from collections import deque
from typing import Any, Callable

from workflow_cli.actions.base import ActionResult
from workflow_cli.clock import SystemClock
from workflow_cli.engine.cache import ResultCache
from workflow_cli.engine.conditions import ItemConditions
from workflow_cli.engine.context import RunContext, default_parallel, parse_due
from workflow_cli.engine.dispatch import Dispatch
from workflow_cli.engine.executors.base import Executor, TaskKey
from workflow_cli.engine.finish import Finisher
from workflow_cli.engine.foreach import Fanouts
from workflow_cli.engine.interrupt import active as interrupt_active
from workflow_cli.engine.interrupt import stop_runner
from workflow_cli.engine.launch import AttemptLauncher
from workflow_cli.engine.loop import Loops
from workflow_cli.engine.options import RunOptions, RunOutcome
from workflow_cli.engine.outcomes import Outcomes
from workflow_cli.engine.pools import PoolSlots
from workflow_cli.engine.recovery import Recovery
from workflow_cli.engine.requests import RequestInbox
from workflow_cli.engine.runner_waits import Waits
from workflow_cli.engine.scheduler import Scheduler
from workflow_cli.errors import ConflictError
from workflow_cli.model.states import TaskState
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths
from workflow_cli.store.locks import InstanceLock

__all__ = ["RunOptions", "RunOutcome", "Runner", "default_parallel"]

POLL_SECONDS = 0.2


class Runner:
    """Runs one instance until it is terminal, waiting, or paused."""

    def __init__(self, home: Home, paths: InstancePaths, *, clock: SystemClock | None = None,
                 options: RunOptions | None = None, executor_factory: Callable[[int], Executor] | None = None) -> None:
        self.home = home
        self.paths = paths
        self.clock = clock or SystemClock()
        self.options = options or RunOptions()
        self.executor_factory = executor_factory
        self.lock = InstanceLock(paths.lock)
        self._state_lock = threading.RLock()  # the runner thread and the workers handling their results
        self._wake = threading.Event()  # a worker tells the runner thread to look
        self._worker_error: BaseException | None = None
        self._inbox: deque[tuple[TaskKey, ActionResult]] = deque()  # results waiting for the state lock
        self._looping = True
        self._deadline_at: float | None = None
        self.hooks: Any = None

    def _compose(self) -> None:
        """Load the run and wire its collaborators (each gets what it uses, none gets the runner)."""
        from workflow_cli.actions import registry

        run = self.ctx = RunContext.load(self.home, self.paths, self.clock, self.options)
        run.state_lock = self._state_lock  # a workflow_trigger task links its child from a worker thread
        items = ItemConditions()
        self.cache = ResultCache(run)
        self.pools = PoolSlots(run)
        self.loops = Loops(run)
        self.outcomes = Outcomes(run, self.cache, self.loops)
        self.launcher = AttemptLauncher(run, registry(), self.cache, self.pools, items)
        self.fanouts = Fanouts(run, self.launcher, self.outcomes, self.cache, self.pools, items)
        self.waits = Waits(run, self.outcomes)
        self.requests = RequestInbox(run, self.waits)
        self.recovery = Recovery(run, self.fanouts, self.pools)
        self.finisher = Finisher(run)
        self.dispatch = Dispatch(run, self.launcher, self.outcomes, self.fanouts, self.loops, items)
        if run.wf.hooks:
            from workflow_cli.engine.hooks import attach_hooks

            self.hooks = attach_hooks(run)

    def reset_tasks(self, resets: tuple[tuple[str, bool], ...]) -> None:
        """Put tasks back to pending before the run goes on (``retry``; the run must be loaded)."""
        self.recovery.reset_tasks(resets)

    # -- the loop --------------------------------------------------------------------------------------
    def run(self) -> RunOutcome:
        """Acquire the lock and run; ConflictError (exit 5) if a live runner holds the instance."""
        if not self.lock.acquire():
            raise ConflictError(f"instance {self.paths.id} is held by a live runner; wait for it, or 'workflow-cli stop {self.paths.id}'")
        frozen = not gc.isenabled() or gc.get_freeze_count() > 0  # someone else manages the collector
        try:
            self._compose()
            if not frozen:
                # Everything loaded so far (modules, the document, the state) lives as long as the run: keep it
                # out of the collector's full passes, which otherwise rescan it every few hundred tasks.
                gc.freeze()
            self.recovery.begin()
            self.ctx.journal.flush()
            return self._loop()
        finally:
            if not frozen:
                gc.unfreeze()
            run = getattr(self, "ctx", None)
            if run is not None:
                run.journal.close()
            if self.hooks is not None:
                self.hooks.close()  # hooks of the last events finish before the command returns
            self.lock.release()

    def _start_loop(self) -> None:
        """The scheduler from the state, the executor, waiting tasks and running foreach tasks restored."""
        from workflow_cli.engine.executors.local import LocalExecutor

        run = self.ctx
        statuses = {tid: ts["status"] for tid, ts in run.state["tasks"].items()}
        run.scheduler = Scheduler(run.wf, statuses, max_parallel=run.max_parallel)
        run.apply_failure_mode(run.scheduler)
        for tid, ts in run.state["tasks"].items():
            if ts["status"] == TaskState.PENDING and ts.get("next_attempt_at"):
                run.scheduler.delay(tid, parse_due(ts["next_attempt_at"]))
        factory = self.executor_factory or LocalExecutor
        run.executor = factory(run.max_parallel)
        self.waits.load()
        self.fanouts.restore()
        if run.wf.timeout_seconds and run.state.get("started_at"):
            self._deadline_at = parse_due(run.state["started_at"]) + float(run.wf.timeout_seconds)
        # Results are handled on the worker thread that produced them (see _result_on_worker): the runner
        # thread only wakes for what needs its timing.
        run.executor.set_result_handler(self._result_on_worker)
        run.journal.defer_snapshots = True

    def _loop(self) -> RunOutcome:
        self._start_loop()
        run, journal = self.ctx, self.ctx.journal
        assert run.executor is not None
        try:
            if self.options.apply_only:
                self.requests.take(force=True)
                self.waits.poll(self.clock.time())
                return self.finisher.finish(apply_only=True)
            while True:
                with self._state_lock:
                    if self._worker_error is not None:
                        raise self._worker_error
                    self._wake.clear()
                    self._drain_inbox()
                    now = self._pass()
                    commit = None
                    if not run.live:
                        if self._should_stop(now):
                            self._looping = False
                            break  # the run's last events go to disk with its final one, in one fsync
                        journal.flush()  # durable before this thread sleeps
                    else:
                        commit = journal.begin_commit(run.commit_interval)
                    timeout = self._poll_timeout()
                    live = bool(run.live)
                if commit is not None:
                    journal.sync_unlocked()  # the group commit's fsync: workers go on meanwhile
                    with self._state_lock:
                        journal.end_commit(commit)
                        timeout = self._poll_timeout()
                if journal.snapshot_due:
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
                journal.defer_snapshots = False
            run.executor.shutdown(wait=True)
        return self.finisher.finish()

    def _write_snapshot(self) -> None:
        """The periodic snapshot: encoded under the state lock, written (fsync, rename) without it."""
        journal = self.ctx.journal
        with self._state_lock:
            if not journal.snapshot_due:
                return
            data = journal.snapshot_data()
        journal.write_snapshot(data)

    def _pass(self) -> float:
        """One pass of the loop: requests, deadline, waiting tasks, then start what may start."""
        run = self.ctx
        self.requests.take()
        now = self.clock.time()
        deadline = self._deadline_at
        if deadline is not None and now >= deadline and not run.deadline_hit:
            self.requests.hit_deadline()
        if run.waiting:
            self.waits.poll(now)
        if not run.halted:
            self.dispatch.schedule(now)
        return now

    def _result_on_worker(self, key: TaskKey, result: ActionResult) -> None:
        """An attempt ended on a worker thread: handle it there, under the state lock.

        Recording the result, starting what it unblocked and the group commit happen on this thread,
        so a chain of short tasks needs no hand-over to the runner thread and back (a thread wake-up
        costs more than the bookkeeping). The result goes to an inbox first; whoever holds the state
        lock empties it (flat combining), so a worker never sleeps on the lock: it leaves its result
        and goes back to work.
        """
        self.launcher.release_slot(key)
        self._inbox.append((key, result))
        self._take_inbox()

    def _take_inbox(self) -> None:
        """Handle the inbox unless another thread holds the lock (it looks again after releasing it).

        The runner thread is woken only when it has something to decide: nothing is left running, a
        timer (retry delay, waiting task, foreach) may have moved, or handling a result failed.
        """
        inbox, lock, run = self._inbox, self._state_lock, self.ctx
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
                if not run.live or run.waiting or self.fanouts.active or run.sched.next_wake() is not None or run.halted:
                    self._wake.set()
            finally:
                lock.release()

    def _drain_inbox(self) -> None:
        """(state lock held) Record the results workers left in the inbox (SIGINT/SIGTERM first: SPEC 6.6).

        A signal is taken in before the results, so an attempt it cut off is recorded as interrupted.
        """
        interrupt = interrupt_active()
        if interrupt is not None:
            stop_runner(self.ctx, interrupt)  # as 'stop --force'
        inbox = self._inbox
        while inbox:
            key, result = inbox.popleft()
            self._on_result(key, result)

    def _on_result(self, key: TaskKey, result: ActionResult) -> None:
        """An attempt ended: a foreach item's result goes to its fanout, a task's to the outcomes."""
        live = self.ctx.take_live(*key)
        if live is None:
            return  # an attempt that is no longer current: its result is discarded
        if live.index is not None:
            self.fanouts.item_result(live, result)
        else:
            self.outcomes.task_result(live, result)

    def _should_stop(self, now: float) -> bool:
        """Nothing runs: stop unless a retry or a waiting task wakes within the wait threshold."""
        run = self.ctx
        if run.halted or run.sched.stopping:
            return True
        if self.fanouts.active:
            return False  # a foreach task's items wait in place for their retry delay or pool slot
        wakes = [w for w in (run.sched.next_wake(), self.waits.next_wake()) if w is not None]
        if not wakes:
            return run.sched.idle()
        return min(wakes) - now > self.options.wait_threshold

    def _poll_timeout(self) -> float:
        """How long to wait for results: until the next wake-up, deadline or group commit."""
        run = self.ctx
        timeout = POLL_SECONDS
        now = self.clock.time()
        for wake in (run.sched.next_wake(), self.waits.next_wake() if run.waiting else None,
                     None if run.deadline_hit else self._deadline_at,
                     self.fanouts.next_wake() if self.fanouts.active else None):
            if wake is not None:
                timeout = min(timeout, wake - now)
        if run.live or run.journal.dirty:  # the group commit is this thread's: workers never wait for an fsync
            timeout = min(timeout, run.journal.commit_wait(run.commit_interval))
        return max(0.0, timeout)
