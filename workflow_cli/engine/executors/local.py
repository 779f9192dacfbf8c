"""The ``local`` executor: a thread pool in this process (actions start their own child processes)."""

from __future__ import annotations

import itertools
import queue
import threading
import traceback
from typing import Callable

from workflow_cli.actions.base import ActionResult
from workflow_cli.engine.executors.base import TaskKey

CrashHandler = Callable[[TaskKey, str], None]
ResultHandler = Callable[[TaskKey, ActionResult], None]


class LocalExecutor:
    """Runs attempts on up to ``max_workers`` threads named ``wf-task-N``; results are collected by :meth:`poll`.

    Plain threads fed by a queue rather than a ``ThreadPoolExecutor``: the runner keys its results
    itself, so a ``Future`` (and its condition variable) per attempt would be pure overhead.
    Threads start on demand, one per submission until ``max_workers`` exist.
    """

    def __init__(self, max_workers: int, *, on_crash: CrashHandler | None = None) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.capacity = max_workers
        self.on_crash = on_crash
        self._done: queue.SimpleQueue[tuple[TaskKey, ActionResult]] = queue.SimpleQueue()
        self._work: queue.SimpleQueue[tuple[Callable[[], ActionResult], TaskKey] | None] = queue.SimpleQueue()
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

    def _execute(self, fn: Callable[[], ActionResult], key: TaskKey) -> None:
        """Run ``fn``; an exception escaping it is a crash, reported as a failed attempt."""
        try:
            result = fn()
        except BaseException as exc:  # noqa: BLE001 - a crashed attempt must still produce a result
            result = ActionResult.failure(f"internal error: {exc!r}", kind="error")
            if self.on_crash is not None:
                self.on_crash(key, traceback.format_exc())
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


    def submit(self, fn: Callable[[], ActionResult], *, key: TaskKey) -> None:
        """Queue ``fn``; a worker thread takes it as soon as one is free."""
        if self._closed:
            raise RuntimeError("the executor is shut down")
        local = self._local
        if getattr(local, "worker", False) and local.next is None:
            # submitted by a result handler on a worker: this worker runs it next (waking another
            # thread costs more than a short task); a second submission goes to the shared queue
            with self._lock:
                self._in_flight += 1
            local.next = (fn, key)
            return
        with self._lock:
            self._in_flight += 1
            if len(self._threads) < self.capacity:
                thread = threading.Thread(target=self._worker, name=f"wf-task-{next(self._names)}", daemon=True)
                self._threads.append(thread)
                thread.start()
        self._work.put((fn, key))

    def run_inline(self, fn: Callable[[], ActionResult], key: TaskKey) -> None:
        """Run ``fn`` now in the calling thread (trivial in-process actions) and queue its result."""
        with self._lock:
            self._in_flight += 1
        self._execute(fn, key)

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
