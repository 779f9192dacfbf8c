"""One scheduling pass: ask the scheduler what may start, skip or cancel, and start it."""

from __future__ import annotations

from workflow_cli.actions.base import ActionResult
from workflow_cli.engine.conditions import ItemConditions
from workflow_cli.engine.context import Live, RunContext
from workflow_cli.engine.foreach import Fanouts
from workflow_cli.engine.launch import AttemptLauncher
from workflow_cli.engine.loop import Loops
from workflow_cli.engine.outcomes import Outcomes
from workflow_cli.model.document import Task
from workflow_cli.model.states import EventType, TaskState


class Dispatch:
    """Turns the scheduler's decisions into starts, skips and cancellations."""

    def __init__(self, run: RunContext, launcher: AttemptLauncher, outcomes: Outcomes, fanouts: Fanouts, loops: Loops,
                 items: ItemConditions) -> None:
        self.run = run
        self.launcher = launcher
        self.outcomes = outcomes
        self.fanouts = fanouts
        self.loops = loops
        self.items = items

    def schedule(self, now: float) -> None:
        """Launch pending foreach items, then what the scheduler decides; again while something ended at once."""
        run, fanouts = self.run, self.fanouts
        while True:
            inline_done = fanouts.pump(now) if fanouts.active else False
            running = [live.task.id for live in run.live.values()] if fanouts.active else run.live.keys()
            decision = run.sched.decide(now, running, self._check_conditions)
            for tid, kind, reason in decision.skip:
                run.journal.record(EventType.TASK_SKIPPED, {"task": tid, "kind": kind, "error": reason})
            for tid in decision.cancel:
                self._cancel_dependency(tid)
            for tid in decision.start:
                inline_done |= self._start(tid)
            if not inline_done:
                return

    def _start(self, tid: str) -> bool:
        """Start what the scheduler chose; True when it finished at once (the scheduler may go on)."""
        run = self.run
        task = run.wf.tasks[tid]
        attempt = run.state["tasks"][tid]["attempts"] + 1
        if task.foreach:
            return self.fanouts.start(task, attempt)
        extra = started = None
        if task.loop:
            extra, started = self.loops.start(task)
        launched = self.launcher.launch(task, tid, attempt, extra=extra, started=started)
        if isinstance(launched, ActionResult):
            live = run.take_live(tid, attempt)
            if live is not None:
                self.outcomes.task_result(live, launched)
            return True
        return False

    def _cancel_dependency(self, tid: str) -> None:
        """A dependency a started ``min_success`` task no longer needs (``cancel_remaining``)."""
        run = self.run
        if tid in self.fanouts.active:
            self.fanouts.cancel(tid, "min_success")
            return
        live: Live | None = run.live.get(tid)
        if live is not None:
            run.cancel_attempt(live, "min_success")
            return
        run.journal.record(EventType.TASK_CANCELLED, {"task": tid, "kind": "cancelled",
                                                      "error": "cancelled: a min_success dependent no longer needs it"})
        run.sched.finished(tid, TaskState.CANCELLED)

    def _check_conditions(self, task: Task) -> tuple[bool, str | None]:
        """The task-level conditions (a foreach task's conditions on ``item``/``index`` are checked per item)."""
        run = self.run
        conditions = self.items.task_level(task) if task.foreach else task.conditions
        extra = self.loops.scope(task) if task.loop else None
        return run.evaluate_conditions(conditions, run.scope(task, extra))
