"""Data-parallel tasks (SPEC 3 ``foreach``): one run per item of a list, each with its own attempts and log.

A foreach task is *running* for the scheduler from its start to its end; what runs meanwhile are its
items, keyed ``T[index]`` in the runner's live attempts, so they count against ``max_parallel``. Items
of running foreach tasks are launched first (:meth:`Fanouts.pump`), at most
``foreach_max_parallel`` of each at once. Every item change is an event (``item.started``,
``item.completed``, ``item.failed``, ``item.retrying``, ``item.skipped``), so a resumed run starts only
the items that had not finished. The task's outputs are the item outputs in item order (None for an
item that failed or was skipped); more than ``foreach_tolerated_failures`` failed items fail it.
"""

from __future__ import annotations

import heapq
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from workflow_cli.actions.base import MAX_OUTPUT_BYTES, ActionResult, format_mib
from workflow_cli.clock import utc_iso
from workflow_cli.engine.cache import ResultCache
from workflow_cli.engine.conditions import ItemConditions
from workflow_cli.engine.context import Live, RunContext, parse_due
from workflow_cli.engine.launch import AttemptLauncher, Skipped
from workflow_cli.engine.outcomes import Outcomes
from workflow_cli.engine.pools import PoolSlots
from workflow_cli.model.document import Task
from workflow_cli.model.states import EventType, InstanceState, TaskState


_ITEM_COMPLETED = EventType.ITEM_COMPLETED  # recorded per item: a module name, no enum lookup


@dataclass
class Fanout:
    """The items of one running foreach task."""

    task: Task
    attempt: int
    values: list[Any]
    limit: int
    allowed_failures: int
    pending: deque[int] = field(default_factory=deque)
    delayed: list[tuple[float, int]] = field(default_factory=list)  # heap of (due, index): retries, pool waits
    running: set[int] = field(default_factory=set)
    failed: int = 0
    broken: bool = False  # too many failures: no new item starts
    cancel_reason: str | None = None

    def idle(self) -> bool:
        """Nothing runs, waits or is left to start."""
        return not self.running and not self.pending and not self.delayed


def tolerated_failures(spec: int | str, count: int) -> int:
    """How many of ``count`` items may fail: a count, or ``"N%"`` of the items (rounded down)."""
    if isinstance(spec, str) and spec.strip().endswith("%"):
        return int(float(spec.strip()[:-1]) * count // 100)
    return int(spec or 0)


class Fanouts:
    """Runs the items of foreach tasks: queues, limits, retries, and the task's end."""

    def __init__(self, run: RunContext, launcher: AttemptLauncher, outcomes: Outcomes, cache: ResultCache,
                 pools: PoolSlots, items: ItemConditions) -> None:
        self.run = run
        self.launcher = launcher
        self.outcomes = outcomes
        self.cache = cache
        self.pools = pools
        self.items = items
        self.active: dict[str, Fanout] = {}  # running foreach tasks

    # -- start -------------------------------------------------------------------------------------------
    def _values(self, task: Task) -> list[Any]:
        """The item list: the ``foreach`` expression's value, which must be a list."""
        from workflow_cli.templates.render import evaluate

        value = evaluate(str(task.foreach), self.run.scope(task))
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            shown = self.run.redact(repr(value))
            raise ValueError(f"foreach must give a list, not {type(value).__name__} ({shown[:200]})")
        return value

    def start(self, task: Task, attempt: int) -> bool:
        """Evaluate the item list, record the start (completed items of an earlier run are kept), queue the items."""
        run = self.run
        try:
            values = self._values(task)
        except Exception as exc:  # noqa: BLE001 - a bad list fails the task with its message (retries are per item)
            error = str(exc) if isinstance(exc, ValueError) else f"foreach: {exc}"
            run.journal.record(EventType.TASK_STARTED, {"task": task.id, "attempt": attempt})
            self.outcomes.final_failure(task, {"task": task.id, "attempt": attempt, "error": error, "kind": "error"})
            return True
        stored = run.redact.value(values)
        old = run.state["tasks"][task.id].get("items") or []
        kept = [i for i, it in enumerate(old[:len(values)]) if it["status"] == TaskState.COMPLETED and it.get("item") == stored[i]]
        run.journal.record(EventType.TASK_STARTED, {"task": task.id, "attempt": attempt, "items": stored, "kept": kept})
        run.journal.grow(len(values))
        fan = self._new(task, attempt, values)
        done = set(kept)
        fan.pending.extend(i for i in range(len(values)) if i not in done)
        self.active[task.id] = fan
        self._maybe_finish(fan)
        return True  # the next scheduling pass launches the items

    def _new(self, task: Task, attempt: int, values: list[Any]) -> Fanout:
        """The item queue of a foreach task (its limit: ``foreach_max_parallel``, 1 for a sequential task)."""
        limit = task.foreach_max_parallel or self.run.max_parallel
        if task.execution_mode == "sequential":
            limit = 1
        return Fanout(task, attempt, values, limit, tolerated_failures(task.foreach_tolerated_failures, len(values)))

    def pump(self, now: float) -> bool:
        """Launch pending items into free slots; True when something finished at once."""
        run = self.run
        if run.sched.failing:  # like a new task, a new item does not start while the workflow fails
            for fan in list(self.active.values()):
                self._maybe_finish(fan)
            return False
        if run.sched.stopping or any(live.task.execution_mode == "sequential" and live.index is None for live in run.live.values()):
            return False
        finished = False
        for fan in list(self.active.values()):
            while fan.delayed and fan.delayed[0][0] <= now:
                fan.pending.append(heapq.heappop(fan.delayed)[1])
            while fan.pending and not fan.broken and fan.cancel_reason is None and len(fan.running) < fan.limit \
                    and len(run.live) < run.max_parallel:
                finished |= self._launch_item(fan, fan.pending.popleft(), now)
            if fan.task.id in self.active and fan.idle():
                self._maybe_finish(fan)
                finished = True
        return finished

    def _launch_item(self, fan: Fanout, index: int, now: float) -> bool:
        """Launch one item; True when it ended at once."""
        tid = fan.task.id
        key = f"{tid}[{index}]"
        item = self.run.state["tasks"][tid]["items"][index]
        fan.running.add(index)
        attempt = item["attempts"] + 1
        launched = self.launcher.launch(fan.task, key, attempt, index=index, extra={"item": fan.values[index], "index": index})
        if isinstance(launched, Skipped):
            self._skip_item(fan.task, index, launched.reason)
            return True
        if isinstance(launched, ActionResult):
            live = self.run.live.pop(key)
            self.item_result(live, launched)
            return True
        if key not in self.run.live:  # waits for a pool slot
            fan.running.discard(index)
            heapq.heappush(fan.delayed, (now + self.pools.retry_seconds, index))
        return False

    def next_wake(self) -> float | None:
        """The earliest retry delay or pool retry of an item (None: none waits)."""
        dues = [fan.delayed[0][0] for fan in self.active.values() if fan.delayed]
        return min(dues) if dues else None

    # -- results -----------------------------------------------------------------------------------------
    def _skip_item(self, task: Task, index: int, reason: str) -> None:
        """An item whose own conditions are false is skipped (neither completed nor failed)."""
        self.run.journal.record(EventType.ITEM_SKIPPED, {"task": task.id, "index": index, "error": reason})
        fan = self.active[task.id]
        fan.running.discard(index)
        self._maybe_finish(fan)

    def item_result(self, live: Live, result: ActionResult) -> None:
        """Record how an item attempt ended: completed, retried, failed or cancelled."""
        task, index, attempt, run = live.task, int(live.index or 0), live.attempt, self.run
        fan = self.active.get(task.id)
        if fan is None:
            return
        fan.running.discard(index)
        if result.ok and result.waiting is not None:
            result = ActionResult.failure(f"a foreach item cannot wait ({result.waiting.get('kind', 'input')}); "
                                          "use a separate task for approvals, signals and mailbox agents")
        base = {"task": task.id, "index": index, "attempt": attempt}
        if result.usage:  # the item attempt's process tree (SPEC 9)
            base.update(result.usage)
        if result.ok:
            outputs = run.redact.value(result.outputs if result.outputs is not None else {})
            run.journal.record(_ITEM_COMPLETED, {**base, "outputs": outputs, **({"cached": True} if live.cached else {})})
            if live.digest and not live.cached:
                self.cache.store(task, live.digest, outputs)
        else:
            self._item_failed(fan, live, result, base)
        self._maybe_finish(fan)

    def _item_failed(self, fan: Fanout, live: Live, result: ActionResult, base: dict[str, Any]) -> None:
        """A failed item attempt: back to pending (stop), cancelled, retried per the task's policy, or failed."""
        run = self.run
        data = {**base, "error": run.redact(result.error or "failed"), "kind": result.kind, "exit_code": result.exit_code}
        index, retry = base["index"], fan.task.retry
        if live.cancel_reason == "stop":
            run.journal.record(EventType.ITEM_RETRYING, {**data, "kind": "stopped", "due": None})
            fan.pending.appendleft(index)
            return
        if live.cancel_reason:
            run.journal.record(EventType.ITEM_FAILED, {**data, "kind": "cancelled"})
            return
        tries = live.attempt - int(run.state["tasks"][fan.task.id]["items"][index].get("retry_base") or 0)  # fresh budget after a retry
        if tries < retry.max_attempts and retry.allows(result.kind, result.exit_code):
            delay = retry.delay_before(tries + 1, run.rng.random())
            due = run.clock.time() + delay
            run.journal.record(EventType.ITEM_RETRYING, {**data, "due": utc_iso(due) if delay > 0 else None, "delay_seconds": round(delay, 3)})
            if delay > 0:
                heapq.heappush(fan.delayed, (due, index))
            else:
                fan.pending.append(index)
            return
        run.journal.record(EventType.ITEM_FAILED, data)
        fan.failed += 1
        if fan.failed > fan.allowed_failures:
            fan.broken = True  # running items finish; no new one starts

    def cancel(self, tid: str, reason: str) -> None:
        """Stop a foreach task: its running items are cancelled; it ends cancelled once they are back."""
        fan = self.active[tid]
        fan.cancel_reason = reason
        for index in fan.running:
            live = self.run.live.get(f"{tid}[{index}]")
            if live is not None:
                self.run.cancel_attempt(live, reason)
        self._maybe_finish(fan)

    # -- the end -----------------------------------------------------------------------------------------
    def _maybe_finish(self, fan: Fanout) -> None:
        """End the task when its items allow: all done, too many failed, or cancelled."""
        run = self.run
        if fan.running or fan.task.id not in self.active:
            return
        tid = fan.task.id
        halted = fan.cancel_reason or run.cancel_requested or run.deadline_hit
        if halted or (run.sched.failing and not fan.broken and not fan.idle()):
            del self.active[tid]
            left = sum(1 for it in run.state["tasks"][tid]["items"] if it["status"] in (TaskState.PENDING, TaskState.RUNNING))
            error = ("cancelled: a min_success dependent no longer needs it" if fan.cancel_reason == "min_success"
                     else "cancelled" if halted else f"not finished: the workflow is failing ({left} item(s) not run)")
            run.journal.record(EventType.TASK_CANCELLED, {"task": tid, "kind": "cancelled", "error": error})
            run.sched.finished(tid, TaskState.CANCELLED)
            return
        if not fan.broken and not fan.idle():
            return
        del self.active[tid]
        self._settle(fan)

    def _settle(self, fan: Fanout) -> None:
        """Every item is done (or too many failed): the task completes with the item outputs, or fails."""
        tid, attempt = fan.task.id, fan.attempt
        items = self.run.state["tasks"][tid]["items"]
        failed = [i for i, it in enumerate(items) if it["status"] == TaskState.FAILED]
        if len(failed) > fan.allowed_failures:
            first = items[failed[0]]
            error = (f"{len(failed)} of {len(items)} items failed (tolerated: {fan.allowed_failures}); "
                     f"item {failed[0]}: {first.get('error') or 'failed'}")
            self.outcomes.final_failure(fan.task, {"task": tid, "attempt": attempt, "error": error, "kind": first.get("error_kind") or "error",
                                                   "failed_items": failed})
            return
        outputs = [it["outputs"] if it["status"] == TaskState.COMPLETED else None for it in items]
        size = len(json.dumps(outputs, ensure_ascii=False, default=str).encode("utf-8"))
        if size > MAX_OUTPUT_BYTES:
            error = f"the outputs of the {len(items)} items are {format_mib(size)} together; the limit is 1 MiB"
            self.outcomes.final_failure(fan.task, {"task": tid, "attempt": attempt, "error": error, "kind": "output"})
            return
        self.outcomes.complete(fan.task, attempt, ActionResult.success(outputs), extra={"failed_items": failed} if failed else None)

    # -- resume ------------------------------------------------------------------------------------------
    def recover(self, task: Task) -> None:
        """A foreach task the last runner left running: its interrupted items run again (or fail, per on_interrupt)."""
        run = self.run
        items = run.state["tasks"][task.id].get("items") or []
        paused = run.resumed_from == InstanceState.PAUSED
        for index, item in enumerate(items):
            base = {"task": task.id, "index": index, "attempt": item["attempts"]}
            if item["status"] == TaskState.RUNNING:
                error = "the runner stopped while this item ran"
                if task.on_interrupt == "rerun":
                    run.journal.record(EventType.ITEM_RETRYING, {**base, "error": error, "kind": "interrupted", "due": None})
                else:
                    run.journal.record(EventType.ITEM_FAILED, {**base, "error": error, "kind": "interrupted"})
                    if task.on_interrupt == "pause":
                        run.stop_requested = (f"item {index} of task {task.id} was interrupted and must not run twice: "
                                              f"check it, then 'workflow-cli resume {run.paths.id}' runs it again")
            elif paused and item["status"] == TaskState.FAILED and item.get("error_kind") == "interrupted" and task.on_interrupt == "pause":
                run.journal.record(EventType.ITEM_RESET, base)

    def restore(self) -> None:
        """Rebuild the item queues of foreach tasks that are still running (a resumed run)."""
        run = self.run
        for tid, ts in run.state["tasks"].items():
            task = run.wf.tasks[tid]
            if ts["status"] != TaskState.RUNNING or not task.foreach:
                continue
            items = ts.get("items") or []
            values = [it.get("item") for it in items]
            try:  # the stored list has secrets masked: use the live one when it still matches
                fresh = self._values(task)
                if len(fresh) == len(items):
                    values = fresh
            except Exception:  # noqa: BLE001, S110 - the stored list is the fallback
                pass
            fan = self._new(task, ts["attempts"], values)
            for index, item in enumerate(items):
                if item["status"] == TaskState.FAILED:
                    fan.failed += 1
                elif item["status"] == TaskState.PENDING and item.get("next_attempt_at"):
                    heapq.heappush(fan.delayed, (parse_due(item["next_attempt_at"]), index))
                elif item["status"] == TaskState.PENDING:
                    fan.pending.append(index)
            fan.broken = fan.failed > fan.allowed_failures
            self.active[tid] = fan
            if fan.broken or fan.idle():
                self._maybe_finish(fan)
