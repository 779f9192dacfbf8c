"""The local executor: attempt specs run on a thread pool with their registered action, keyed results, poll semantics."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from workflow_cli.actions.base import ActionContext, ActionResult
from workflow_cli.engine.executors.base import Executor, TaskKey
from workflow_cli.engine.executors.local import LocalExecutor
from workflow_cli.engine.spec import AttemptSpec


def spec(tmp_path: Path, action: str, unit: str = "t", attempt: int = 1, **parameters: Any) -> AttemptSpec:
    """A minimal attempt of action ``action`` whose log goes to ``tmp_path``."""
    return AttemptSpec(instance_id="wf-1", task_id=unit, action=action, attempt=attempt, parameters=parameters, env={},
                       workspace=str(tmp_path), timeout=None, idempotency_key=f"wf-1:{unit}",
                       log_path=str(tmp_path / f"{unit}.log"), log_header=f"=== {unit} attempt {attempt} ===\n", unit=unit)


class Recorder:
    """A test action: records the thread it ran on, waits for ``release`` when asked, may raise."""

    inline = False

    def __init__(self) -> None:
        self.threads: list[str] = []
        self.release = threading.Event()

    def run(self, ctx: ActionContext) -> ActionResult:
        self.threads.append(threading.current_thread().name)
        p = ctx.parameters
        if p.get("wait"):
            self.release.wait(5)
        if p.get("cancellable"):
            return ActionResult.failure("cancelled", kind="cancelled") if ctx.cancel.wait(5) else ActionResult.success()
        if p.get("fail"):
            return ActionResult.failure("no")
        return ActionResult.success({"i": p.get("i")})


def executor_with(recorder: Recorder, workers: int, **kw: Any) -> LocalExecutor:
    return LocalExecutor(workers, actions={"rec": recorder}.__getitem__, **kw)


def collect(executor: LocalExecutor, count: int) -> dict[TaskKey, ActionResult]:
    """Poll until ``count`` results have arrived."""
    results: dict[TaskKey, ActionResult] = {}
    for _ in range(count):
        results.update(executor.poll(5))
        if len(results) >= count:
            break
    return results


def test_submit_and_poll_return_keyed_results(tmp_path: Path) -> None:
    recorder = Recorder()
    executor = executor_with(recorder, 2)
    for i in range(4):
        executor.submit(spec(tmp_path, "rec", f"t{i}", i=i), key=(f"t{i}", 1))
    results = collect(executor, 4)
    executor.shutdown(wait=True)
    assert {key: r.outputs["i"] for key, r in results.items()} == {(f"t{i}", 1): i for i in range(4)}
    assert recorder.threads and all(name.startswith("wf-task-") for name in recorder.threads)
    assert executor.in_flight == 0


def test_poll_without_results_returns_empty() -> None:
    executor = LocalExecutor(1)
    assert executor.poll(0) == []
    assert executor.poll(0.01) == []
    executor.shutdown(wait=True)


def test_poll_returns_every_finished_result_at_once(tmp_path: Path) -> None:
    executor = executor_with(Recorder(), 1)
    executor.run_inline(spec(tmp_path, "rec", "a"), ("a", 1))
    executor.run_inline(spec(tmp_path, "rec", "b", 2, fail=True), key=("b", 2))
    assert executor.in_flight == 2
    results = executor.poll(0)
    assert [key for key, _ in results] == [("a", 1), ("b", 2)]
    assert results[1][1].ok is False
    executor.shutdown(wait=True)


def test_poll_waits_for_a_slow_result(tmp_path: Path) -> None:
    recorder = Recorder()
    executor = executor_with(recorder, 1)
    executor.submit(spec(tmp_path, "rec", "slow", wait=True), key=("slow", 1))
    threading.Timer(0.05, recorder.release.set).start()
    assert [key for key, _ in executor.poll(5)] == [("slow", 1)]
    executor.shutdown(wait=True)


def test_cancel_reaches_the_action_even_before_it_starts(tmp_path: Path) -> None:
    recorder = Recorder()
    executor = executor_with(recorder, 1)
    executor.submit(spec(tmp_path, "rec", "first", wait=True), key=("first", 1))
    executor.submit(spec(tmp_path, "rec", "second", cancellable=True), key=("second", 1))
    executor.cancel(("second", 1))  # still queued behind "first"
    executor.cancel(("unknown", 9))  # ignored
    recorder.release.set()
    results = collect(executor, 2)
    executor.shutdown(wait=True)
    assert results[("first", 1)].ok and results[("second", 1)].kind == "cancelled"


def test_exception_becomes_internal_error_and_reports_crash(tmp_path: Path) -> None:
    crashes: list[tuple[TaskKey, str]] = []

    def lookup(name: str) -> Any:
        raise RuntimeError("kaput")

    executor = LocalExecutor(1, on_crash=lambda key, tb: crashes.append((key, tb)), actions=lookup)
    executor.submit(spec(tmp_path, "boom", "x", 3), key=("x", 3))
    [(key, result)] = executor.poll(5)
    executor.shutdown(wait=True)
    assert key == ("x", 3) and not result.ok and result.kind == "error"
    assert result.error == "internal error: RuntimeError('kaput')"
    assert crashes[0][0] == ("x", 3) and "RuntimeError: kaput" in crashes[0][1]


def test_an_action_raising_fails_the_attempt_with_its_traceback_logged(tmp_path: Path) -> None:
    class Broken:
        def run(self, ctx: ActionContext) -> ActionResult:
            raise ValueError("bad value")

    executor = LocalExecutor(1, actions={"broken": Broken()}.__getitem__)
    executor.submit(spec(tmp_path, "broken", "b"), key=("b", 1))
    [(_, result)] = executor.poll(5)
    executor.shutdown(wait=True)
    assert not result.ok and result.error == "internal error in action: ValueError: bad value"
    assert "ValueError: bad value" in (tmp_path / "b.log").read_text()


def test_local_executor_satisfies_the_protocol() -> None:
    executor: Executor = LocalExecutor(3)
    assert executor.capacity == 3
    executor.shutdown(wait=False)
