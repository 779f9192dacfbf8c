"""The pure migration steps and their guards (model/migrations.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from workflow_cli.errors import InvalidInputError, StateError
from workflow_cli.model import migrations as m
from workflow_cli.model.schema import schema_issues
from workflow_cli.model.validate import version_issues
from workflow_cli.ops.document_checks import analyse_document


def _issues(exc: pytest.ExceptionInfo[InvalidInputError]) -> dict[str, str]:
    return {issue.path: issue.message for issue in exc.value.issues}


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0", "1.2.0"])
def test_each_old_document_passes_its_own_schema(old_docs: dict[str, Any], version: str) -> None:
    assert schema_issues(old_docs[version], f"workflow-{version}") == []


@pytest.mark.parametrize("step", m.MIGRATIONS, ids=lambda s: s.name)
def test_every_step_returns_a_new_valid_document_of_its_target(old_docs: dict[str, Any], step: m.Migration) -> None:
    start = old_docs["1.0.0"]
    for earlier in m.MIGRATIONS[: m.MIGRATIONS.index(step)]:
        start = earlier.apply(start)
    frozen = copy.deepcopy(start)
    out = step.apply(start)
    assert start == frozen, "a step must not mutate its input"
    assert out is not start and out["version"] == step.target
    assert schema_issues(out, f"workflow-{step.target}") == []
    tasks = out["tasks"] if isinstance(out["tasks"], list) else list(out["tasks"].values())
    tasks[0]["params" if "params" in tasks[0] else "parameters"]["changed"] = True
    assert start == frozen, "the new document shares nothing with its input"


def test_1_0_0_to_1_1_0_and_1_1_0_to_1_2_0_only_change_the_version(old_docs: dict[str, Any]) -> None:
    doc = old_docs["1.0.0"]
    assert m.v1_0_0_to_v1_1_0(doc) == {**doc, "version": "1.1.0"}
    doc11 = old_docs["1.1.0"]
    assert m.v1_1_0_to_v1_2_0(doc11) == {**doc11, "version": "1.2.0"}


def test_1_2_0_to_2_0_0_renames_and_keys_tasks_by_id(old_docs: dict[str, Any]) -> None:
    out = m.v1_2_0_to_v2_0_0(old_docs["1.2.0"])
    assert list(out["tasks"]) == ["assess", "page_oncall", "queue"]
    assert out["tasks"]["page_oncall"] == {
        "action": "agent_task",
        "agent_id": "builtin.notifier",
        "dependencies": ["assess"],
        "execution_mode": "conditional",
        "conditions": ["tasks.assess.outputs.priority == 'high'"],
        "parameters": {"to": "oncall", "subject": "page", "message": "{{ params.ticket }}"},
    }
    assert out["parameters"] == old_docs["1.2.0"]["parameters"]
    assert list(out) == list(old_docs["1.2.0"]), "top-level key order is kept"


def test_a_task_without_an_agent_gets_no_action() -> None:
    doc = {"version": "1.2.0", "name": "n", "tasks": [{"id": "a", "name": "A", "description": "d"}]}
    assert m.v1_2_0_to_v2_0_0(doc)["tasks"] == {"a": {"name": "A", "description": "d"}}


def test_migrated_1_0_0_equals_the_hand_written_twin_up_to_explicit_actions(old_docs: dict[str, Any], twin: dict[str, Any]) -> None:
    new, steps = m.migrate_document(old_docs["1.0.0"])
    assert steps == ["1.0.0 -> 1.1.0", "1.1.0 -> 1.2.0", "1.2.0 -> 2.0.0"]
    for task in new["tasks"].values():
        task.pop("action", None)
    assert new == twin


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0", "1.2.0"])
def test_migrated_documents_pass_the_full_2_0_0_validation(old_docs: dict[str, Any], version: str) -> None:
    new, steps = m.migrate_document(old_docs[version])
    assert len(steps) == 3 - ["1.0.0", "1.1.0", "1.2.0"].index(version)
    issues, wf = analyse_document(new)
    assert issues == [] and wf is not None


def test_duplicate_ids_are_located_in_the_old_list() -> None:
    doc = {"version": "1.2.0", "name": "n", "tasks": [{"id": t} for t in ("a", "b", "c", "b")]}
    with pytest.raises(InvalidInputError) as exc:
        m.v1_2_0_to_v2_0_0(doc)
    assert _issues(exc) == {"tasks[3].id": "duplicate task id 'b' (first used by tasks[1])"}
    with pytest.raises(InvalidInputError) as exc:
        m.migrate_document({**doc, "version": "1.0.0"})
    assert "tasks[3].id" in _issues(exc)


@pytest.mark.parametrize(
    ("change", "path", "fragment"),
    [
        (lambda d: d["tasks"][2].update(depends_on="check"), "tasks[2].depends_on", "expected array"),
        (lambda d: d["tasks"][1].update(execution_mode="parallel"), "tasks[1].execution_mode", "unknown field"),
        (lambda d: d["tasks"][0].update(agent_id="x"), "tasks[0].agent_id", "unknown field"),
        (lambda d: d["tasks"][3].pop("id"), "tasks[3].id", "missing required field"),
        (lambda d: d["tasks"][0].update(id="1st"), "tasks[0].id", "invalid task id"),
        (lambda d: d["tasks"][2].update(depends_on=["transfrom"]), "tasks[2].depends_on[0]", "unknown task 'transfrom'"),
        (lambda d: d.update(tasks={"a": {}}), "tasks", "expected array"),
        (lambda d: d.update(retries=3), "retries", "unknown field"),
    ],
    ids=["depends-on-type", "mode-before-1.1", "new-field-name", "no-id", "bad-id", "unknown-dependency", "tasks-object", "top-field"],
)
def test_an_old_document_is_checked_against_its_own_schema(old_docs: dict[str, Any], change: Any, path: str, fragment: str) -> None:
    doc = old_docs["1.0.0"]
    change(doc)
    with pytest.raises(InvalidInputError) as exc:
        m.migrate_document(doc)
    assert fragment in _issues(exc).get(path, ""), _issues(exc)


def test_conditions_must_be_one_string_in_1_2_0(old_docs: dict[str, Any]) -> None:
    doc = old_docs["1.2.0"]
    doc["tasks"][1]["conditions"] = ["a list is 2.0.0"]
    with pytest.raises(InvalidInputError) as exc:
        m.migrate_document(doc)
    assert "tasks[1].conditions" in _issues(exc)


def test_newer_and_unknown_versions_are_refused() -> None:
    with pytest.raises(InvalidInputError) as exc:
        m.migrate_document({"version": "3.0.0", "name": "n", "tasks": {}})
    assert _issues(exc) == {"version": "document version 3.0.0 is newer than this tool supports (2.0.0)"}
    with pytest.raises(InvalidInputError) as exc:
        m.migrate_document({"version": "1.5.0", "name": "n", "tasks": []})
    assert exc.value.issues[0].hint == "known versions: 1.0.0, 1.1.0, 1.2.0, 2.0.0"
    assert "unknown document version '1.5.0'" in str(exc.value)


def test_version_helpers(old_docs: dict[str, Any], twin: dict[str, Any]) -> None:
    assert [m.document_version(d) for d in old_docs.values()] == ["1.0.0", "1.1.0", "1.2.0"]
    assert m.document_version({"version": 2}) is None
    assert all(m.needs_migration(d) for d in old_docs.values())
    assert not m.needs_migration(twin) and not m.needs_migration({"version": "3.0.0"})
    assert m.migrate_document(twin) == (twin, [])


def test_validate_refuses_an_unmigrated_old_document_clearly(old_docs: dict[str, Any]) -> None:
    (issue,) = version_issues(old_docs["1.1.0"])
    assert issue.path == "version" and "must be migrated to 2.0.0" in issue.message
    assert version_issues({"version": "banana"})[0].message == "unknown document version 'banana'"


def test_migrate_instance_document(old_docs: dict[str, Any], twin: dict[str, Any]) -> None:
    assert m.migrate_instance_document(twin) is twin, "a current document is returned as is, at no cost"
    assert m.migrate_instance_document(old_docs["1.2.0"])["version"] == "2.0.0"
    with pytest.raises(StateError, match="workflow.json: cannot read"):
        m.migrate_instance_document({"version": "1.0.0", "name": "n", "tasks": "x"}, where="workflow.json")
    with pytest.raises(StateError, match="newer"):
        m.migrate_instance_document({**twin, "version": "9.0.0"})


def test_format_registry_applies_steps_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    steps = (m.FormatStep(1, lambda r: {**r, "two": True}), m.FormatStep(2, lambda r: {**r, "three": True}))
    monkeypatch.setitem(m.FORMAT_STEPS, "state.json", steps)
    record = {"format": 1, "id": "x"}
    out, applied = m.migrate_format("state.json", record, current=3)
    assert out == {"format": 3, "id": "x", "two": True, "three": True} and record == {"format": 1, "id": "x"}
    assert applied == ["state.json format 1 -> 2", "state.json format 2 -> 3"]
    assert m.migrate_format("events.jsonl", {"v": 1}, current=1) == ({"v": 1}, [])


def test_format_registry_refuses_what_it_cannot_read() -> None:
    with pytest.raises(StateError, match="newer release"):
        m.migrate_format("instance.json", {"format": 2}, current=1)
    with pytest.raises(StateError, match="no migration from format 1"):
        m.migrate_format("instance.json", {"format": 1}, current=2)
    with pytest.raises(StateError, match="no 'v' format number"):
        m.migrate_format("events.jsonl", {}, current=1)
