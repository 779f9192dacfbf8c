"""The journal's group commit: what reaches the disk, the subscriber and the checkpoint index, and when."""

from __future__ import annotations

import json
from typing import Any

from workflow_cli.clock import FakeClock
from workflow_cli.engine.journal import Journal
from workflow_cli.store.events import read_events

Engine = Any  # the ``engine`` fixture of conftest.py


def journal_for(engine: Engine, seen: list[dict[str, Any]]) -> tuple[Journal, str, FakeClock]:
    iid = engine.create({"a": {"action": "noop"}, "b": {"action": "noop"}})
    clock = FakeClock()
    journal = Journal(engine.paths(iid), engine.home.checkpoints / iid, engine.state(iid), clock,
                      sink=lambda e: seen.append(e))
    return journal, iid, clock


def test_commit_is_due_after_the_interval_and_hands_events_on_in_order(engine: Engine) -> None:
    seen: list[dict[str, Any]] = []
    journal, iid, clock = journal_for(engine, seen)
    journal.record("workflow.started", {})
    assert journal.begin_commit(0.02) is None  # not due yet
    clock.advance(0.05)
    upto = journal.begin_commit(0.02)
    assert upto == 2 and journal.dirty  # written, not yet durable: nobody has been told
    journal.record("task.started", {"task": "a", "attempt": 1})  # recorded while the fsync runs
    journal.sync_unlocked()
    journal.end_commit(upto)
    assert [e["seq"] for e in seen] == [2]
    assert journal.dirty  # the later event waits for the next commit
    journal.flush()
    assert [e["seq"] for e in seen] == [2, 3]
    assert [e["seq"] for e in read_events(engine.paths(iid).events)] == [1, 2, 3]
    journal.close()


def test_a_flush_during_the_unlocked_fsync_hands_everything_on_once(engine: Engine) -> None:
    seen: list[dict[str, Any]] = []
    journal, iid, clock = journal_for(engine, seen)
    journal.record("workflow.started", {})
    journal.record("task.started", {"task": "a", "attempt": 1})
    clock.advance(1)
    upto = journal.begin_commit(0.02)
    journal.record("task.completed", {"task": "a", "attempt": 1, "outputs": {}})
    journal.record("checkpoint.created", {"id": "cp-0001", "task": "a", "completed": 1, "vars": {}})
    journal.flush()  # a worker that needs its start durable now: covers the batch in flight too
    journal.sync_unlocked()
    journal.end_commit(upto)  # nothing left to hand on
    assert [e["seq"] for e in seen] == [2, 3, 4, 5]
    index = (engine.home.checkpoints / iid / "checkpoints.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in index] == ["cp-0001"]
    journal.close()


def test_checkpoints_are_indexed_only_once_durable(engine: Engine) -> None:
    seen: list[dict[str, Any]] = []
    journal, iid, clock = journal_for(engine, seen)
    index = engine.home.checkpoints / iid / "checkpoints.jsonl"
    journal.record("task.started", {"task": "a", "attempt": 1})
    journal.record("task.completed", {"task": "a", "attempt": 1, "outputs": {}})
    clock.advance(1)
    upto = journal.begin_commit(0.02)
    journal.record("checkpoint.created", {"id": "cp-0001", "task": "a", "completed": 1, "vars": {}})
    journal.sync_unlocked()
    journal.end_commit(upto)
    assert index.read_text() == ""  # its event was recorded after the commit began
    journal.flush()
    assert [json.loads(line)["task"] for line in index.read_text().splitlines()] == ["a"]
    journal.close()
