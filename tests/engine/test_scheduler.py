"""The pure scheduler (SPEC 6.2): trigger rules, skips, ordering, limits, delays, failing and stopping.

No threads and no sleeps: a tiny driver plays the runner's part, finishing tasks by hand.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import pytest

from workflow_cli.engine.scheduler import Decision, Scheduler, effective_status, rule_verdict
from workflow_cli.model.document import MinSuccess, Task, Workflow, build_workflow

def ALWAYS(task: Task) -> tuple[bool, str | None]:  # noqa: N802 - a constant-like predicate
    return True, None


def wf(tasks: Mapping[str, Mapping[str, Any]], **top: Any) -> Workflow:
    return build_workflow({"version": "2.0.0", "name": "t", "tasks": dict(tasks), **top})


def sched(workflow: Workflow, *, max_parallel: int = 8, statuses: Mapping[str, str] | None = None) -> Scheduler:
    status = {tid: "pending" for tid in workflow.tasks}
    status.update(statuses or {})
    return Scheduler(workflow, status, max_parallel=max_parallel)


class Driver:
    """Plays the runner: decide, 'run' what starts, finish it with a scripted outcome."""

    def __init__(self, s: Scheduler, outcomes: Mapping[str, str] | None = None,
                 check: Callable[[Task], tuple[bool, str | None]] = ALWAYS) -> None:
        self.s = s
        self.outcomes = dict(outcomes or {})
        self.check = check
        self.running: list[str] = []
        self.started: list[str] = []
        self.skipped: dict[str, str] = {}
        self.final: dict[str, str] = {}

    def step(self, now: float = 0.0) -> Decision:
        d = self.s.decide(now, self.running, self.check)
        for tid, kind, _reason in d.skip:
            self.skipped[tid] = kind
            self.final[tid] = "skipped"
        self.running += d.start
        self.started += d.start
        return d

    def finish(self, tid: str) -> None:
        self.running.remove(tid)
        status = self.outcomes.get(tid, "completed")
        self.final[tid] = status
        self.s.finished(tid, status)

    def run_all(self) -> Driver:
        """Run to the end, finishing running tasks oldest first, one at a time."""
        for _ in range(1000):
            self.step()
            if not self.running:
                break
            self.finish(self.running[0])
        assert self.s.idle()
        return self


# -- trigger rules, pure verdicts ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("rule", "statuses", "runs"),
    [
        ("all_success", ["completed", "completed"], True),
        ("all_success", ["completed", "failed"], False),
        ("all_success", ["completed", "skipped"], False),
        ("all_done", ["failed", "skipped"], True),
        ("all_done", ["completed"], True),
        ("one_success", ["failed", "completed"], True),
        ("one_success", ["failed", "skipped"], False),
        ("one_failed", ["completed", "failed"], True),
        ("one_failed", ["completed", "skipped"], False),
        ("none_failed", ["completed", "skipped"], True),
        ("none_failed", ["completed", "failed"], False),
        ("all_failed", ["failed", "failed"], True),
        ("all_failed", ["failed", "completed"], False),
        ("all_failed", ["failed", "skipped"], False),
        (MinSuccess(2), ["completed", "completed", "failed"], True),
        (MinSuccess(2), ["completed", "failed", "failed"], False),
    ],
)
def test_rule_verdict(rule: Any, statuses: list[str], runs: bool) -> None:
    assert rule_verdict(rule, statuses)[0] is runs


def test_skip_kinds_say_why() -> None:
    assert rule_verdict("all_success", ["failed"])[1] == "upstream_failed"
    assert rule_verdict("all_success", ["skipped"])[1] == "upstream_skipped"


def test_effective_status_hides_skip_policy_failures_and_cancellations() -> None:
    skip = wf({"a": {"on_failure": "skip"}}).tasks["a"]
    cont = wf({"a": {"on_failure": "continue"}}).tasks["a"]
    assert effective_status(skip, "failed") == "skipped"
    assert effective_status(cont, "failed") == "failed"
    assert effective_status(cont, "cancelled") == "skipped"


# -- trigger rules through the scheduler ---------------------------------------------------------------

def diamond(rule: Any, outcome_b: str, outcome_c: str, **task_b: Any) -> Driver:
    w = wf({
        "b": dict(task_b), "c": {},
        "d": {"dependencies": ["b", "c"], "trigger_rule": rule},
    })
    return Driver(sched(w), {"b": outcome_b, "c": outcome_c}).run_all()


@pytest.mark.parametrize(
    ("rule", "b", "c", "d_runs"),
    [
        ("all_success", "completed", "completed", True),
        ("all_success", "failed", "completed", False),
        ("all_done", "failed", "failed", True),
        ("one_success", "failed", "completed", True),
        ("one_success", "failed", "failed", False),
        ("one_failed", "failed", "completed", True),
        ("one_failed", "completed", "completed", False),
        ("none_failed", "completed", "completed", True),
        ("none_failed", "failed", "completed", False),
        ("all_failed", "failed", "failed", True),
        ("all_failed", "failed", "completed", False),
        ({"min_success": 1}, "failed", "completed", True),
        ({"min_success": 2}, "failed", "completed", False),
    ],
)
def test_trigger_rules(rule: Any, b: str, c: str, d_runs: bool) -> None:
    d = diamond(rule, b, c)
    assert ("d" in d.started) is d_runs
    if not d_runs:
        assert d.final["d"] == "skipped"


def test_rules_other_than_min_success_wait_for_every_dependency() -> None:
    w = wf({"b": {}, "c": {}, "d": {"dependencies": ["b", "c"], "trigger_rule": "one_success"}})
    drv = Driver(sched(w))
    drv.step()
    drv.finish("b")
    drv.step()
    assert "d" not in drv.started  # c is still running
    drv.finish("c")
    drv.step()
    assert drv.started[-1] == "d"


def test_min_success_starts_before_the_others_finish() -> None:
    w = wf({"b": {}, "c": {}, "e": {}, "d": {"dependencies": ["b", "c", "e"], "trigger_rule": {"min_success": 2}}})
    drv = Driver(sched(w))
    drv.step()
    drv.finish("b")
    assert "d" not in drv.step().start
    drv.finish("c")
    assert drv.step().start == ["d"]  # e still runs
    drv.finish("e")
    drv.step()
    assert drv.started.count("d") == 1


def test_min_success_without_enough_is_skipped_once_all_finished() -> None:
    w = wf({"b": {}, "c": {}, "d": {"dependencies": ["b", "c"], "trigger_rule": {"min_success": 2}}})
    drv = Driver(sched(w), {"b": "failed"})
    drv.step()
    drv.finish("b")
    assert drv.step().skip == []  # c may still succeed... but 2 are needed: wait for it anyway
    drv.finish("c")
    drv.step()
    assert drv.skipped["d"] == "upstream_failed"


def test_min_success_cancel_remaining_names_the_unfinished_dependencies() -> None:
    w = wf({"b": {}, "c": {}, "e": {"dependencies": ["c"]},
            "d": {"dependencies": ["b", "c", "e"], "trigger_rule": {"min_success": 1, "cancel_remaining": True}}})
    drv = Driver(sched(w))
    drv.step()
    drv.finish("b")
    decision = drv.step()
    assert decision.start == ["d"]
    assert sorted(decision.cancel) == ["c", "e"]


# -- skip propagation -------------------------------------------------------------------------------------

def test_skipped_dependency_skips_all_success_dependents_and_runs_none_failed_ones() -> None:
    w = wf({
        "a": {"conditions": ["false"]},
        "strict": {"dependencies": ["a"]},
        "after_strict": {"dependencies": ["strict"]},
        "lenient": {"dependencies": ["a"], "trigger_rule": "none_failed"},
        "done": {"dependencies": ["a"], "trigger_rule": "all_done"},
    })
    drv = Driver(sched(w), check=lambda t: (False, "no") if t.conditions else (True, None)).run_all()
    assert drv.skipped["a"] == "condition"
    assert drv.skipped["strict"] == "upstream_skipped"
    assert drv.skipped["after_strict"] == "upstream_skipped"
    assert "lenient" in drv.started and "done" in drv.started


def test_condition_false_skips_with_kind_condition_and_true_runs() -> None:
    w = wf({"yes": {"conditions": ["1"]}, "no": {"conditions": ["0"]}})
    drv = Driver(sched(w), check=lambda t: (t.id == "yes", None if t.id == "yes" else "false")).run_all()
    assert drv.started == ["yes"]
    assert drv.skipped == {"no": "condition"}


def test_conditions_are_evaluated_only_once_the_rule_allows_a_start() -> None:
    seen: list[str] = []

    def check(task: Task) -> tuple[bool, str | None]:
        seen.append(task.id)
        return True, None

    w = wf({"a": {}, "b": {"dependencies": ["a"], "conditions": ["x"]}})
    Driver(sched(w), {"a": "failed"}, check=check).run_all()
    assert seen == []  # b was skipped by its rule; its condition never mattered


def test_on_failure_skip_makes_a_failure_look_skipped() -> None:
    w = wf({
        "a": {"on_failure": "skip"},
        "strict": {"dependencies": ["a"]},
        "lenient": {"dependencies": ["a"], "trigger_rule": "none_failed"},
        "on_fail": {"dependencies": ["a"], "trigger_rule": "one_failed"},
    })
    drv = Driver(sched(w), {"a": "failed"}).run_all()
    assert drv.skipped["strict"] == "upstream_skipped"
    assert "lenient" in drv.started
    assert drv.skipped["on_fail"] == "rule"


def test_on_failure_continue_lets_failure_accepting_dependents_run() -> None:
    w = wf({
        "a": {"on_failure": "continue"},
        "strict": {"dependencies": ["a"]},
        "cleanup": {"dependencies": ["a"], "trigger_rule": "all_done"},
        "alert": {"dependencies": ["a"], "trigger_rule": "one_failed"},
        "independent": {},
    })
    drv = Driver(sched(w), {"a": "failed"}).run_all()
    assert drv.skipped["strict"] == "upstream_failed"
    assert {"cleanup", "alert", "independent"} <= set(drv.started)


def test_cancelled_dependency_counts_as_skipped() -> None:
    w = wf({"a": {}, "b": {"dependencies": ["a"]}, "c": {"dependencies": ["a"], "trigger_rule": "none_failed"}})
    drv = Driver(sched(w), {"a": "cancelled"}).run_all()
    assert drv.skipped["b"] == "upstream_skipped"
    assert "c" in drv.started


# -- ordering and limits --------------------------------------------------------------------------------

def test_ready_tasks_start_by_priority_then_document_order() -> None:
    w = wf({"low": {}, "first": {"priority": 5}, "second": {"priority": 5}, "high": {"priority": 9}, "mid": {"priority": 1}})
    drv = Driver(sched(w, max_parallel=1)).run_all()
    assert drv.started == ["high", "first", "second", "mid", "low"]


def test_max_parallel_caps_running_tasks() -> None:
    w = wf({f"t{i}": {} for i in range(5)})
    drv = Driver(sched(w, max_parallel=2))
    assert drv.step().start == ["t0", "t1"]
    assert drv.step().start == []
    drv.finish("t0")
    assert drv.step().start == ["t2"]


def test_workflow_sequential_runs_one_at_a_time_in_topological_order_with_priority_ties() -> None:
    w = wf({
        "a": {},
        "b": {"dependencies": ["a"]},
        "c": {"dependencies": ["a"], "priority": 3},
        "d": {"dependencies": ["b", "c"]},
        "e": {},
    }, execution_mode="sequential")
    drv = Driver(sched(w, max_parallel=8))
    for _ in range(10):
        assert len(drv.step().start) <= 1
        assert len(drv.running) <= 1
        if not drv.running:
            break
        drv.finish(drv.running[0])
    # a and e are ready at first: a comes first in the document; then c (priority 3), then b, d, e by
    # document order among whatever is ready each time
    assert drv.started == ["a", "c", "b", "d", "e"]


def test_sequential_task_runs_alone() -> None:
    w = wf({"p1": {}, "solo": {"execution_mode": "sequential"}, "p2": {}, "p3": {}})
    drv = Driver(sched(w, max_parallel=8))
    assert drv.step().start == ["p1"]  # solo must wait for p1; nothing after it in order jumps ahead
    drv.finish("p1")
    assert drv.step().start == ["solo"]
    assert drv.step().start == []  # nothing runs beside it
    drv.finish("solo")
    assert drv.step().start == ["p2", "p3"]


def test_sequential_task_first_in_order_starts_alone() -> None:
    w = wf({"solo": {"execution_mode": "sequential", "priority": 1}, "p1": {}, "p2": {}})
    drv = Driver(sched(w))
    assert drv.step().start == ["solo"]
    drv.finish("solo")
    assert drv.step().start == ["p1", "p2"]


# -- retry delays ----------------------------------------------------------------------------------------

def test_retry_delay_holds_a_reset_task_until_due_and_reports_wake_at() -> None:
    w = wf({"a": {}, "b": {"dependencies": ["a"]}})
    s = sched(w)
    assert s.decide(0.0, [], ALWAYS).start == ["a"]
    s.reset("a")  # the runner resets a failed attempt that will be retried...
    s.delay("a", 10.0)  # ...after its backoff
    d = s.decide(1.0, [], ALWAYS)
    assert d.start == [] and d.wake_at == 10.0
    assert not s.idle()
    assert s.decide(9.99, [], ALWAYS).start == []
    d = s.decide(10.0, [], ALWAYS)
    assert d.start == ["a"] and d.wake_at is None
    s.finished("a", "completed")
    assert s.decide(10.0, ["a"][:0], ALWAYS).start == ["b"]


def test_delays_from_a_previous_run_are_honoured() -> None:
    w = wf({"a": {}, "b": {}})
    s = sched(w)
    s.delay("a", 5.0)
    d = s.decide(0.0, [], ALWAYS)
    assert d.start == ["b"] and d.wake_at == 5.0


# -- failing and stopping ----------------------------------------------------------------------------------

def test_failing_starts_only_failure_accepting_tasks_and_aborts_the_rest() -> None:
    w = wf({
        "bad": {},
        "slow": {},
        "next": {"dependencies": ["bad"]},
        "independent": {"dependencies": ["slow"]},
        "cleanup": {"dependencies": ["bad", "slow"], "trigger_rule": "all_done"},
        "alert": {"dependencies": ["bad"], "trigger_rule": "one_failed"},
        "all_bad": {"dependencies": ["bad"], "trigger_rule": "all_failed"},
        "after_cleanup": {"dependencies": ["cleanup"]},
    })
    s = sched(w)
    drv = Driver(s, {"bad": "failed"})
    assert drv.step().start == ["bad", "slow"]
    drv.finish("bad")
    s.failing = True  # the runner's reaction to a final failure with on_failure: fail
    drv.step()
    drv.finish("slow")  # running tasks finish
    drv.run_all()
    assert drv.skipped["next"] == "aborted"
    assert drv.skipped["independent"] == "aborted"
    assert drv.skipped["after_cleanup"] == "aborted"
    assert {"cleanup", "alert", "all_bad"} <= set(drv.started)


def test_stopping_starts_nothing_and_keeps_tasks_pending() -> None:
    w = wf({"a": {}, "b": {}, "c": {"dependencies": ["a"]}})
    s = sched(w, max_parallel=1)
    drv = Driver(s)
    assert drv.step().start == ["a"]
    s.stopping = True
    drv.finish("a")
    d = drv.step()
    assert d.start == [] and d.skip == []
    assert s.status["b"] == "pending" and s.status["c"] == "pending"
    s.stopping = False
    assert drv.step().start == ["b"]


def test_construction_from_a_partly_done_run() -> None:
    w = wf({"a": {}, "b": {"dependencies": ["a"]}, "c": {"dependencies": ["b"]}, "x": {"dependencies": ["a"], "trigger_rule": "one_failed"}})
    s = sched(w, statuses={"a": "completed", "b": "completed"})
    drv = Driver(s).run_all()
    assert drv.started == ["c"]
    assert drv.skipped == {"x": "rule"}


def test_reset_of_a_finished_task_makes_it_run_again_and_blocks_its_dependents() -> None:
    w = wf({"a": {}, "b": {"dependencies": ["a"]}})
    s = sched(w, statuses={"a": "completed"})
    s.reset("a")
    assert s.decide(0.0, [], ALWAYS).start == ["a"]  # b waits for a again
    s.finished("a", "completed")
    assert s.decide(0.0, [], ALWAYS).start == ["b"]


def test_wide_fan_out_schedules_each_task_once() -> None:
    n = 300
    tasks: dict[str, Any] = {"root": {}}
    tasks.update({f"t{i}": {"dependencies": ["root"]} for i in range(n)})
    tasks["join"] = {"dependencies": [f"t{i}" for i in range(n)]}
    drv = Driver(sched(wf(tasks), max_parallel=16)).run_all()
    assert len(drv.started) == n + 2 and len(set(drv.started)) == n + 2
    assert drv.started[-1] == "join"


def test_a_failing_workflow_lets_a_task_finish_its_retries() -> None:
    w = wf({"bad": {}, "flaky": {}, "flaky2": {}, "new": {"dependencies": ["flaky"]}})
    s = sched(w)
    assert s.decide(0.0, [], ALWAYS).start == ["bad", "flaky", "flaky2"]
    s.reset("flaky", retry=True)  # its attempt failed; it will be tried again at once
    s.reset("flaky2", retry=True)
    s.delay("flaky2", 5.0)  # ...or after a delay
    s.finished("bad", "failed")
    s.failing = True
    d = s.decide(1.0, [], ALWAYS)
    assert d.start == ["flaky"] and d.skip == []
    assert s.decide(5.0, ["flaky"], ALWAYS).start == ["flaky2"]
    s.finished("flaky", "completed")
    assert [t for t, _k, _r in s.decide(5.0, ["flaky2"], ALWAYS).skip] == ["new"]


def test_cancel_remaining_withdraws_a_dependency_started_in_the_same_decision() -> None:
    w = wf({"b": {}, "c": {}, "slow": {},
            "d": {"dependencies": ["b", "c", "slow"], "trigger_rule": {"min_success": 2, "cancel_remaining": True}}})
    s = sched(w, max_parallel=2)
    assert s.decide(0.0, [], ALWAYS).start == ["b", "c"]
    s.finished("b", "completed")
    s.finished("c", "completed")
    d = s.decide(0.0, [], ALWAYS)  # slow (document order) and d both fit: d cancels slow at once
    assert d.start == ["d"] and d.cancel == ["slow"]
    assert s.status["slow"] == "cancelled"
