"""The ``dask`` executor (SPEC 17): attempts run on an existing Dask distributed cluster.

Attempts of the actions in :data:`REMOTE_ACTIONS` travel to the cluster as plain data (the
:class:`~workflow_cli.engine.spec.AttemptSpec` as JSON) and run in a worker process through
:func:`~workflow_cli.engine.executors.dask_remote.run_remote`. Everything that touches the home
(``file_operation``, ``workflow_trigger``, waits, approvals, conditions, agent tasks) and every task
that says ``executor: local`` runs here, on an inner :class:`~.local.LocalExecutor`, so the runner sees
one executor. Results are handled as futures complete: a done-callback queues the future, and one
thread (``wf-dask-results``) gathers its result, appends the attempt's log to ``logs/<task>.log`` and
hands the result to the runner's handler, as a local worker thread would.

``distributed`` is imported only here and in the worker module: the plain CLI never loads it.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from workflow_cli.actions.base import ActionResult
from workflow_cli.engine.executors.base import TaskKey
from workflow_cli.engine.executors.dask_agents import AgentPlan, agent_data, agent_plan
from workflow_cli.engine.executors.dask_remote import WORKER_LOST, cancel_event, run_remote, started_event
from workflow_cli.engine.executors.local import LocalExecutor
from workflow_cli.engine.spec import AttemptSpec

REMOTE_ACTIONS = frozenset({"command", "python", "api_call", "agent_task"})
"""Actions whose attempts run on the cluster (the others stay in the runner's process)."""

ResultHandler = Callable[[TaskKey, ActionResult], None]
_Remote = tuple[AttemptSpec, TaskKey, "dict[str, float]", "AgentPlan | None"]


@dataclass(frozen=True)
class _Ready:
    """A result known in the runner (an attempt cancelled while it waited for its agent's slot)."""

    key: TaskKey
    result: ActionResult


def connect(address: str, *, timeout: float = 10.0) -> Any:
    """A ``distributed.Client`` connected to the scheduler at ``address``; OSError naming it when unreachable."""
    from distributed import Client

    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise OSError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc


def _placement(spec: AttemptSpec, services: Mapping[str, Any] | None) -> tuple[bool, dict[str, float]]:
    """(runs on the cluster, the task's Dask resources) for one attempt."""
    task = (services or {}).get("task")
    if spec.action not in REMOTE_ACTIONS or getattr(task, "executor", None) == "local":
        return False, {}
    return True, dict(getattr(task, "resources", None) or {})


def _from_payload(payload: Mapping[str, Any]) -> ActionResult:
    result = ActionResult(bool(payload["ok"]), payload.get("outputs"), payload.get("error"), str(payload.get("kind") or "error"),
                          payload.get("exit_code"))
    result.usage = payload.get("usage")  # the process tree's CPU time and peak memory, measured on the worker
    return result


class DaskExecutor:
    """Runs remote actions' attempts on a Dask cluster and the others on a local thread pool."""

    def __init__(self, client: Any, max_workers: int, *, resources: Mapping[str, float] | None = None,
                 workspace: str | None = None, close_client: bool = True) -> None:
        self.capacity = max_workers
        self.client = client
        self.resources = dict(resources or {})
        self.workspace = workspace
        self._close_client = close_client
        self._local = LocalExecutor(max_workers)
        self._lock = threading.Lock()
        self._futures: dict[TaskKey, Any] = {}
        self._attempts: dict[str, tuple[TaskKey, AttemptSpec, AgentPlan | None]] = {}  # Dask key -> its attempt
        self._waiting: list[_Remote] = []  # agent_task attempts waiting for a slot on their agent
        self._cancelled: set[str] = set()
        self._finished: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[tuple[TaskKey, ActionResult]] = queue.SimpleQueue()
        self._handler: ResultHandler | None = None
        self._closed = False
        self._collector = threading.Thread(target=self._collect, name="wf-dask-results", daemon=True)
        self._collector.start()

    # -- the Executor protocol -------------------------------------------------------------------------
    def set_result_handler(self, handler: ResultHandler | None) -> None:
        """Hand each result to ``handler`` (remote ones on the results thread, local ones on their worker thread)."""
        self._handler = handler
        self._local.set_result_handler(handler)

    def submit(self, spec: AttemptSpec, *, key: TaskKey, services: Mapping[str, Any] | None = None) -> None:
        """Send ``spec`` to the cluster, or to the local pool when it must stay home."""
        if self._closed:
            raise RuntimeError("the executor is shut down")
        remote, resources = _placement(spec, services)
        plan = agent_plan(spec, services) if remote and spec.action == "agent_task" else None
        if not remote or (spec.action == "agent_task" and plan is None):
            self._local.submit(spec, key=key, services=services)
            return
        work: _Remote = (spec, key, {**self.resources, **resources}, plan)
        if plan is not None and not plan.take_slot():
            with self._lock:
                self._waiting.append(work)  # sent when a call of the same agent ends
            return
        self._send(work)

    def _send(self, work: _Remote) -> None:
        """Submit one attempt to the cluster under a fresh key."""
        spec, key, resources, plan = work
        dask_key = f"workflow-cli-{spec.instance_id}-{key[0]}-{key[1]}-{uuid.uuid4().hex[:8]}"
        with self._lock:
            self._attempts[dask_key] = (key, spec, plan)
        extra = (agent_data(plan.agent), plan.payload) if plan is not None else ()
        future = self.client.submit(run_remote, spec.to_json(), dask_key, self.workspace, *extra, key=dask_key, pure=False,
                                    resources=resources or None, retries=0)
        with self._lock:
            self._futures[key] = future
        future.add_done_callback(self._finished.put)

    def _send_waiting(self) -> None:
        """Send the attempts that waited for a slot on their agent, as slots free up."""
        with self._lock:
            ready = [w for w in self._waiting if w[3] is not None and w[3].take_slot()]
            self._waiting = [w for w in self._waiting if w not in ready]
        for work in ready:
            self._send(work)

    def cancel(self, key: TaskKey, *, grace: float | None = None, hurry: Any = None) -> None:
        """Ask the attempt to stop: its worker kills its process tree (a local attempt: its cancel flag).

        ``grace``/``hurry`` reach local attempts; a remote one is killed on its worker's own grace."""
        with self._lock:
            future = self._futures.get(key)
            if future is not None:
                self._cancelled.add(future.key)
            waiting = [w for w in self._waiting if w[1] == key]
            self._waiting = [w for w in self._waiting if w[1] != key]
        for spec, _, _, plan in waiting:
            if plan is not None:
                plan.done(None, spec)
            self._finished.put(_Ready(key, ActionResult.failure("cancelled while waiting for a free slot on its agent", kind="cancelled")))
        if future is None:
            if not waiting:
                self._local.cancel(key, grace=grace, hurry=hurry)
            return
        self._scheduler_calls("event_set", [cancel_event(future.key)])  # not waited for: the runner holds its state lock

    def poll(self, timeout: float | None) -> list[tuple[TaskKey, ActionResult]]:
        """Without a handler: wait up to ``timeout`` seconds for one result, then take every finished one."""
        results = self._local.poll(0)
        try:
            if not results:
                results.append(self._done.get(timeout=timeout) if timeout is None or timeout > 0 else self._done.get_nowait())
            while True:
                results.append(self._done.get_nowait())
        except queue.Empty:
            pass
        return results

    def shutdown(self, *, wait: bool) -> None:
        """Stop taking work; with ``wait``, return once submitted attempts have reported (then close the client)."""
        self._closed = True
        self._local.shutdown(wait=wait)
        if not wait:
            with self._lock:
                futures = list(self._futures.values())
            for future in futures:
                future.cancel()
        self._finished.put(None)
        self._collector.join(timeout=None if wait else 5.0)
        if self._close_client:
            self.client.close()

    # -- results ---------------------------------------------------------------------------------------
    def _collect(self) -> None:
        """The results thread: finished futures in batches (one gather each), until :meth:`shutdown` and nothing left."""
        while True:
            batch = [self._finished.get()]
            try:
                while len(batch) < 256:
                    batch.append(self._finished.get_nowait())
            except queue.Empty:
                pass
            for ready in batch:
                if isinstance(ready, _Ready):
                    self._hand_over(ready.key, ready.result)
            futures = [f for f in batch if f is not None and not isinstance(f, _Ready)]
            if futures and self._deliver(futures):
                return
            if None in batch:  # shut down: stop once no submitted attempt is left to report
                with self._lock:
                    if not self._attempts:
                        return

    def _deliver(self, futures: list[Any]) -> bool:
        """Hand the results of ``futures`` over; True when the executor is shut down and nothing is left."""
        finished = [f for f in futures if f.status == "finished"]
        try:
            payloads = dict(zip((f.key for f in finished), self.client.gather(finished))) if finished else {}
        except Exception:  # noqa: BLE001 - a result lost on the way: each future is asked on its own below
            payloads = {}
        tidy: list[str] = []
        last = False
        for future in futures:
            with self._lock:
                key, spec, plan = self._attempts.pop(future.key)
                self._futures.pop(key, None)
                cancelled = future.key in self._cancelled
                self._cancelled.discard(future.key)
                last = self._closed and not self._attempts
            tidy.append(started_event(future.key))
            if cancelled:
                tidy.append(cancel_event(future.key))
            payload = payloads.get(future.key)
            try:
                result = self._outcome(future, spec, cancelled) if payload is None else self._from_worker(payload, spec)
                future.release()
                if plan is not None:
                    plan.done(payload, spec)
            except Exception as exc:  # noqa: BLE001 - this thread must go on: the attempt fails, the run does not hang
                result = ActionResult.failure(f"internal error handling the attempt's result: {exc!r}", kind="error")
            self._hand_over(key, result)
        self._scheduler_calls("event_clear", tidy)  # clearing an Event deletes it
        if self._waiting:
            self._send_waiting()
        return last

    def _hand_over(self, key: TaskKey, result: ActionResult) -> None:
        handler = self._handler
        if handler is None:
            self._done.put((key, result))
        else:
            handler(key, result)

    def _scheduler_calls(self, handler: str, names: list[str]) -> None:
        """Call the scheduler's Event ``handler`` (event_set, event_clear) for each name, without waiting for it."""
        scheduler = self.client.scheduler

        async def call() -> None:
            for name in names:
                try:
                    await getattr(scheduler, handler)(name=name)
                except Exception:  # noqa: BLE001 - the scheduler is gone: the attempts end as worker_lost anyway
                    return

        try:
            self.client.loop.add_callback(call)
        except RuntimeError:  # the client's loop is closed
            return

    def _outcome(self, future: Any, spec: AttemptSpec, cancelled: bool) -> ActionResult:
        """The result of a future that did not finish with a payload: worker lost, cancelled or failed."""
        from distributed.scheduler import KilledWorker

        try:
            return self._from_worker(future.result(), spec)
        except KilledWorker as exc:
            return ActionResult.failure(f"the Dask worker running this attempt died ({exc})", kind=WORKER_LOST)
        except BaseException as exc:  # noqa: BLE001 - a future that cannot give its result fails the attempt
            if future.status == "cancelled" and cancelled:
                return ActionResult.failure("cancelled before it started", kind="cancelled")
            if future.status == "cancelled":  # not by us: the scheduler forgot it (restarted, or this client lost it)
                return ActionResult.failure("the Dask scheduler dropped the attempt (was it restarted?)", kind=WORKER_LOST)
            return ActionResult.failure(f"the Dask cluster could not run the attempt: {type(exc).__name__}: {exc}", kind="error")

    @staticmethod
    def _from_worker(payload: Mapping[str, Any], spec: AttemptSpec) -> ActionResult:
        """A worker's answer as a result; its log appended to the task's log in the home."""
        if payload.get("log"):
            with open(spec.log_path, "a", encoding="utf-8", errors="replace") as fh:
                fh.write(payload["log"])
        return _from_payload(payload)
