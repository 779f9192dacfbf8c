"""Iterative tasks (SPEC 3 ``loop``): run again until ``until`` is true or ``max_iterations`` is reached.

Each iteration is one or more attempts (the retry policy applies per iteration). When an iteration
succeeds, ``until`` is evaluated with ``loop.iteration``, ``loop.previous`` (the outputs of the iteration
before) and ``tasks.<this task>.outputs`` (this iteration's). Not yet true: a ``loop.iteration`` event
makes these outputs the task's latest and puts it back to pending, held back by ``delay_seconds`` with
the scheduler's timer (a long delay ends the run as waiting on a timer, like a retry).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from workflow_cli.actions.base import ActionResult
from workflow_cli.clock import utc_iso
from workflow_cli.engine.context import RunContext
from workflow_cli.model.document import Task
from workflow_cli.model.states import EventType

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


class Loops:
    """Decides, after each successful iteration of a loop task, whether it runs again."""

    def __init__(self, run: RunContext) -> None:
        self.run = run

    def _state(self, task: Task) -> dict[str, Any]:
        """The loop record of a task's state: current iteration, its first attempt, the previous outputs."""
        loop: dict[str, Any] = self.run.state["tasks"][task.id].get("loop") or {}
        return loop

    def scope(self, task: Task) -> dict[str, Any]:
        """``loop`` for the expressions of the iteration about to run."""
        loop = self._state(task)
        return {"loop": {"iteration": int(loop.get("iteration") or 1), "previous": loop.get("previous") or {}}}

    def start(self, task: Task) -> tuple[dict[str, Any], dict[str, Any]]:
        """(scope additions, extra ``task.started`` data) of the next attempt of a loop task."""
        extra = self.scope(task)
        return extra, {"iteration": extra["loop"]["iteration"]}

    def tries(self, task: Task, attempt: int) -> int:
        """Which attempt of the current iteration ``attempt`` is (retries count per iteration)."""
        first = self._state(task).get("first_attempt") or attempt
        return attempt - int(first) + 1

    def after_success(self, task: Task, attempt: int, result: ActionResult) -> dict[str, Any] | bool:
        """After a successful iteration: False when ``until`` is met (the task completes), True when the loop
        goes on (recorded here), or the data of the final failure (a bad ``until``, too many iterations)."""
        from workflow_cli.templates.render import evaluate, truthy

        run = self.run
        spec = task.loop or {}
        loop = self._state(task)
        iteration = int(loop.get("iteration") or 1)
        outputs = run.redact.value(result.outputs if result.outputs is not None else {})
        scope = run.scope(task, {"loop": {"iteration": iteration, "previous": loop.get("previous") or {}},
                                 "tasks": _TasksView(run.state["tasks"], task.id, outputs)})
        base = {"task": task.id, "attempt": attempt}
        try:
            done = truthy(evaluate(str(spec.get("until")), scope))
        except Exception as exc:  # noqa: BLE001 - a bad expression fails the task with its message
            return {**base, "error": f"loop.until could not be evaluated: {exc}", "kind": "error"}
        if done:
            return False
        limit = int(spec.get("max_iterations") or DEFAULT_MAX_ITERATIONS)
        if iteration >= limit:
            return {**base, "error": f"loop did not finish in {limit} iterations (until: {spec.get('until')})", "kind": "loop",
                    "outputs": outputs}
        delay = float(spec.get("delay_seconds") or 0)
        due = run.clock.time() + delay
        run.journal.record(EventType.LOOP_ITERATION, {**base, "iteration": iteration, "outputs": outputs,
                                                      "due": utc_iso(due) if delay > 0 else None})
        run.sched.reset(task.id, retry=True)  # between iterations it is not a new task (a failing run lets it go on)
        if delay > 0:
            run.sched.delay(task.id, due)
        return True
