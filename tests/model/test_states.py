"""The lifecycle enums and the one transition table every status change goes through."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import orjson
import pytest

from workflow_cli.model.states import (
    INSTANCE_TRANSITIONS,
    ITEM_TRANSITIONS,
    TASK_TRANSITIONS,
    EventType,
    IllegalTransitionError,
    InstanceState,
    TaskState,
)
from workflow_cli.store.state import HANDLERS, apply_event, new_state

PACKAGE = Path(__file__).resolve().parents[2] / "workflow_cli"


def _state(*tasks: str) -> dict:
    return new_state({"id": "wf-1", "name": "t"}, list(tasks))


def _event(seq: int, etype: str, **data: object) -> dict:
    return {"v": 1, "seq": seq, "time": "2026-01-01T00:00:00.000000Z", "type": etype, "actor": "me", "data": data}


def test_members_behave_as_the_spec_strings_in_files_and_lookups() -> None:
    assert TaskState.RUNNING == "running" and f"{TaskState.RUNNING}" == "running" and str(EventType.TASK_FAILED) == "task.failed"
    assert {"task.failed": 1}[EventType.TASK_FAILED] == 1 and {EventType.TASK_FAILED: 2}["task.failed"] == 2
    assert json.dumps({"s": InstanceState.PAUSED}) == '{"s": "paused"}'
    assert orjson.loads(orjson.dumps({"t": EventType.WORKFLOW_WAITING})) == {"t": "workflow.waiting"}
    assert pickle.loads(pickle.dumps(TaskState.SKIPPED)) is TaskState.SKIPPED


def test_every_event_type_the_code_records_is_an_event_type() -> None:
    """Events recorded by name (a string) anywhere in the package must be members (none may be missing)."""
    values = {e.value for e in EventType}
    recorded: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        recorded |= set(re.findall(r"\b(?:record|append)\(\s*\"([a-z_]+\.[a-z_]+)\"", text))
        recorded |= {f"{m[0].lower()}.{m[1].lower()}" for m in re.findall(r"EventType\.([A-Z]+)_([A-Z_]+)\b", text)}
    assert recorded, "the scan found nothing: the pattern is out of date"
    assert recorded <= values, sorted(recorded - values)


@pytest.mark.parametrize("table", [TASK_TRANSITIONS, ITEM_TRANSITIONS])
def test_the_task_tables_cover_every_state_and_name_only_states(table: dict) -> None:
    assert set(table) == set(TaskState)
    assert all(targets <= set(TaskState) for targets in table.values())


def test_the_instance_table_covers_every_state_and_finished_runs_only_reopen() -> None:
    assert set(INSTANCE_TRANSITIONS) == set(InstanceState)
    for state in (InstanceState.COMPLETED, InstanceState.FAILED, InstanceState.CANCELLED):
        assert state.terminal and INSTANCE_TRANSITIONS[state] == {InstanceState.RUNNING, InstanceState.PAUSED}
    assert InstanceState.CREATED not in set().union(*INSTANCE_TRANSITIONS.values())


def test_a_normal_life_folds_without_complaint() -> None:
    state = _state("a")
    for seq, (etype, data) in enumerate([
        (EventType.WORKFLOW_STARTED, {}), (EventType.TASK_STARTED, {"task": "a", "attempt": 1}),
        (EventType.TASK_RETRYING, {"task": "a", "attempt": 1, "error": "boom"}), (EventType.TASK_STARTED, {"task": "a", "attempt": 2}),
        (EventType.TASK_WAITING, {"task": "a", "waiting": {"kind": "approval"}}), (EventType.TASK_COMPLETED, {"task": "a", "outputs": {}}),
        (EventType.WORKFLOW_COMPLETED, {}), (EventType.TASK_RESET, {"task": "a", "reason": "retry"}), (EventType.WORKFLOW_RESUMED, {}),
    ], 1):
        apply_event(state, _event(seq, etype, **data))
    assert state["status"] == InstanceState.RUNNING and state["tasks"]["a"]["status"] == TaskState.PENDING
    assert state["tasks"]["a"]["attempts"] == 2 and state["last_seq"] == 9


@pytest.mark.parametrize("events, message", [
    ([("task.completed", {"task": "a"})], "task a: illegal transition pending -> completed by event 'task.completed'"),
    ([("task.started", {"task": "a"}), ("task.completed", {"task": "a"}), ("task.failed", {"task": "a"})],
     "task a: illegal transition completed -> failed"),
    ([("task.skipped", {"task": "a"}), ("task.waiting", {"task": "a", "waiting": {}})], "task a: illegal transition skipped -> waiting"),
    ([("workflow.completed", {})], "instance wf-1: illegal transition created -> completed"),
    ([("workflow.started", {}), ("workflow.failed", {}), ("workflow.waiting", {})], "instance wf-1: illegal transition failed -> waiting"),
    ([("task.started", {"task": "a", "items": [1, 2], "kept": []}), ("item.completed", {"task": "a", "index": 1})],
     "item 1 of task a: illegal transition pending -> completed"),
])
def test_an_illegal_transition_is_a_clear_error_and_changes_nothing(events: list, message: str) -> None:
    state = _state("a")
    *before, (etype, data) = events
    for seq, (kind, fields) in enumerate(before, 1):
        apply_event(state, _event(seq, kind, **fields))
    snapshot = json.dumps(state, sort_keys=True)
    with pytest.raises(IllegalTransitionError, match=re.escape(message)):
        apply_event(state, _event(len(before) + 1, etype, **data))
    assert json.dumps(state, sort_keys=True) == snapshot


def test_events_that_change_no_status_have_no_handler_and_still_advance_the_sequence() -> None:
    state = _state("a")
    for seq, etype in enumerate((EventType.TASK_WARNING, EventType.APPROVAL_REQUIRED, EventType.REQUEST_RECEIVED), 1):
        assert etype not in HANDLERS
        apply_event(state, _event(seq, etype, task="a"))
    assert state["last_seq"] == 3 and state["tasks"]["a"]["status"] == TaskState.PENDING
