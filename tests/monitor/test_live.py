"""``monitor``: the refresh loop (fake clock), its stop rules and exit codes, and the plain/JSON streams on real runs."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from workflow_cli.clock import FakeClock
from workflow_cli.store.events import EventLog
from workflow_cli.store.instances import InstancePaths, load_state

LINE = re.compile(r"^(?P<time>\S+) (?P<who>\S+) (?P<old>\S+) -> (?P<new>\S+)")


def _doc(tasks: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"version": "2.0.0", "name": top.pop("name", "monitor test"), **top, "tasks": tasks}


def _sleep_task(seconds: float, *deps: str) -> dict[str, Any]:
    return {"action": "command", "parameters": {"command": f"sleep {seconds}"}, "dependencies": list(deps)}


def _created(cli: Any, write: Any, home: Path, doc: dict[str, Any]) -> InstancePaths:
    """A created instance (no runner) whose events a test writes itself."""
    result = cli("create", write("doc.json", doc), "-q")
    assert result.exit_code == 0, result
    return InstancePaths(home / "instances" / result.stdout.strip().splitlines()[-1])


class ScriptedClock(FakeClock):
    """A fake clock whose every sleep appends the next batch of events, as a runner would meanwhile."""

    def __init__(self, log: EventLog, batches: list[list[tuple[str, dict[str, Any]]]]) -> None:
        super().__init__()
        self.log, self.batches, self.sleeps = log, list(batches), 0

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.sleeps += 1
        if self.batches:
            self.log.append_many(self.batches.pop(0))


@pytest.fixture
def two_tasks(cli: Any, write: Any, home: Path) -> InstancePaths:
    return _created(cli, write, home, _doc({"a": {"action": "noop"}, "b": {"action": "noop", "dependencies": ["a"]}}))


def test_every_transition_is_reported_even_between_two_refreshes(two_tasks: InstancePaths) -> None:
    from workflow_cli.monitor.live import Watcher

    with EventLog(two_tasks.events) as log:
        clock = ScriptedClock(log, [
            [("workflow.started", {}), ("task.started", {"task": "a", "attempt": 1})],
            [("task.completed", {"task": "a", "attempt": 1}), ("task.started", {"task": "b", "attempt": 1}),
             ("task.retrying", {"task": "b", "attempt": 1, "error": "boom", "due": None})],
            [],
            [("task.started", {"task": "b", "attempt": 2}), ("task.completed", {"task": "b", "attempt": 2}),
             ("workflow.completed", {})],
        ])
        watcher = Watcher(two_tasks, interval=0.5, clock=clock, alive=lambda: True)
        frames = list(watcher.frames())
    changes = [(c.task, c.old, c.new) for f in frames for c in f.changes]
    assert changes == [
        (None, "created", "running"), ("a", "pending", "running"),
        ("a", "running", "completed"), ("b", "pending", "running"), ("b", "running", "pending"),
        ("b", "pending", "running"), ("b", "running", "completed"), (None, "running", "completed"),
    ]
    assert watcher.stop_reason == "finished"
    assert len(frames) == 5 and clock.sleeps == 4
    assert frames[-1].state == load_state(two_tasks)
    retry = next(c for f in frames for c in f.changes if c.new == "pending")
    assert retry.detail == "boom" and retry.attempt == 1


def test_duration_and_iteration_caps(two_tasks: InstancePaths) -> None:
    from workflow_cli.cli.commands.monitor import monitor_exit_code
    from workflow_cli.monitor.live import Watcher

    with EventLog(two_tasks.events) as log:
        log.append("workflow.started", {})
    timed = Watcher(two_tasks, interval=0.25, duration=1.0, clock=FakeClock(), alive=lambda: True)
    frames = list(timed.frames())
    assert timed.stop_reason == "duration" and len(frames) == 5
    assert monitor_exit_code(frames[-1].state, True) == 0  # still running when the duration ends
    capped = Watcher(two_tasks, interval=0.25, max_iterations=3, clock=FakeClock(), alive=lambda: True)
    assert len(list(capped.frames())) == 4 and capped.stop_reason == "iterations"


def test_no_runner_waits_for_one_to_appear_then_gives_up(two_tasks: InstancePaths) -> None:
    from workflow_cli.monitor.live import Watcher

    clock = FakeClock()
    watcher = Watcher(two_tasks, interval=0.5, settle=2.0, clock=clock, alive=lambda: False)
    frames = list(watcher.frames())
    assert watcher.stop_reason == "no_runner" and len(frames) == 5  # 2 s of grace for a --detach runner to start


def test_a_runner_that_goes_away_ends_watching_at_once(two_tasks: InstancePaths) -> None:
    from workflow_cli.monitor.live import Watcher

    probes = iter([True, True, False])
    with EventLog(two_tasks.events) as log:
        clock = ScriptedClock(log, [[("workflow.started", {})], [("workflow.paused", {"reason": "stop requested"})]])
        watcher = Watcher(two_tasks, interval=0.5, settle=60, clock=clock, alive=lambda: next(probes))
        frames = list(watcher.frames())
    assert watcher.stop_reason == "stopped" and len(frames) == 3
    assert frames[-1].changes[-1].new == "paused" and frames[-1].changes[-1].detail == "stop requested"


@pytest.mark.parametrize(("status", "kind", "alive", "code"), [
    ("completed", None, False, 0), ("failed", None, False, 1), ("failed", "deadline", False, 8),
    ("waiting", None, False, 3), ("paused", None, False, 6), ("cancelled", None, False, 7),
    ("running", None, True, 0), ("running", None, False, 1), ("created", None, False, 1),
])
def test_exit_code_of_the_state_watching_ended_at(status: str, kind: str | None, alive: bool, code: int) -> None:
    from workflow_cli.cli.commands.monitor import monitor_exit_code

    assert monitor_exit_code({"status": status, "error_kind": kind}, alive) == code


def test_plain_lines_follow_a_detached_run_to_its_end(sh: Any, write: Any, tmp_path: Path) -> None:
    # `a` waits for a gate opened once monitor has printed its first lines, so its completion is a change
    # that monitor sees (with a plain sleep it could end before monitor started: no "running -> completed").
    gate = tmp_path / "gate"
    gated = {"action": "command", "parameters": {"command": f"while [ ! -e {gate} ]; do sleep 0.05; done"}}
    doc = write("two.json", _doc({"a": gated, "b": _sleep_task(0.3, "a")}))
    started = sh("run", "--detach", "-q", doc)
    assert started.exit_code == 0, started
    iid = started.stdout.strip().splitlines()[-1]
    import subprocess

    script = Path(sys.executable).with_name("workflow-cli")
    proc = subprocess.Popen([str(script), "monitor", iid, "--interval", "0.1"], env=sh.env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    gate.write_text("")
    out = first + proc.stdout.read()
    assert proc.wait(timeout=60) == 0, out
    changes = [m.groupdict() for m in map(LINE.match, out.splitlines()) if m]
    reached = {(c["who"], c["new"]) for c in changes}
    assert {("a", "completed"), ("b", "completed"), ("[instance]", "completed")} <= reached
    assert changes[-1]["who"] == "[instance]"
    again = sh("monitor", iid, "--json")  # a finished instance: one start line, one end line, at once
    lines = [json.loads(line) for line in again.stdout.splitlines()]
    assert again.exit_code == 0 and [line["kind"] for line in lines] == ["start", "end"]
    assert lines[0]["new"] == "completed" and lines[-1] == {**lines[-1], "status": "completed", "exit_code": 0, "reason": "finished"}


def test_json_lines_and_exit_codes_on_real_instances(cli: Any, write: Any) -> None:
    failing = write("fail.json", _doc({"x": {"action": "command", "parameters": {"command": "exit 4"}}}))
    assert cli("run", failing).exit_code == 1
    iid = cli("list", "--json").json()[0]["id"]
    result = cli("monitor", iid, "--json")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 1 and lines[-1]["status"] == "failed" and lines[-1]["exit_code"] == 1
    gate = write("gate.json", _doc({"gate": {"action": "approval_gate", "parameters": {"approvers": ["ann"]}}}))
    assert cli("run", gate).exit_code == 3
    waiting = cli("list", "--json").json()[0]["id"]
    result = cli("monitor", waiting, "--json", "--interval", "0.5")
    assert result.exit_code == 3 and json.loads(result.stdout.splitlines()[-1])["reason"] == "stopped"
    assert cli("cancel", waiting).exit_code == 0
    assert cli("monitor", waiting, "--json").exit_code == 7
    assert cli("monitor", "nope-no-such-id").exit_code == 4


def test_live_view_lists_hot_tasks_first_within_its_rows(two_tasks: InstancePaths) -> None:
    from rich.console import Console

    from workflow_cli.cli.live_view import LiveView
    from workflow_cli.monitor.live import Frame

    state = load_state(two_tasks)
    state["status"] = "running"
    state["tasks"] = {f"t{i:04d}": {**state["tasks"]["a"], "status": "completed", "finished_at": f"2026-01-01T00:00:{i % 60:02d}Z"}
                      for i in range(200)}
    state["tasks"]["t0150"] = {**state["tasks"]["t0150"], "status": "running", "started_at": "2026-01-01T00:00:00Z", "attempts": 1}
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(LiveView(0.5, max_rows=10).render(Frame(state, True, [], 1.8e9)))
    text = out.getvalue()
    assert "t0150" in text and len([line for line in text.splitlines() if re.search(r"\bt\d{4}\b", line)]) == 10
