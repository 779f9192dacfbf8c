"""Iterative tasks (SPEC 3 ``loop``): run again until ``until`` is true or ``max_iterations`` is reached.

Each iteration is one or more attempts (the retry policy applies per iteration). When an iteration
succeeds, ``until`` is evaluated with ``loop.iteration``, ``loop.previous`` (the outputs of the iteration
before) and ``tasks.<this task>.outputs`` (this iteration's). Not yet true: a ``loop.iteration`` event
makes these outputs the task's latest and puts it back to pending, held back by ``delay_seconds`` with
the scheduler's timer (a long delay ends the run as waiting on a timer, like a retry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Mapping

from workflow_cli.actions.base import ActionResult
from workflow_cli.model.document import Task
from workflow_cli.model.states import EventType

if TYPE_CHECKING:
    from workflow_cli.engine.runner import Runner

DEFAULT_MAX_ITERATIONS = 100


class _TasksView(Mapping[str, Any]):
    """``tasks`` with one task's outputs replaced (O(1): the other tasks are not copied)."""

    def __init__(self, tasks: Mapping[str, Any], tid: str, outputs: Any) -> None:
        self._tasks = tasks
        self._tid = tid
        self._patched = {**tasks[tid], "outputs": outputs}

    def __getitem__(self, key: str) -> Any:
        return self._patched if key == self._tid else self._tasks[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tasks)

    def __len__(self) -> int:
        return len(self._tasks)


class LoopMixin:
    """Methods of :class:`Runner` that repeat loop tasks."""

    def _loop_state(self: Runner, task: Task) -> dict[str, Any]:
        """The loop record of a task's state: current iteration, its first attempt, the previous outputs."""
        return self.state["tasks"][task.id].get("loop") or {}

    def _loop_scope(self: Runner, task: Task) -> dict[str, Any]:
        """``loop`` for the expressions of the iteration about to run."""
        loop = self._loop_state(task)
        return {"loop": {"iteration": int(loop.get("iteration") or 1), "previous": loop.get("previous") or {}}}

    def _loop_start(self: Runner, task: Task) -> tuple[dict[str, Any], dict[str, Any]]:
        """(scope additions, extra ``task.started`` data) of the next attempt of a loop task."""
        extra = self._loop_scope(task)
        return extra, {"iteration": extra["loop"]["iteration"]}

    def _loop_tries(self: Runner, task: Task, attempt: int) -> int:
        """Which attempt of the current iteration ``attempt`` is (retries count per iteration)."""
        first = self._loop_state(task).get("first_attempt") or attempt
        return attempt - int(first) + 1

    def _loop_continues(self: Runner, task: Task, attempt: int, result: ActionResult) -> bool:
        """After a successful iteration: True when the loop goes on (or failed), False when ``until`` is met."""
        from workflow_cli.templates.render import evaluate, truthy

        spec = task.loop or {}
        loop = self._loop_state(task)
        iteration = int(loop.get("iteration") or 1)
        outputs = self.redact.value(result.outputs if result.outputs is not None else {})
        scope = self._scope(task, {"loop": {"iteration": iteration, "previous": loop.get("previous") or {}},
                                   "tasks": _TasksView(self.state["tasks"], task.id, outputs)})
        base = {"task": task.id, "attempt": attempt}
        try:
            done = truthy(evaluate(str(spec.get("until")), scope))
        except Exception as exc:  # noqa: BLE001 - a bad expression fails the task with its message
            self._final_failure(task, {**base, "error": f"loop.until could not be evaluated: {exc}", "kind": "error"})
            return True
        if done:
            return False
        limit = int(spec.get("max_iterations") or DEFAULT_MAX_ITERATIONS)
        if iteration >= limit:
            error = f"loop did not finish in {limit} iterations (until: {spec.get('until')})"
            self._final_failure(task, {**base, "error": error, "kind": "loop", "outputs": outputs})
            return True
        delay = float(spec.get("delay_seconds") or 0)
        due = self.clock.time() + delay
        from workflow_cli.clock import utc_iso

        self.journal.record(EventType.LOOP_ITERATION, {**base, "iteration": iteration, "outputs": outputs,
                                               "due": utc_iso(due) if delay > 0 else None})
        self.scheduler.reset(task.id, retry=True)  # between iterations it is not a new task (a failing run lets it go on)
        if delay > 0:
            self.scheduler.delay(task.id, due)
        return True
