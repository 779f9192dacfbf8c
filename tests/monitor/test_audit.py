"""``audit``: the stored events with --json, --since as an ISO time or a duration, one human line per event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workflow_cli.store.events import read_events

DOC = {"version": "2.0.0", "name": "Audited",
       "parameters": {"token": {"type": "string", "secret": True, "default": "hush-hush"}},
       "tasks": {"a": {"action": "command", "parameters": {"command": "echo {{ params.token }}"}},
                 "b": {"action": "noop", "dependencies": ["a"]}}}


@pytest.fixture
def finished(cli: Any, write: Any, home: Path) -> tuple[str, Path]:
    """A completed instance and its event log."""
    assert cli("run", write("doc.json", DOC)).exit_code == 0
    iid = cli("list", "--json").json()[0]["id"]
    return iid, home / "instances" / iid / "events.jsonl"


def test_json_is_the_event_log_as_stored(cli: Any, finished: tuple[str, Path]) -> None:
    iid, log = finished
    result = cli("audit", iid[:12], "--json")
    assert result.exit_code == 0, result
    assert result.json() == read_events(log)
    types = [e["type"] for e in result.json()]
    assert types[0] == "workflow.created" and types[-1] == "workflow.completed" and "task.completed" in types
    assert "hush-hush" not in result.stdout


def test_since_accepts_an_iso_time_or_a_duration(cli: Any, finished: tuple[str, Path]) -> None:
    iid, log = finished
    events = read_events(log)
    middle = events[len(events) // 2]["time"]
    later = cli("audit", iid, "--since", middle, "--json").json()
    assert later == [e for e in events if e["time"] >= middle] and 0 < len(later) < len(events)
    assert cli("audit", iid, "--since", "1h", "--json").json() == events
    assert cli("audit", iid, "--since", "2999-01-01", "--json").json() == []
    assert cli("audit", iid, "--since", "10m", "--json", env={"WORKFLOW_CLI_TIME_OFFSET": "3600"}).json() == []
    for bad in ("yesterday", "10", "5x"):
        assert cli("audit", iid, "--since", bad, "--json").exit_code == 2


def test_human_lines_one_per_event(cli: Any, finished: tuple[str, Path]) -> None:
    iid, log = finished
    events = read_events(log)
    result = cli("audit", iid)
    lines = result.stdout.splitlines()
    assert result.exit_code == 0 and len(lines) == len(events)
    for line, event in zip(lines, events):
        assert line.split()[:3] == [event["time"], event["type"], event["actor"]]
    assert "hush-hush" not in result.stdout
    assert cli("audit", "no-such-instance").exit_code == 4


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1w", 604800), ("1h30m", 5400), ("1.5h", 5400),
    ("", None), ("10", None), ("m", None), ("2026-11-21", None),
])
def test_parse_duration(text: str, seconds: float | None) -> None:
    from workflow_cli.monitor.audit import parse_duration

    assert parse_duration(text) == seconds


def test_summary_is_one_short_line() -> None:
    from workflow_cli.monitor.audit import DETAILS_WIDTH, summarize

    event = {"type": "task.waiting", "data": {"attempt": 1, "task": "gate", "waiting": {"kind": "signal", "name": "go"}}}
    assert summarize(event) == "task=gate attempt=1 waiting for signal 'go'"
    huge = {"type": "task.completed", "data": {"task": "t", "outputs": {f"k{i}": "v" * 50 for i in range(100)}}}
    text = summarize(huge)
    assert "\n" not in text and len(text) <= DETAILS_WIDTH and text.startswith("task=t outputs={k0, k1")
