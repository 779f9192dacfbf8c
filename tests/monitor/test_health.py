"""Health scores, levels and alerts (SPEC 9): pure scoring with a fixed clock, then real homes and the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from workflow_cli.monitor import health
from workflow_cli.monitor.health import Record, level_of, score_instance, summarize
from workflow_cli.store.home import Home

NOW_OFFSET = 1000.0


def now(states) -> float:
    return states.T0 + NOW_OFFSET


@pytest.mark.parametrize("score, level", [(0, "critical"), (49.9, "critical"), (50, "warning"), (69.9, "warning"),
                                          (70, "healthy"), (100, "healthy")])
def test_levels(score, level):
    assert level_of(score) == level


def test_clean_completed_run_scores_100(states):
    state = states.instance("i1", "completed", {"a": states.task(attempts=[(0, 1, "completed")])}, end=1)
    assert score_instance(state, now=now(states), expected_seconds=10) == (100.0, [])


def test_failed_run_loses_failure_task_and_retry_points(states):
    tasks = {"a": states.task(attempts=[(0, 1, "completed")]),
             "b": states.task("failed", attempts=[(1, 2, "failed"), (2, 3, "failed")], error="exit 3", kind="error")}
    state = states.instance("i1", "failed", tasks, end=3, error="task 'b' failed: exit 3")
    score, problems = score_instance(state, now=now(states))
    assert score == 100 - 55 - 10 - 5
    assert level_of(score) == "critical"
    assert {p.kind for p in problems} == {"failed", "task_failed", "retries"}
    assert all(p.fix == "workflow-cli debug i1" for p in problems if p.kind != "retries")


def test_failed_tasks_and_retries_are_capped(states):
    tasks = {f"t{i}": states.task("failed", attempts=[(0, 1, "failed")] * 6, error="x") for i in range(5)}
    state = states.instance("i1", "completed", tasks, end=2)
    assert score_instance(state, now=now(states))[0] == 100 - 30 - 20


@pytest.mark.parametrize("elapsed, expected, score", [(10, 10, 100), (15, 10, 82.5), (20, 10, 65), (60, 10, 65),
                                                      (0.5, 0.01, 100), (1.5, 0.01, 82.5)])
def test_duration_against_expected(states, elapsed, expected, score):
    state = states.instance("i1", "completed", {"a": states.task(attempts=[(0, elapsed, "completed")])}, end=elapsed)
    got, problems = score_instance(state, now=now(states), expected_seconds=expected)
    assert got == score
    assert [p.kind for p in problems] == ([] if score == 100 else ["slow"])


def test_running_instance_uses_elapsed_time(states):
    state = states.instance("i1", "running", {"a": states.task("running", attempts=[(0, None, "")])})
    assert score_instance(state, now=states.T0 + 30, runner_alive=True, expected_seconds=20)[0] == 82.5
    assert score_instance(state, now=states.T0 + 10, runner_alive=True, expected_seconds=20)[0] == 100


def test_dead_runner_is_critical_and_fixed_by_resume(states):
    state = states.instance("i9", "running", {"a": states.task("running", attempts=[(0, None, "")])})
    score, problems = score_instance(state, now=now(states), runner_alive=False)
    assert score == 40 and level_of(score) == "critical"
    assert [(p.kind, p.fix) for p in problems] == [("dead_runner", "workflow-cli resume i9")]
    assert score_instance(state, now=now(states), runner_alive=True) == (100.0, [])


@pytest.mark.parametrize("waiting, fix", [
    ({"kind": "approval", "timeout_at": 1}, "workflow-cli approve i1 gate"),
    ({"kind": "signal", "name": "go", "timeout_at": 1}, "workflow-cli signal i1 go"),
    ({"kind": "timer", "until": 1}, "workflow-cli tick"),
])
def test_waiting_past_its_deadline_is_a_warning(states, waiting, fix):
    deadline = states.T0 + 100
    waiting = {k: (deadline if k in ("timeout_at", "until") else v) for k, v in waiting.items()}
    state = states.instance("i1", "waiting", {"gate": states.task("waiting", attempts=[(0, None, "")], waiting=waiting)})
    score, problems = score_instance(state, now=deadline + health.WAIT_GRACE_SECONDS + 1)
    assert score == 60 and level_of(score) == "warning"
    assert [(p.kind, p.fix) for p in problems] == [("stale_wait", fix)]
    # within the grace a once-a-minute tick may still come: not stuck; no deadline at all: never stuck
    assert score_instance(state, now=deadline + 30) == (100.0, [])
    state["tasks"]["gate"]["waiting"] = {"kind": "approval", "timeout_at": None}
    assert score_instance(state, now=deadline + 10_000) == (100.0, [])


def test_empty_home_is_healthy(states, tmp_path):
    report = summarize([], now=now(states))
    assert (report["status"], report["score"], report["workflows"], report["alerts"]) == ("healthy", 100.0, [], [])
    assert health.health_report(Home(tmp_path / "nowhere"), now=now(states))["score"] == 100.0


def _records(states, *statuses: str, template: str = "tpl") -> list[Record]:
    """Records newest first, one per status: failed runs have one failed task."""
    out = []
    for n, status in enumerate(statuses):
        task = states.task("failed", attempts=[(0, 1, "failed")], error="boom") if status == "failed" else states.task(attempts=[(0, 1, "completed")])
        out.append(Record(states.instance(f"{template}-{len(statuses) - n:02d}", status, {"a": task}, end=1, template=template)))
    return out


def test_a_failure_nobody_fixed_sets_the_template_level(states):
    report = summarize(_records(states, "failed", "completed", "completed"), now=now(states))
    (workflow,) = report["workflows"]
    assert workflow["score"] == 35 and workflow["status"] == "critical" and report["status"] == "critical"
    assert workflow["success_rate"] == pytest.approx(2 / 3, abs=1e-3)
    (alert,) = report["alerts"]
    assert alert["level"] == "critical" and alert["kind"] == "failed"
    assert alert["instance"] == "tpl-03" and alert["fix"] == "workflow-cli debug tpl-03"


def test_a_failure_superseded_by_a_success_only_lowers_the_mean(states):
    report = summarize(_records(states, "completed", "failed"), now=now(states))
    (workflow,) = report["workflows"]
    assert workflow["score"] == pytest.approx((100 + 0.9 * 35) / 1.9, abs=0.05)
    assert report["alerts"] == []
    assert report["instances"][1]["level"] == "critical" and report["instances"][1]["problems"]


def test_home_status_is_the_worst_template(states):
    records = _records(states, "completed", template="good") + _records(states, "failed", template="bad")
    report = summarize(records, now=now(states))
    assert [(w["template"], w["status"]) for w in report["workflows"]] == [("bad", "critical"), ("good", "healthy")]
    assert report["status"] == "critical" and report["score"] == 35


def test_watch_stops_after_max_rounds_or_ctrl_c():
    calls, sleeps = [], []

    def check():
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return {"round": len(calls)}

    assert health.watch(check, interval=5, max_rounds=2, sleep=sleeps.append) == {"round": 2}
    assert sleeps == [5]
    calls.clear()
    assert health.watch(check, interval=1, sleep=lambda s: None) == {"round": 2}


# ----- real instances ---------------------------------------------------------------------------------


def test_failing_run_makes_health_critical_and_writes_monitoring(mcli, run_doc, mixed_doc, home):
    iid = run_doc(mixed_doc, exit_code=1)
    result = mcli("health", "--json")
    assert result.exit_code == 1, result
    report = result.json()
    assert report["status"] == "critical" and report["score"] < 50
    (entry,) = report["instances"]
    assert entry["id"] == iid and entry["level"] == "critical"
    assert any("build" in p for p in entry["problems"])
    assert [(a["instance"], a["fix"]) for a in report["alerts"]] == [(iid, f"workflow-cli debug {iid}")]
    monitoring = home / "monitoring"
    stamped = [p for p in monitoring.glob("health-*.json") if p.name != "health-latest.json"]
    assert len(stamped) == 1
    assert json.loads((monitoring / "health-latest.json").read_text()) == report == json.loads(stamped[0].read_text())
    assert json.loads((monitoring / "alerts.json").read_text())["alerts"] == report["alerts"]
    human = mcli("health")
    assert human.exit_code == 1 and "critical" in human.stdout and f"workflow-cli debug {iid}" in human.stdout


def test_alerts_lists_fixes_and_exits_1_when_one_is_critical(mcli, run_doc, mixed_doc, home):
    iid = run_doc(mixed_doc, exit_code=1)
    result = mcli("alerts", "--json")
    assert result.exit_code == 1, result  # as health does
    alerts = result.json()
    assert isinstance(alerts, list) and alerts[0]["level"] == "critical"
    assert set(alerts[0]) >= {"level", "instance", "template", "message", "fix"}
    assert json.loads((home / "monitoring" / "alerts.json").read_text())["alerts"] == alerts
    assert not list((home / "monitoring").glob("health-*.json"))
    human = mcli("alerts")
    assert human.exit_code == 1 and f"workflow-cli debug {iid}" in human.stdout


def test_healthy_home_exits_0(mcli, run_doc, ok_doc):
    run_doc(ok_doc)
    run_doc(ok_doc)
    result = mcli("health", "--json")
    assert result.exit_code == 0, result
    report = result.json()
    assert report["status"] == "healthy" and report["score"] == 100
    assert report["workflows"][0]["instances"] == 2 and report["workflows"][0]["success_rate"] == 1.0
    quiet = mcli("alerts")
    assert quiet.exit_code == 0 and quiet.stdout.strip() == "no alerts"


def test_empty_home_cli(mcli):
    result = mcli("health", "--json")
    assert result.exit_code == 0, result
    assert (result.json()["status"], result.json()["score"]) == ("healthy", 100)


def test_watch_prints_one_json_line_per_round(mcli, run_doc, mixed_doc):
    run_doc(mixed_doc, exit_code=1)
    result = mcli("health", "--watch", "--interval", "0", "--max-rounds", "2", "--json")
    assert result.exit_code == 1, result
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["status"] == "critical" for line in lines)


def test_dead_runner_and_stale_approval_in_real_instances(mcli, run_doc, write, home):
    from workflow_cli.store.events import EventLog

    gate = {"version": "2.0.0", "name": "Gate", "tasks": {
        "gate": {"action": "approval_gate", "parameters": {"approvers": ["alice"], "timeout_seconds": 3600}}}}
    waiting_id = run_doc(gate, name="gate.json", exit_code=3)
    crashed_id = mcli("create", write("fine.json", {"version": "2.0.0", "name": "F", "tasks": {"a": {"action": "noop"}}}), "-q").stdout.strip()
    with EventLog(home / "instances" / crashed_id / "events.jsonl") as log:  # a runner that started, then died
        log.append("workflow.started", {})
    report = health.health_report(Home(home), now=time.time() + 7200)
    fixes = {a["instance"]: (a["level"], a["fix"]) for a in report["alerts"]}
    assert fixes[crashed_id] == ("critical", f"workflow-cli resume {crashed_id}")
    assert fixes[waiting_id] == ("warning", f"workflow-cli approve {waiting_id} gate")
    assert health.health_report(Home(home))["alerts"][0]["instance"] == crashed_id  # the approval is not late yet


def test_corrupt_instance_is_reported_not_fatal(mcli, run_doc, ok_doc, home):
    iid = run_doc(ok_doc)
    (home / "instances" / iid / "state.json").write_text("{not json")
    result = mcli("health", "--json")
    assert result.exit_code == 1, result
    (alert,) = result.json()["alerts"]
    assert alert["instance"] == iid and alert["kind"] == "corrupt" and alert["level"] == "critical"


def test_collect_window_and_expected_durations(mcli, run_doc, ok_doc, home, monkeypatch):
    ids = [run_doc(ok_doc) for _ in range(3)]
    pending = mcli("create", Path(home).parent / "inputs" / "doc.json", "-q").stdout.strip()
    records = health.collect(Home(home))
    assert [r.state["id"] for r in records] == [pending, *reversed(ids)]
    assert records[-1].expected_seconds is None  # the oldest run has no earlier one to compare with
    assert records[-2].expected_seconds == pytest.approx(health.run_seconds(records[-1].state, 0), abs=1e-6)
    monkeypatch.setattr(health, "RECENT_PER_TEMPLATE", 2)
    assert [r.state["id"] for r in health.collect(Home(home))] == [pending, ids[2]]  # unfinished ones always count


def test_declared_expected_duration_wins(run_doc, ok_doc, home):
    run_doc({**ok_doc, "expected_duration_seconds": 42})
    (record,) = health.collect(Home(home))
    assert record.expected_seconds == 42


def test_a_run_queued_too_long_is_a_warning(states):
    from workflow_cli.clock import utc_iso

    queued = {"id": "q1", "status": "queued", "tasks": {}, "created_at": utc_iso(states.T0), "started_at": None,
              "finished_at": None, "queue": {"priority": 0, "queued_at": utc_iso(states.T0)}}
    score, problems = score_instance(queued, now=now(states))
    assert [p.kind for p in problems] == ["queued_long"] and level_of(score) == "warning"
    assert "serve" in problems[0].fix
    fresh = score_instance(queued, now=states.T0 + 60)
    assert fresh == (100.0, [])


def test_median_of_durations_is_the_statistics_median() -> None:
    """The report's ``median_duration_seconds`` (a local median, to spare health the statistics import)."""
    import statistics

    from hypothesis import given, strategies as st

    from workflow_cli.monitor.health import median

    @given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=50))
    def check(values: list[float]) -> None:
        assert median(values) == statistics.median(values)

    check()
