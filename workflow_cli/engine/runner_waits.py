"""The runner's side of waiting tasks: approvals, signals, timers, mailbox replies, child instances.

A task whose action answered with a *waiting* result holds no slot. Each loop pass asks the
action about waiting tasks that may have moved on (:mod:`workflow_cli.engine.waiting`), and
requests from other processes (``approve``, ``reject``, ``signal``) are delivered to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from workflow_cli.actions.base import ActionResult
from workflow_cli.engine.waiting import deliver, next_due, poll_waiting, polls_files
from workflow_cli.model.states import EventType, TaskState

if TYPE_CHECKING:
    from workflow_cli.engine.runner import Runner


class WaitingMixin:
    """Methods of :class:`Runner` that deal with waiting tasks."""

    waiting: dict[str, dict[str, Any]]

    def _load_waiting(self: Runner) -> None:
        self.waiting = {tid: dict(ts.get("waiting") or {}) for tid, ts in self.state["tasks"].items() if ts["status"] == TaskState.WAITING}
        for tid in self.waiting:
            self.scheduler.set_running(tid, TaskState.WAITING)

    def _start_waiting(self: Runner, tid: str, attempt: int, waiting: Mapping[str, Any]) -> None:
        """Record that a task waits (and, for an approval gate, that a decision is required)."""
        self.journal.record(EventType.TASK_WAITING, {"task": tid, "attempt": attempt, "waiting": dict(waiting)})
        if waiting.get("kind") == "approval":
            self.journal.record(EventType.APPROVAL_REQUIRED, {"task": tid, "approvers": waiting.get("approvers"),
                                                      "message": waiting.get("message"), "timeout_at": waiting.get("timeout_at"),
                                                      "escalated": waiting.get("escalated", False)})
        self.waiting[tid] = dict(waiting)
        self.scheduler.set_running(tid, TaskState.WAITING)

    def _apply_change(self: Runner, tid: str, change: ActionResult | dict[str, Any] | None) -> bool:
        """Apply what an action said about a waiting task; True when something changed."""
        if change is None:
            return False
        attempt = self.state["tasks"][tid]["attempts"]
        if isinstance(change, ActionResult):
            del self.waiting[tid]
            self.scheduler.set_running(tid, TaskState.RUNNING)
            if change.ok and change.waiting is not None:
                self._start_waiting(tid, attempt, change.waiting)
            elif change.ok:
                self._complete(self.wf.tasks[tid], attempt, change)
            else:
                self._failed(self.wf.tasks[tid], attempt, change, None)
            return True
        self._start_waiting(tid, attempt, change)
        return True

    def _poll_waiting(self: Runner, now: float) -> None:
        """Wake waiting tasks whose timer, timeout, reply or child is due."""
        for tid, waiting in list(self.waiting.items()):
            due = next_due(self.wf.tasks[tid].action, waiting)
            if (due is not None and due <= now) or polls_files(waiting):
                self._apply_change(tid, poll_waiting(self.wf.tasks[tid].action, waiting, now, self._services()))

    def _waiting_wake(self: Runner) -> float | None:
        """The earliest due timer of a ``wait`` task (None: only an outside event can move a waiting task on).

        Only timers count (SPEC 6.6: a timer due within the wait threshold is waited for in place); the
        timeout of an approval or a signal wait does not keep the runner alive, it ends the run with
        exit 3 and ``tick`` (or a later runner, which polls every pass) applies it when it is due.
        """
        dues = [d for tid, w in self.waiting.items()
                if w.get("kind") == "timer" and (d := next_due(self.wf.tasks[tid].action, w)) is not None]
        return min(dues) if dues else None

    def _decision_request(self: Runner, request: Mapping[str, Any]) -> None:
        """``approve``/``reject``: hand the decision to the gate it names."""
        kind, data = request.get("kind"), request.get("data") or {}
        tid = data.get("task")
        waiting = self.waiting.get(tid or "")
        if waiting is None or waiting.get("kind") != "approval":
            self.journal.record(EventType.REQUEST_IGNORED, {"kind": kind, "task": tid, "reason": "task is not waiting for approval"})
            return
        self.journal.record(EventType.APPROVAL_DECIDED, {"task": tid, "decision": "approved" if kind == "approve" else "rejected",
                                                 "by": data.get("by"), "comment": data.get("comment")}, actor=data.get("by"))
        self._apply_change(str(tid), deliver(self.wf.tasks[str(tid)].action, waiting, request, self.clock.time()))

    def _signal_request(self: Runner, request: Mapping[str, Any]) -> None:
        """``signal``: merge an object payload into vars, wake the waits for it, or keep it for a later wait."""
        data = request.get("data") or {}
        name, payload = data.get("name"), data.get("payload")
        self.journal.record(EventType.SIGNAL_RECEIVED, {"name": name, "payload": payload})
        if isinstance(payload, Mapping):
            self.journal.record(EventType.VARS_SET, {"signal": name, "vars": dict(payload)})
        delivered = False
        for tid, waiting in list(self.waiting.items()):
            if waiting.get("kind") == "signal" and waiting.get("name") == name:
                delivered |= self._apply_change(tid, deliver(self.wf.tasks[tid].action, waiting, request, self.clock.time()))
        if not delivered:
            self.journal.record(EventType.SIGNAL_BUFFERED, {"name": name, "payload": payload})
