"""The pure scheduler (SPEC 6.2): which tasks start, which are skipped, and when to wake up.

It holds counters, not I/O: the runner tells it what finished (:meth:`Scheduler.finished`) and asks
what to do next (:meth:`Scheduler.decide`). Each finished task touches only its dependents, so a run
of N tasks costs O(N + edges) scheduling work, whatever its shape.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from workflow_cli.model.document import MinSuccess, Task, Workflow
from workflow_cli.model.states import FINISHED_TASK, TaskState

FAILURE_RULES = frozenset({"all_done", "one_failed", "all_failed"})
_PENDING, _RUNNING, _COMPLETED = TaskState.PENDING, TaskState.RUNNING, TaskState.COMPLETED  # module names: no enum lookup
_FAILED, _SKIPPED, _CANCELLED = TaskState.FAILED, TaskState.SKIPPED, TaskState.CANCELLED
FINISHED = FINISHED_TASK

ConditionCheck = Callable[[Task], "tuple[bool, str | None]"]


@dataclass
class Decision:
    """What the runner does now: start these, skip those, and wake by ``wake_at`` at the latest."""

    start: list[str] = field(default_factory=list)
    skip: list[tuple[str, str, str]] = field(default_factory=list)  # (task, kind, reason)
    wake_at: float | None = None
    # dependencies a started ``min_success`` task with ``cancel_remaining`` no longer waits for: the
    # pending ones are already recorded here as cancelled, the running ones are for the runner to stop
    cancel: list[str] = field(default_factory=list)


def effective_status(task: Task, status: str) -> str:
    """How dependents see a finished task: ``on_failure: skip`` makes a failure look skipped."""
    if status == _FAILED and task.on_failure == "skip":
        return _SKIPPED
    if status == _CANCELLED:
        return _SKIPPED
    return status


def rule_verdict(rule: str | MinSuccess, statuses: list[str]) -> tuple[bool, str, str]:
    """Whether a task whose dependencies all finished may run: (run, skip kind, reason)."""
    ok = statuses.count(_COMPLETED)
    failed = statuses.count(_FAILED)
    n = len(statuses)
    if isinstance(rule, MinSuccess):
        return (ok >= rule.n, "upstream_failed", f"only {ok} of the {rule.n} required dependencies succeeded")
    if n == 0 or rule == "all_done":
        return True, "", ""
    if rule == "all_success":
        if ok == n:
            return True, "", ""
        kind = "upstream_failed" if failed else "upstream_skipped"
        return False, kind, "a dependency failed" if failed else "a dependency was skipped"
    if rule == "one_success":
        return ok > 0, "upstream_failed", "no dependency succeeded"
    if rule == "one_failed":
        return failed > 0, "rule", "no dependency failed"
    if rule == "none_failed":
        return failed == 0, "upstream_failed", "a dependency failed"
    if rule == "all_failed":
        return failed == n, "rule", "not every dependency failed"
    raise ValueError(f"unknown trigger rule {rule!r}")


class Scheduler:
    """Dependency counters and a ready queue ordered by priority, then document order."""

    def __init__(self, wf: Workflow, statuses: Mapping[str, str], *, max_parallel: int) -> None:
        self.wf = wf
        self.max_parallel = max(1, max_parallel if wf.execution_mode != "sequential" else 1)
        self.status = dict(statuses)
        self.dependents: dict[str, list[str]] = {tid: [] for tid in wf.tasks}
        self.waiting_deps: dict[str, int] = {}
        self.ok_deps: dict[str, int] = {}
        self.heap: list[tuple[int, int, str]] = []
        self.delayed: dict[str, float] = {}  # task -> when its retry delay ends
        self._due: list[tuple[float, str]] = []  # the same as a heap; entries not matching ``delayed`` are stale
        self.retrying: set[str] = set()  # pending tasks between two attempts
        self.failing = False
        self.stopping = False
        for tid, task in wf.tasks.items():
            for dep in task.dependencies:
                self.dependents[dep].append(tid)
        for tid, task in wf.tasks.items():
            self.waiting_deps[tid] = sum(1 for d in task.dependencies if self.status[d] not in FINISHED)
            self.ok_deps[tid] = sum(1 for d in task.dependencies if self.status[d] == "completed")
            if self.status[tid] == "pending" and self._is_candidate(tid):
                self._push(tid)

    def _push(self, tid: str) -> None:
        task = self.wf.tasks[tid]
        heapq.heappush(self.heap, (-task.priority, task.index, tid))

    def _is_candidate(self, tid: str) -> bool:
        rule = self.wf.tasks[tid].trigger_rule
        if isinstance(rule, MinSuccess) and self.ok_deps[tid] >= rule.n:
            return True
        return self.waiting_deps[tid] == 0

    def delay(self, tid: str, until: float) -> None:
        """Hold a pending task back until ``until`` (a retry's backoff; the task counts as retrying)."""
        self.delayed[tid] = until
        self.retrying.add(tid)
        heapq.heappush(self._due, (until, tid))

    def postpone(self, tid: str, until: float) -> None:
        """A task :meth:`decide` started that the runner could not launch yet (its pool is full): try again at ``until``.

        Unlike :meth:`delay` it does not count as retrying: the task has not started, so a failing
        workflow still skips it.
        """
        self.status[tid] = _PENDING
        self.delayed[tid] = until
        heapq.heappush(self._due, (until, tid))

    def next_wake(self) -> float | None:
        """When the earliest retry delay ends (None: no task is delayed)."""
        while self._due and self.delayed.get(self._due[0][1]) != self._due[0][0]:
            heapq.heappop(self._due)  # stale: the task was released or delayed again
        return self._due[0][0] if self._due else None

    def finished(self, tid: str, status: str) -> None:
        """Record that ``tid`` finished with ``status``; dependents may become candidates."""
        previous = self.status.get(tid)
        self.status[tid] = status
        if previous in FINISHED:
            return
        self.delayed.pop(tid, None)
        self.retrying.discard(tid)
        task = self.wf.tasks[tid]
        seen = effective_status(task, status)
        for child in self.dependents[tid]:
            self.waiting_deps[child] -= 1
            if seen == _COMPLETED:
                self.ok_deps[child] += 1
            if self.status[child] == "pending" and self._is_candidate(child):
                # a min_success task may qualify twice (by count, then by all-finished): the duplicate
                # heap entry is dropped by decide's status check, which costs O(1) instead of a scan here
                self._push(child)

    def reset(self, tid: str, *, retry: bool = False) -> None:
        """Put a task back to pending: it is considered again.

        ``retry``: a failed attempt will be tried again; a task in the middle of its retries is not a
        new task, so a failing workflow still lets it finish its attempts (like a running task).
        """
        previous = self.status.get(tid)
        self.status[tid] = _PENDING
        if retry:
            self.retrying.add(tid)
        if previous in FINISHED:
            task = self.wf.tasks[tid]
            for child in self.dependents[tid]:
                self.waiting_deps[child] += 1
                if effective_status(task, previous) == _COMPLETED:
                    self.ok_deps[child] -= 1
        if self._is_candidate(tid):
            self._push(tid)

    def set_running(self, tid: str, status: str = _RUNNING) -> None:
        """Mark a task running or waiting (it holds no new candidate slot)."""
        self.status[tid] = status

    def _dep_statuses(self, task: Task) -> list[str]:
        return [effective_status(self.wf.tasks[d], self.status[d]) for d in task.dependencies]

    def decide(self, now: float, running: Iterable[str], check: ConditionCheck) -> Decision:
        """Pop candidates in order: skip what cannot run, start what fits in the free slots."""
        decision = Decision()
        self._release_due(now)
        if self.stopping:  # nothing is decided while stopping: tasks stay pending for the next run
            decision.wake_at = self.next_wake()
            return decision
        running = list(running)
        exclusive = any(self.wf.tasks[r].execution_mode == "sequential" for r in running)
        slots = self.max_parallel - len(running)
        held: list[tuple[int, int, str]] = []
        while self.heap:
            item = heapq.heappop(self.heap)
            tid = item[2]
            if self.status[tid] != "pending" or tid in self.delayed or not self._is_candidate(tid):
                continue  # stale: started or finished meanwhile, or a dependency was reset (pushed again later)
            task = self.wf.tasks[tid]
            if self.failing and tid not in self.retrying and not (isinstance(task.trigger_rule, str) and task.trigger_rule in FAILURE_RULES):
                self._skip(decision, tid, "aborted", "not started: the workflow is failing")
                continue
            rule = task.trigger_rule
            all_done = self.waiting_deps[tid] == 0
            if not isinstance(rule, MinSuccess) or all_done:
                run, kind, reason = rule_verdict(rule, self._dep_statuses(task)) if all_done else (True, "", "")
                if not run:
                    self._skip(decision, tid, kind, reason)
                    continue
            if slots <= 0 or exclusive or (task.execution_mode == "sequential" and (running or decision.start)):
                # a sequential task next in line is a barrier: nothing behind it jumps ahead while it waits
                held.append(item)
                break
            ok, why = check(task) if task.conditions else (True, None)
            if not ok:
                self._skip(decision, tid, "condition", why or "condition is false")
                continue
            decision.start.append(tid)
            self.status[tid] = _RUNNING
            slots -= 1
            if task.execution_mode == "sequential":
                exclusive = True
            if isinstance(rule, MinSuccess) and rule.cancel_remaining and not all_done:
                self._cancel_remaining(decision, task)
        for item in held:
            heapq.heappush(self.heap, item)
        decision.wake_at = self.next_wake()
        return decision

    def _release_due(self, now: float) -> None:
        """Tasks whose retry delay has ended become candidates again."""
        while (due := self.next_wake()) is not None and due <= now:
            tid = heapq.heappop(self._due)[1]
            del self.delayed[tid]
            if self.status[tid] == "pending":
                self._push(tid)

    def _cancel_remaining(self, decision: Decision, task: Task) -> None:
        for dep in task.dependencies:
            status = self.status[dep]
            if status in FINISHED:
                continue
            decision.cancel.append(dep)
            if dep in decision.start:  # started in this very decision: it never starts after all
                decision.start.remove(dep)
                status = _PENDING
            if status == _PENDING:
                self.finished(dep, _CANCELLED)

    def _skip(self, decision: Decision, tid: str, kind: str, reason: str) -> None:
        decision.skip.append((tid, kind, reason))
        self.finished(tid, _SKIPPED)

    def idle(self) -> bool:
        """Nothing queued and nothing waiting for a retry delay."""
        return not self.delayed and not any(self.status[i[2]] == "pending" for i in self.heap)
