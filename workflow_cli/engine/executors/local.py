"""The ``local`` executor: a thread pool in this process (actions start their own child processes)."""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Mapping
from typing import Any, Callable

from workflow_cli.actions.base import ActionResult
from workflow_cli.engine.executors.base import TaskKey
from workflow_cli.engine.spec import AttemptSpec, run_attempt

CrashHandler = Callable[[TaskKey, str], None]
ResultHandler = Callable[[TaskKey, ActionResult], None]
ActionLookup = Callable[[str], Any]
_Work = tuple[AttemptSpec, TaskKey, "Mapping[str, Any] | None", threading.Event]


def _registered(name: str) -> Any:
    """The action registered under ``name`` (built-in or plugin)."""
    from workflow_cli.actions import registry

    return registry().get(name)


class LocalExecutor:
    """Runs attempts on up to ``max_workers`` threads named ``wf-task-N``; results are collected by :meth:`poll`.

    Plain threads fed by a queue rather than a ``ThreadPoolExecutor``: the runner keys its results
    itself, so a ``Future`` (and its condition variable) per attempt would be pure overhead.
    Threads start on demand, one per submission until ``max_workers`` exist.
    """

    def __init__(self, max_workers: int, *, on_crash: CrashHandler | None = None, actions: ActionLookup | None = None) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.capacity = max_workers
        self.on_crash = on_crash
        self._actions = actions or _registered
        self._cancels: dict[TaskKey, threading.Event] = {}
        self._done: queue.SimpleQueue[tuple[TaskKey, ActionResult]] = queue.SimpleQueue()
        self._work: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._names = itertools.count(1)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._in_flight = 0
        self._closed = False
        self._handler: ResultHandler | None = None
        self._local = threading.local()

    @property
    def in_flight(self) -> int:
        """Attempts submitted whose results have not been returned by :meth:`poll` yet."""
        return self._in_flight

    def _execute(self, spec: AttemptSpec, key: TaskKey, services: Mapping[str, Any] | None, cancel: threading.Event) -> None:
        """Run ``spec`` with its registered action; an exception escaping it is a crash, reported as a failed attempt."""
        try:
            result = run_attempt(spec, self._actions(spec.action), services=services, cancel=cancel)
        except BaseException as exc:  # noqa: BLE001 - a crashed attempt must still produce a result
            result = ActionResult.failure(f"internal error: {exc!r}", kind="error")
            if self.on_crash is not None:
                import traceback  # only for a crash: every run imports this module

                self.on_crash(key, traceback.format_exc())
        finally:
            if self._cancels.get(key) is cancel:
                del self._cancels[key]
        handler = self._handler
        if handler is None:
            self._done.put((key, result))
            return
        with self._lock:
            self._in_flight -= 1
        handler(key, result)

    def set_result_handler(self, handler: ResultHandler | None) -> None:
        """Hand each result to ``handler`` on the worker thread that produced it, instead of :meth:`poll`.

        The handler must not raise (the runner records its own errors) and must not wait for another
        worker. Results already queued for :meth:`poll` stay there.
        """
        self._handler = handler

    def _worker(self) -> None:
        work, local = self._work, self._local
        local.worker, local.next = True, None
        while True:
            item = work.get()
            if item is None:  # shutdown
                return
            while item is not None:
                self._execute(*item)
                item, local.next = local.next, None  # what its own result handler started: no hand-over


    def submit(self, spec: AttemptSpec, *, key: TaskKey, services: Mapping[str, Any] | None = None) -> None:
        """Queue ``spec``; a worker thread takes it as soon as one is free."""
        if self._closed:
            raise RuntimeError("the executor is shut down")
        cancel = self._cancels[key] = threading.Event()  # made now: a cancel before the attempt starts still counts
        item: _Work = (spec, key, services, cancel)
        local = self._local
        if getattr(local, "worker", False) and local.next is None:
            # submitted by a result handler on a worker: this worker runs it next (waking another
            # thread costs more than a short task); a second submission goes to the shared queue
            with self._lock:
                self._in_flight += 1
            local.next = item
            return
        with self._lock:
            self._in_flight += 1
            if len(self._threads) < self.capacity:
                thread = threading.Thread(target=self._worker, name=f"wf-task-{next(self._names)}", daemon=True)
                self._threads.append(thread)
                thread.start()
        self._work.put(item)

    def cancel(self, key: TaskKey, *, grace: float | None = None, hurry: Any = None) -> None:
        """Set the cancel flag the attempt's action watches (no effect once it has ended); ``grace`` and
        ``hurry`` ride on the flag to the process killer (:func:`workflow_cli.actions._process.kill_tree`)."""
        event = self._cancels.get(key)
        if event is not None:
            if grace is not None:
                event.grace = grace  # type: ignore[attr-defined]
            if hurry is not None:
                event.hurry = hurry  # type: ignore[attr-defined]
            event.set()

    def run_inline(self, spec: AttemptSpec, key: TaskKey, services: Mapping[str, Any] | None = None) -> None:
        """Run ``spec`` now in the calling thread (trivial in-process actions) and queue its result."""
        with self._lock:
            self._in_flight += 1
        cancel = self._cancels[key] = threading.Event()
        self._execute(spec, key, services, cancel)

    def poll(self, timeout: float | None) -> list[tuple[TaskKey, ActionResult]]:
        """Wait up to ``timeout`` seconds (None: forever) for one result, then take every finished one."""
        results: list[tuple[TaskKey, ActionResult]] = []
        try:
            if timeout is not None and timeout <= 0:
                results.append(self._done.get_nowait())
            else:
                results.append(self._done.get(timeout=timeout))
            while True:
                results.append(self._done.get_nowait())
        except queue.Empty:
            pass
        if results:
            with self._lock:
                self._in_flight -= len(results)
        return results

    def shutdown(self, *, wait: bool) -> None:
        """Stop the workers; without ``wait``, queued attempts that have not started are dropped."""
        self._closed = True
        if not wait:
            try:
                while True:
                    self._work.get_nowait()
            except queue.Empty:
                pass
        for _ in self._threads:
            self._work.put(None)
        if wait:
            for thread in self._threads:
                thread.join()
