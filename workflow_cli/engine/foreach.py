"""Data-parallel tasks (SPEC 3 ``foreach``): one run per item of a list, each with its own attempts and log.

A foreach task is *running* for the scheduler from its start to its end; what runs meanwhile are its
items, keyed ``T[index]`` in the runner's live attempts, so they count against ``max_parallel``. Items
of running foreach tasks are launched first (:meth:`ForeachMixin._pump_items`), at most
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
from typing import TYPE_CHECKING, Any

from workflow_cli.actions.base import MAX_OUTPUT_BYTES, ActionResult, format_mib
from workflow_cli.model.document import Task

if TYPE_CHECKING:
    from workflow_cli.engine.launch import _Live
    from workflow_cli.engine.runner import Runner

ITEM_NAMES = frozenset({"item", "index"})


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


class ForeachMixin:
    """Methods of :class:`Runner` that run foreach tasks."""

    fanouts: dict[str, Fanout]

    # -- conditions --------------------------------------------------------------------------------------
    def _split_conditions(self: Runner, task: Task) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(task-level, per-item) conditions of a foreach task, split once per run."""
        cache = self._conditions_split
        if task.id not in cache:
            from workflow_cli.templates.render import expression_references

            per_item = tuple(c for c in task.conditions
                             if any(root in ITEM_NAMES for root, _ in expression_references(c, is_template=False)))
            cache[task.id] = (tuple(c for c in task.conditions if c not in per_item), per_item)
        return cache[task.id]

    def _task_conditions(self: Runner, task: Task) -> tuple[str, ...]:
        """The conditions of a foreach task that do not name ``item`` or ``index`` (checked once)."""
        return self._split_conditions(task)[0] if task.conditions else ()

    def _item_conditions(self: Runner, task: Task) -> tuple[str, ...]:
        """The conditions checked for each item (they name ``item`` or ``index``)."""
        return self._split_conditions(task)[1] if task.conditions else ()

    # -- start -------------------------------------------------------------------------------------------
    def _foreach_values(self: Runner, task: Task) -> list[Any]:
        """The item list: the ``foreach`` expression's value, which must be a list."""
        from workflow_cli.templates.render import evaluate

        value = evaluate(str(task.foreach), self._scope(task))
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            shown = self.redact(repr(value))
            raise ValueError(f"foreach must give a list, not {type(value).__name__} ({shown[:200]})")
        return value

    def _start_foreach(self: Runner, task: Task, attempt: int) -> bool:
        """Evaluate the item list, record the start (completed items of an earlier run are kept), queue the items."""
        try:
            values = self._foreach_values(task)
        except Exception as exc:  # noqa: BLE001 - a bad list fails the task with its message (retries are per item)
            error = str(exc) if isinstance(exc, ValueError) else f"foreach: {exc}"
            self.journal.record("task.started", {"task": task.id, "attempt": attempt})
            self._final_failure(task, {"task": task.id, "attempt": attempt, "error": error, "kind": "error"})
            return True
        stored = self.redact.value(values)
        old = self.state["tasks"][task.id].get("items") or []
        kept = [i for i, it in enumerate(old[:len(values)]) if it["status"] == "completed" and it.get("item") == stored[i]]
        self.journal.record("task.started", {"task": task.id, "attempt": attempt, "items": stored, "kept": kept})
        self.journal.grow(len(values))
        fan = self._new_fanout(task, attempt, values)
        done = set(kept)
        fan.pending.extend(i for i in range(len(values)) if i not in done)
        self.fanouts[task.id] = fan
        self._maybe_finish_fanout(fan)
        return True  # the next scheduling pass launches the items

    def _new_fanout(self: Runner, task: Task, attempt: int, values: list[Any]) -> Fanout:
        """The item queue of a foreach task (its limit: ``foreach_max_parallel``, 1 for a sequential task)."""
        limit = task.foreach_max_parallel or self.max_parallel
        if task.execution_mode == "sequential":
            limit = 1
        return Fanout(task, attempt, values, limit, tolerated_failures(task.foreach_tolerated_failures, len(values)))

    def _pump_items(self: Runner, now: float) -> bool:
        """Launch pending items into free slots; True when something finished at once."""
        if self.scheduler.failing:  # like a new task, a new item does not start while the workflow fails
            for fan in list(self.fanouts.values()):
                self._maybe_finish_fanout(fan)
            return False
        if self.scheduler.stopping or any(live.task.execution_mode == "sequential" and live.index is None
                                          for live in self.live.values()):
            return False
        finished = False
        for fan in list(self.fanouts.values()):
            while fan.delayed and fan.delayed[0][0] <= now:
                fan.pending.append(heapq.heappop(fan.delayed)[1])
            while fan.pending and not fan.broken and fan.cancel_reason is None and len(fan.running) < fan.limit \
                    and len(self.live) < self.max_parallel:
                index = fan.pending.popleft()
                item = self.state["tasks"][fan.task.id]["items"][index]
                fan.running.add(index)
                ended = self._launch(fan.task, f"{fan.task.id}[{index}]", item["attempts"] + 1, index=index,
                                     extra={"item": fan.values[index], "index": index})
                if not ended and f"{fan.task.id}[{index}]" not in self.live:  # waits for a pool slot
                    fan.running.discard(index)
                    heapq.heappush(fan.delayed, (now + self._pool_retry_seconds(), index))
                finished |= ended
            if fan.task.id in self.fanouts and fan.idle():
                self._maybe_finish_fanout(fan)
                finished = True
        return finished

    def _fanout_wake(self: Runner) -> float | None:
        """The earliest retry delay or pool retry of an item (None: none waits)."""
        dues = [fan.delayed[0][0] for fan in self.fanouts.values() if fan.delayed]
        return min(dues) if dues else None

    # -- results -----------------------------------------------------------------------------------------
    def _skip_item(self: Runner, task: Task, index: int, reason: str) -> bool:
        """An item whose own conditions are false is skipped (neither completed nor failed)."""
        self.journal.record("item.skipped", {"task": task.id, "index": index, "error": reason})
        fan = self.fanouts[task.id]
        fan.running.discard(index)
        self._maybe_finish_fanout(fan)
        return True

    def _item_result(self: Runner, live: _Live, result: ActionResult) -> None:
        """Record how an item attempt ended: completed, retried, failed or cancelled."""
        task, index, attempt = live.task, int(live.index or 0), live.attempt
        fan = self.fanouts.get(task.id)
        if fan is None:
            return
        fan.running.discard(index)
        if result.ok and result.waiting is not None:
            result = ActionResult.failure(f"a foreach item cannot wait ({result.waiting.get('kind', 'input')}); "
                                          "use a separate task for approvals, signals and mailbox agents")
        base = {"task": task.id, "index": index, "attempt": attempt}
        if result.ok:
            outputs = self.redact.value(result.outputs if result.outputs is not None else {})
            self.journal.record("item.completed", {**base, "outputs": outputs, **({"cached": True} if live.cached else {})})
            if live.digest and not live.cached:
                self._cache_store(task, live.digest, outputs)
        else:
            self._item_failed(fan, live, result, base)
        self._maybe_finish_fanout(fan)

    def _item_failed(self: Runner, fan: Fanout, live: _Live, result: ActionResult, base: dict[str, Any]) -> None:
        """A failed item attempt: back to pending (stop), cancelled, retried per the task's policy, or failed."""
        data = {**base, "error": self.redact(result.error or "failed"), "kind": result.kind, "exit_code": result.exit_code}
        index, retry = base["index"], fan.task.retry
        if live.cancel_reason == "stop":
            self.journal.record("item.retrying", {**data, "kind": "stopped", "due": None})
            fan.pending.appendleft(index)
            return
        if live.cancel_reason:
            self.journal.record("item.failed", {**data, "kind": "cancelled"})
            return
        tries = live.attempt - int(self.state["tasks"][fan.task.id]["items"][index].get("retry_base") or 0)  # fresh budget after a retry
        if tries < retry.max_attempts and retry.allows(result.kind, result.exit_code):
            from workflow_cli.engine.clock import utc_iso

            delay = retry.delay_before(tries + 1, self.rng.random())
            due = self.clock.time() + delay
            self.journal.record("item.retrying", {**data, "due": utc_iso(due) if delay > 0 else None, "delay_seconds": round(delay, 3)})
            if delay > 0:
                heapq.heappush(fan.delayed, (due, index))
            else:
                fan.pending.append(index)
            return
        self.journal.record("item.failed", data)
        fan.failed += 1
        if fan.failed > fan.allowed_failures:
            fan.broken = True  # running items finish; no new one starts

    def _cancel_fanout(self: Runner, tid: str, reason: str) -> None:
        """Stop a foreach task: its running items are cancelled; it ends cancelled once they are back."""
        fan = self.fanouts[tid]
        fan.cancel_reason = reason
        for index in fan.running:
            live = self.live.get(f"{tid}[{index}]")
            if live is not None:
                live.cancel_reason = reason
                if live.ctx is not None:
                    live.ctx.cancel.set()
        self._maybe_finish_fanout(fan)

    # -- the end -----------------------------------------------------------------------------------------
    def _maybe_finish_fanout(self: Runner, fan: Fanout) -> None:
        """End the task when its items allow: all done, too many failed, or cancelled."""
        if fan.running or fan.task.id not in self.fanouts:
            return
        tid, attempt = fan.task.id, fan.attempt
        halted = fan.cancel_reason or self.cancel_requested or self.deadline_hit
        if halted or (self.scheduler.failing and not fan.broken and not fan.idle()):
            del self.fanouts[tid]
            left = sum(1 for it in self.state["tasks"][tid]["items"] if it["status"] in ("pending", "running"))
            error = ("cancelled: a min_success dependent no longer needs it" if fan.cancel_reason == "min_success"
                     else "cancelled" if halted else f"not finished: the workflow is failing ({left} item(s) not run)")
            self.journal.record("task.cancelled", {"task": tid, "kind": "cancelled", "error": error})
            self.scheduler.finished(tid, "cancelled")
            return
        if not fan.broken and not fan.idle():
            return
        del self.fanouts[tid]
        items = self.state["tasks"][tid]["items"]
        failed = [i for i, it in enumerate(items) if it["status"] == "failed"]
        if len(failed) > fan.allowed_failures:
            first = items[failed[0]]
            error = (f"{len(failed)} of {len(items)} items failed (tolerated: {fan.allowed_failures}); "
                     f"item {failed[0]}: {first.get('error') or 'failed'}")
            self._final_failure(fan.task, {"task": tid, "attempt": attempt, "error": error, "kind": first.get("error_kind") or "error",
                                           "failed_items": failed})
            return
        outputs = [it["outputs"] if it["status"] == "completed" else None for it in items]
        size = len(json.dumps(outputs, ensure_ascii=False, default=str).encode("utf-8"))
        if size > MAX_OUTPUT_BYTES:
            error = f"the outputs of the {len(items)} items are {format_mib(size)} together; the limit is 1 MiB"
            self._final_failure(fan.task, {"task": tid, "attempt": attempt, "error": error, "kind": "output"})
            return
        self._complete(fan.task, attempt, ActionResult.success(outputs), extra={"failed_items": failed} if failed else None)

    # -- resume ------------------------------------------------------------------------------------------
    def _recover_items(self: Runner, task: Task) -> None:
        """A foreach task the last runner left running: its interrupted items run again (or fail, per on_interrupt)."""
        items = self.state["tasks"][task.id].get("items") or []
        paused = self._resumed_from == "paused"
        for index, item in enumerate(items):
            base = {"task": task.id, "index": index, "attempt": item["attempts"]}
            if item["status"] == "running":
                error = "the runner stopped while this item ran"
                if task.on_interrupt == "rerun":
                    self.journal.record("item.retrying", {**base, "error": error, "kind": "interrupted", "due": None})
                else:
                    self.journal.record("item.failed", {**base, "error": error, "kind": "interrupted"})
                    if task.on_interrupt == "pause":
                        self.stop_requested = (f"item {index} of task {task.id} was interrupted and must not run twice: "
                                               f"check it, then 'workflow-cli resume {self.paths.id}' runs it again")
            elif paused and item["status"] == "failed" and item.get("error_kind") == "interrupted" and task.on_interrupt == "pause":
                self.journal.record("item.reset", base)

    def _restore_fanouts(self: Runner) -> None:
        """Rebuild the item queues of foreach tasks that are still running (a resumed run)."""
        for tid, ts in self.state["tasks"].items():
            task = self.wf.tasks[tid]
            if ts["status"] != "running" or not task.foreach:
                continue
            items = ts.get("items") or []
            values = [it.get("item") for it in items]
            try:  # the stored list has secrets masked: use the live one when it still matches
                fresh = self._foreach_values(task)
                if len(fresh) == len(items):
                    values = fresh
            except Exception:  # noqa: BLE001 - the stored list is the fallback
                pass
            fan = self._new_fanout(task, ts["attempts"], values)
            for index, item in enumerate(items):
                if item["status"] == "failed":
                    fan.failed += 1
                elif item["status"] == "pending" and item.get("next_attempt_at"):
                    heapq.heappush(fan.delayed, (self._parse_due(item["next_attempt_at"]), index))
                elif item["status"] == "pending":
                    fan.pending.append(index)
            fan.broken = fan.failed > fan.allowed_failures
            self.fanouts[tid] = fan
            if fan.broken or fan.idle():
                self._maybe_finish_fanout(fan)

