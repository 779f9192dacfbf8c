"""Damaged state is detected and reported with its path, never silently used; a torn log tail is recovered (SPEC 7.1, 16)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

LONG = {"version": "2.0.0", "name": "long", "tasks": {
    "long": {"action": "command", "parameters": {"command": "sleep 30"}},
}}


def assert_reported(cli: Any, res: Any, path: Path, code: int = 1) -> None:
    """One clear error naming ``path``: the expected exit code, no traceback, not an internal error."""
    assert res.returncode == code, (res.returncode, res.stderr)
    assert cli.no_traceback(res.stderr), res.stderr
    assert str(path) in res.stderr, res.stderr
    assert cli.internal_errors() == [], f"reported as an internal error, not as damaged state: {res.stderr.strip()}"


# -- state.json ------------------------------------------------------------------------------------------

def _half(real: bytes) -> bytes:
    return real[: len(real) // 2]


SNAPSHOT_DAMAGE = {
    "garbage": lambda real: b"\x00\x17garbage{{{ not json",
    "truncated": _half,
    "empty": lambda real: b"",
    "not-an-object": lambda real: b"[1, 2, 3]\n",
    "no-last-seq": lambda real: json.dumps({k: v for k, v in json.loads(real).items() if k != "last_seq"}).encode(),
}


@pytest.mark.parametrize("damage", sorted(SNAPSHOT_DAMAGE))
def test_a_corrupt_state_snapshot_is_reported_not_used(cli: Any, crashed: str, damage: str) -> None:
    snapshot = cli.instance_dir(crashed) / "state.json"
    snapshot.write_bytes(SNAPSHOT_DAMAGE[damage](snapshot.read_bytes()))
    events_before = cli.events_path(crashed).read_bytes()

    as_json = cli.run("status", "--json", crashed)
    assert_reported(cli, as_json, snapshot)
    assert str(snapshot) in json.loads(as_json.stdout)["error"]["message"]
    assert_reported(cli, cli.run("resume", crashed), snapshot)
    assert cli.events_path(crashed).read_bytes() == events_before, "a refused command still wrote to the log"


def test_every_command_refuses_a_corrupt_state_snapshot(cli: Any, crashed: str) -> None:
    snapshot = cli.instance_dir(crashed) / "state.json"
    snapshot.write_bytes(b"garbage")
    for args in (("status", crashed), ("list",), ("stop", crashed), ("rollback", crashed, "--checkpoint", "start")):
        assert_reported(cli, cli.run(*args), snapshot)
    assert snapshot.read_bytes() == b"garbage"


def test_a_deleted_state_snapshot_is_rebuilt_from_the_event_log(cli: Any, crashed: str) -> None:
    """state.json is only a cache of the event log: without it nothing is lost."""
    instance = crashed
    before = cli.status(instance)
    (cli.instance_dir(instance) / "state.json").unlink()
    after = cli.status(instance)
    assert {k: after[k] for k in ("status", "tasks", "checkpoints")} == {k: before[k] for k in ("status", "tasks", "checkpoints")}
    res = cli.run("resume", instance)
    assert res.returncode == 0, res.stderr
    assert {t["status"] for t in cli.status(instance)["tasks"].values()} == {"completed"}


# -- events.jsonl ------------------------------------------------------------------------------------------

TORN_TAILS = {
    "half-a-line": lambda seq: b'{"v":1,"seq":%d,"time":"2026-11-21T10:00:00.000000Z","ty' % seq,
    "whole-json-no-newline": lambda seq: json.dumps({"v": 1, "seq": seq, "time": "2026-11-21T10:00:00.000000Z",
                                                     "type": "task.completed", "actor": "x",
                                                     "data": {"task": "slow", "attempt": 1, "outputs": {}}}).encode(),
}


@pytest.mark.parametrize("tail", sorted(TORN_TAILS))
def test_a_torn_last_event_line_is_recovered_silently(cli: Any, crashed: str, tail: str) -> None:
    instance = crashed
    log = cli.events_path(instance)
    good = log.read_bytes()
    last_seq = cli.events(instance)[-1]["seq"]
    log.write_bytes(good + TORN_TAILS[tail](last_seq + 1))

    status = cli.run("status", "--json", instance)
    assert status.returncode == 0 and status.stderr == "", status.stderr
    doc = json.loads(status.stdout)
    assert doc["display_status"] == "running (no runner)"
    assert doc["tasks"]["slow"]["status"] == "running", "the torn (never durable) completion was used"

    res = cli.run("resume", instance)
    assert res.returncode == 0, res.stderr
    assert cli.no_traceback(res.stderr)
    raw = log.read_bytes()
    assert raw.startswith(good) and raw.endswith(b"\n")
    lines = raw.splitlines()
    events = [json.loads(line) for line in lines]  # every line is whole again
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    slow_runs = [e["data"]["attempt"] for e in events if e["type"] == "task.started" and e["data"]["task"] == "slow"]
    assert slow_runs == [1, 2], "the interrupted attempt runs again"
    assert cli.status(instance)["status"] == "completed"


MIDDLE_DAMAGE = {
    "garbage": lambda line: b"this is not an event\n",
    "nul-bytes": lambda line: b"\x00" * (len(line) - 1) + b"\n",
    "cut-short": lambda line: line[: len(line) // 2] + b"\n",
    "wrong-seq": lambda line: json.dumps({**json.loads(line), "seq": 42}).encode() + b"\n",
}


@pytest.mark.parametrize("damage", sorted(MIDDLE_DAMAGE))
def test_garbage_in_a_middle_event_line_is_reported_with_the_path(cli: Any, crashed: str, damage: str) -> None:
    log = _damage_line_3(cli, crashed, MIDDLE_DAMAGE[damage])
    damaged = log.read_bytes()
    status = cli.run("status", crashed)
    assert_reported(cli, status, log)
    assert f"{log}:3:" in status.stderr, "the line number is named"
    assert_reported(cli, cli.run("resume", crashed), log)
    assert log.read_bytes() == damaged, "a command cut or rewrote a damaged log instead of refusing it"


def test_every_command_refuses_a_damaged_event_log(cli: Any, crashed: str) -> None:
    log = _damage_line_3(cli, crashed, MIDDLE_DAMAGE["garbage"])
    damaged = log.read_bytes()
    for args in (("status", "--json", crashed), ("list",), ("stop", crashed), ("rollback", crashed, "--checkpoint", "start")):
        assert_reported(cli, cli.run(*args), log)
    assert log.read_bytes() == damaged


def _damage_line_3(cli: Any, instance: str, damage: Any) -> Path:
    log = cli.events_path(instance)
    lines = log.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 5
    lines[2] = damage(lines[2])
    log.write_bytes(b"".join(lines))
    return log


# -- locks and missing files -------------------------------------------------------------------------------

def test_start_and_resume_while_a_live_runner_holds_the_instance_exit_5(cli: Any) -> None:
    instance = cli.create(cli.write_document("long.json", LONG))
    runner = cli.spawn("start", instance)
    try:
        cli.wait_until(lambda: cli.logged(instance, "task.started", "long"), timeout=20, what="the long task to start")
        for args in (("start", instance), ("resume", instance), ("start", "--detach", instance), ("resume", "--detach", instance)):
            res = cli.run(*args)
            assert res.returncode == 5, (args, res.returncode, res.stderr)
            assert cli.no_traceback(res.stderr)
        doc = cli.status(instance)
        assert doc["runner_alive"] is True and doc["display_status"] == "running"
        starts = [e for e in cli.events(instance) if e["type"] in ("workflow.started", "workflow.resumed")]
        assert len(starts) == 1, "a refused start or resume wrote to the log"
        assert cli.run("cancel", instance).returncode == 0
        assert runner.wait(timeout=20) == 7
    finally:
        if runner.proc.poll() is None:
            runner.kill_group()


@pytest.mark.parametrize("missing", ["workflow.json", "events.jsonl"])
@pytest.mark.parametrize("situation", ["created", "crashed"])
def test_a_deleted_instance_file_is_a_clear_error_naming_it(cli: Any, crashed: str, missing: str, situation: str) -> None:
    if situation == "created":
        instance, verb = cli.create(cli.write_document("other.json", LONG)), "start"
    else:
        instance, verb = crashed, "resume"
    gone = cli.instance_dir(instance) / missing
    gone.unlink()
    res = cli.run(verb, instance)
    assert res.returncode in (1, 4), (res.returncode, res.stderr)
    assert cli.no_traceback(res.stderr)
    assert str(gone) in res.stderr, res.stderr
    assert cli.internal_errors() == [], f"a missing state file is reported as an internal error: {res.stderr.strip()}"
