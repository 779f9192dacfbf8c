"""The local executor: thread pool, keyed results, poll semantics."""

from __future__ import annotations

import threading

from workflow_cli.actions.base import ActionResult
from workflow_cli.engine.executors.base import Executor, TaskKey
from workflow_cli.engine.executors.local import LocalExecutor


def collect(executor: LocalExecutor, count: int) -> dict[TaskKey, ActionResult]:
    """Poll until ``count`` results have arrived."""
    results: dict[TaskKey, ActionResult] = {}
    for _ in range(count):
        results.update(executor.poll(5))
        if len(results) >= count:
            break
    return results


def test_submit_and_poll_return_keyed_results() -> None:
    executor = LocalExecutor(2)
    names: list[str] = []

    def work(i: int) -> ActionResult:
        names.append(threading.current_thread().name)
        return ActionResult.success({"i": i})

    for i in range(4):
        executor.submit(lambda i=i: work(i), key=(f"t{i}", 1))
    results = collect(executor, 4)
    executor.shutdown(wait=True)
    assert {key: r.outputs["i"] for key, r in results.items()} == {(f"t{i}", 1): i for i in range(4)}
    assert names and all(name.startswith("wf-task-") for name in names)
    assert executor.in_flight == 0


def test_poll_without_results_returns_empty() -> None:
    executor = LocalExecutor(1)
    assert executor.poll(0) == []
    assert executor.poll(0.01) == []
    executor.shutdown(wait=True)


def test_poll_returns_every_finished_result_at_once() -> None:
    executor = LocalExecutor(1)
    executor.run_inline(ActionResult.success, ("a", 1))
    executor.run_inline(lambda: ActionResult.failure("no"), key=("b", 2))
    assert executor.in_flight == 2
    results = executor.poll(0)
    assert [key for key, _ in results] == [("a", 1), ("b", 2)]
    assert results[1][1].ok is False
    executor.shutdown(wait=True)


def test_poll_waits_for_a_slow_result() -> None:
    executor = LocalExecutor(1)
    release = threading.Event()

    def slow() -> ActionResult:
        release.wait(5)
        return ActionResult.success()

    executor.submit(slow, key=("slow", 1))
    threading.Timer(0.05, release.set).start()
    assert [key for key, _ in executor.poll(5)] == [("slow", 1)]
    executor.shutdown(wait=True)


def test_exception_becomes_internal_error_and_reports_crash() -> None:
    crashes: list[tuple[TaskKey, str]] = []
    executor = LocalExecutor(1, on_crash=lambda key, tb: crashes.append((key, tb)))

    def boom() -> ActionResult:
        raise RuntimeError("kaput")

    executor.submit(boom, key=("x", 3))
    [(key, result)] = executor.poll(5)
    executor.shutdown(wait=True)
    assert key == ("x", 3) and not result.ok and result.kind == "error"
    assert result.error == "internal error: RuntimeError('kaput')"
    assert crashes[0][0] == ("x", 3) and "RuntimeError: kaput" in crashes[0][1]


def test_local_executor_satisfies_the_protocol() -> None:
    executor: Executor = LocalExecutor(3)
    assert executor.capacity == 3
    executor.shutdown(wait=False)
