"""``monitor``: follow an instance from its files on disk (the rich view that draws it is :mod:`workflow_cli.cli.live_view`).

:class:`Watcher` loads the state once and then folds the events appended since (the same fold
``load_state`` does), so every transition is seen with its own time even when several happen
between two refreshes. Clock, runner probe and iteration cap are injectable for tests.

It stops when the instance is terminal; when it is waiting, paused, created or running but no
runner holds it (after a runner was seen to go away, or after ``settle`` seconds without one and
without any change, which covers a ``--detach`` runner that has not started yet); when the
duration ends; or after ``max_iterations`` refreshes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from workflow_cli.monitor.summary import describe_waiting, task_counts
from workflow_cli.store.events import read_events
from workflow_cli.store.instances import InstancePaths, load_state
from workflow_cli.store.locks import is_locked
from workflow_cli.store.state import apply_event

TERMINAL = ("completed", "failed", "cancelled")
FINISHED = ("completed", "failed", "skipped", "cancelled")


class Clock(Protocol):
    """What the watcher needs from a clock (``workflow_cli.clock.SystemClock`` fits)."""

    def time(self) -> float:
        """Wall time, epoch seconds."""

    def monotonic(self) -> float:
        """A clock for durations."""

    def sleep(self, seconds: float) -> None:
        """Wait (a fake clock just moves on)."""


@dataclass(frozen=True)
class Change:
    """One status change: of a task, or of the instance when ``task`` is None."""

    time: str
    task: str | None
    old: str | None
    new: str
    attempt: int | None = None
    detail: str | None = None
    kind: str = "change"  # "start" for the first line: the status when watching began

    def to_json(self, instance_id: str) -> dict[str, Any]:
        """The ``--json`` line of this change."""
        return {"kind": self.kind, "time": self.time, "instance": instance_id, "task": self.task, "old": self.old,
                "new": self.new, "attempt": self.attempt, "detail": self.detail}

    def line(self) -> str:
        """``<time> <task> <old> -> <new>`` (``[instance]`` for the instance), then details."""
        who = self.task if self.task is not None else "[instance]"
        text = f"{self.time} {who} {self.new}" if self.old is None else f"{self.time} {who} {self.old} -> {self.new}"
        if self.attempt and self.attempt > 1 and self.new == "running":
            text += f" (attempt {self.attempt})"
        return f"{text}: {self.detail}" if self.detail else text


@dataclass
class Frame:
    """What one refresh saw (``state`` is the watcher's own state, folded further by later refreshes)."""

    state: dict[str, Any]
    runner_alive: bool
    changes: list[Change]
    now: float


def task_detail(task: Mapping[str, Any]) -> str | None:
    if task["status"] == "waiting":
        return describe_waiting(task.get("waiting"))
    if task["status"] == "pending" and task.get("next_attempt_at"):
        return f"retry at {task['next_attempt_at']} after: {task.get('error')}"
    if task["status"] in ("failed", "skipped", "cancelled", "pending"):
        return task.get("error")
    return None


def fold(state: dict[str, Any], events: list[dict[str, Any]]) -> list[Change]:
    """Apply ``events`` to ``state`` in place and return the status changes they made."""
    changes: list[Change] = []
    for event in events:
        data = event.get("data") or {}
        tid = data.get("task") if event["type"].startswith("task.") else None
        before = state["tasks"][tid]["status"] if tid in state["tasks"] else None
        status_before = state["status"]
        apply_event(state, event)
        if tid is not None and state["tasks"][tid]["status"] != before:
            task = state["tasks"][tid]
            changes.append(Change(event["time"], tid, before, task["status"], task.get("attempts"), task_detail(task)))
        if state["status"] != status_before:
            changes.append(Change(event["time"], None, status_before, state["status"],
                                  detail=state.get("error") if state["status"] in ("failed", "paused", "cancelled") else None))
    return changes


@dataclass
class Watcher:
    """Follows one instance; iterate :meth:`frames`, then read :attr:`stop_reason`."""

    paths: InstancePaths
    interval: float = 0.5
    duration: float | None = None
    settle: float = 2.0
    max_iterations: int | None = None
    clock: Clock | None = None
    alive: Callable[[], bool] | None = None
    stop_reason: str | None = field(default=None, init=False)
    seen_alive: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.clock is None:
            from workflow_cli.clock import SystemClock

            self.clock = SystemClock()
        if self.alive is None:
            self.alive = lambda: is_locked(self.paths.lock)

    def _probe(self) -> bool:
        assert self.alive is not None
        alive = self.alive()
        self.seen_alive |= alive
        return alive

    def _stop(self, state: Mapping[str, Any], alive: bool, elapsed: float, idle: float) -> str | None:
        status = state["status"]
        if status in TERMINAL:
            return "finished"
        if not alive and (self.seen_alive or idle >= self.settle):
            return "stopped" if status in ("waiting", "paused") else "no_runner"
        if self.duration is not None and elapsed >= self.duration:
            return "duration"
        return None

    def frames(self) -> Iterator[Frame]:
        """The first frame at once, then one per interval until the instance stops moving."""
        clock = self.clock
        assert clock is not None
        start = last_move = clock.monotonic()
        alive = self._probe()  # probe before reading: a runner gone by now wrote everything it will write
        state = load_state(self.paths)
        yield Frame(state, alive, [], clock.time())
        done = 0
        while True:
            now = clock.monotonic()
            self.stop_reason = self._stop(state, alive, now - start, now - last_move)
            if self.stop_reason is None and self.max_iterations is not None and done >= self.max_iterations:
                self.stop_reason = "iterations"
            if self.stop_reason is not None:
                return
            wait = self.interval if self.duration is None else min(self.interval, max(self.duration - (now - start), 0.0))
            clock.sleep(wait)
            done += 1
            alive = self._probe()
            changes = fold(state, read_events(self.paths.events, since_seq=state["last_seq"]))
            if changes:
                last_move = clock.monotonic()
            yield Frame(state, alive, changes, clock.time())


def start_lines(state: Mapping[str, Any], alive: bool, now_iso: str) -> list[Change]:
    """The first lines printed: the instance's status when watching starts, and its running or waiting tasks."""
    counts = task_counts(state)
    finished = sum(counts.get(s, 0) for s in FINISHED)
    runner = "runner alive" if alive else "no runner"
    lines = [Change(now_iso, None, None, state["status"], detail=f"{finished}/{len(state['tasks'])} tasks finished, {runner}",
                    kind="start")]
    for tid, task in state["tasks"].items():
        if task["status"] in ("running", "waiting"):
            lines.append(Change(task.get("started_at") or now_iso, tid, None, task["status"], task.get("attempts"),
                                task_detail(task), kind="start"))
    return lines
