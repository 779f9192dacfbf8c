"""The runner's side of waiting tasks: approvals, signals, timers, mailbox replies, child instances.

A task whose action answered with a *waiting* result holds no slot. Each loop pass asks the
action about waiting tasks that may have moved on (:mod:`workflow_cli.engine.waiting`), and
requests from other processes (``approve``, ``reject``, ``signal``) are delivered to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow_cli.actions.base import ActionResult
from workflow_cli.engine.context import RunContext
from workflow_cli.engine.outcomes import Outcomes
from workflow_cli.engine.waiting import deliver, next_due, poll_waiting, polls_files
from workflow_cli.model.states import EventType, TaskState


class Waits:
    """Moves waiting tasks on: polls their actions, delivers decisions and signals to them."""

    def __init__(self, run: RunContext, outcomes: Outcomes) -> None:
        self.run = run
        self.outcomes = outcomes

    def load(self) -> None:
        """The tasks a resumed run finds waiting (they hold no slot)."""
        run = self.run
        run.waiting = {tid: dict(ts.get("waiting") or {}) for tid, ts in run.state["tasks"].items() if ts["status"] == TaskState.WAITING}
        for tid in run.waiting:
            run.sched.set_running(tid, TaskState.WAITING)

    def _apply(self, tid: str, change: ActionResult | dict[str, Any] | None) -> bool:
        """Apply what an action said about a waiting task; True when something changed."""
        if change is None:
            return False
        run = self.run
        attempt = run.state["tasks"][tid]["attempts"]
        if isinstance(change, ActionResult):
            del run.waiting[tid]
            run.sched.set_running(tid, TaskState.RUNNING)
            if change.ok and change.waiting is not None:
                self.outcomes.start_waiting(tid, attempt, change.waiting)
            elif change.ok:
                self.outcomes.complete(run.wf.tasks[tid], attempt, change)
            else:
                self.outcomes.failed(run.wf.tasks[tid], attempt, change, None)
            return True
        self.outcomes.start_waiting(tid, attempt, change)
        return True

    def poll(self, now: float) -> None:
        """Wake waiting tasks whose timer, timeout, reply or child is due."""
        run = self.run
        for tid, waiting in list(run.waiting.items()):
            due = next_due(run.wf.tasks[tid].action, waiting)
            if (due is not None and due <= now) or polls_files(waiting):
                self._apply(tid, poll_waiting(run.wf.tasks[tid].action, waiting, now, run.services()))

    def next_wake(self) -> float | None:
        """The earliest due timer of a ``wait`` task (None: only an outside event can move a waiting task on).

        Only timers count (SPEC 6.6: a timer due within the wait threshold is waited for in place); the
        timeout of an approval or a signal wait does not keep the runner alive, it ends the run with
        exit 3 and ``tick`` (or a later runner, which polls every pass) applies it when it is due.
        """
        run = self.run
        dues = [d for tid, w in run.waiting.items()
                if w.get("kind") == "timer" and (d := next_due(run.wf.tasks[tid].action, w)) is not None]
        return min(dues) if dues else None

    def decision(self, request: Mapping[str, Any]) -> None:
        """``approve``/``reject``: hand the decision to the gate it names."""
        run = self.run
        kind, data = request.get("kind"), request.get("data") or {}
        tid = data.get("task")
        waiting = run.waiting.get(tid or "")
        if waiting is None or waiting.get("kind") != "approval":
            run.journal.record(EventType.REQUEST_IGNORED, {"kind": kind, "task": tid, "reason": "task is not waiting for approval"})
            return
        run.journal.record(EventType.APPROVAL_DECIDED, {"task": tid, "decision": "approved" if kind == "approve" else "rejected",
                                                         "by": data.get("by"), "comment": data.get("comment")}, actor=data.get("by"))
        self._apply(str(tid), deliver(run.wf.tasks[str(tid)].action, waiting, request, run.clock.time()))

    def signal(self, request: Mapping[str, Any]) -> None:
        """``signal``/``emit``: merge an object payload into vars, wake the waits for it, or keep it for a later wait.

        An event broadcast by ``emit`` carries an id (taken once per instance, even if its request is
        read again after a crash) and may carry a key (only waits with that key take it).
        """
        run = self.run
        data = request.get("data") or {}
        name, payload, key, event = data.get("name"), data.get("payload"), data.get("key"), data.get("event")
        if event and event in (run.state.get("event_ids") or ()):
            run.journal.record(EventType.REQUEST_IGNORED, {"kind": "signal", "name": name, "event": event,
                                                           "reason": "this event was already taken"})
            return
        received = {"name": name, "payload": payload}
        received.update({k: v for k, v in (("key", key), ("event", event)) if v is not None})
        run.journal.record(EventType.SIGNAL_RECEIVED, received)
        if isinstance(payload, Mapping):
            run.journal.record(EventType.VARS_SET, {"signal": name, "vars": dict(payload)})
        delivered = False
        for tid, waiting in list(run.waiting.items()):
            if waiting.get("kind") == "signal" and waiting.get("name") == name:
                delivered |= self._apply(tid, deliver(run.wf.tasks[tid].action, waiting, request, run.clock.time()))
        if not delivered:
            buffered = {"name": name, "payload": payload}
            if key is not None:
                buffered["key"] = key
            run.journal.record(EventType.SIGNAL_BUFFERED, buffered)
