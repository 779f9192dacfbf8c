"""Loading an old document for validate, create or run migrates it in memory and says so (SPEC 11)."""

from __future__ import annotations

import json
from typing import Any

import pytest


def _outcome(status: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """Each task's status and outputs: what two equivalent runs must agree on."""
    return {tid: (task["status"], task["outputs"]) for tid, task in status["tasks"].items()}


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0", "1.2.0"])
def test_validate_notes_the_in_memory_migration(cli, write, old_docs, version, snapshot_tree, home):
    path = write(f"old-{version}.json", old_docs[version])
    before = snapshot_tree(home)
    result = cli("validate", path, "--json")
    assert result.exit_code == 0, result
    (note,) = result.json()["notes"][:1]
    assert note == (f"{path}: migrated in memory from {version} to 2.0.0 "
                    f"(run 'workflow-cli migrate run --workflow-id {path}' to upgrade the file)")
    human = cli("validate", path)
    assert human.exit_code == 0 and f"note: {note}" in human.stderr
    assert json.loads(path.read_text()) == old_docs[version], "the file itself is not changed"
    assert snapshot_tree(home) == before


def test_create_notes_it_for_a_home_template(cli, put_template, old_docs, home):
    put_template("triage.yaml", old_docs["1.2.0"])
    result = cli("create", "triage", "--param", "ticket=printer jam")
    assert result.exit_code == 0, result
    assert "migrated in memory from 1.2.0 to 2.0.0 (run 'workflow-cli migrate run --workflow-id triage'" in result.stderr
    instance = home / "instances" / result.stdout.strip().splitlines()[-1]
    assert json.loads((instance / "workflow.json").read_text())["version"] == "2.0.0"


def test_a_1_0_0_document_runs_like_its_hand_written_2_0_0_twin(cli, write, old_docs, twin):
    old = cli("run", write("old.json", old_docs["1.0.0"]), "--json")
    new = cli("run", write("twin.json", twin), "--json")
    assert old.exit_code == new.exit_code == 0, (old, new)
    assert _outcome(old.json()) == _outcome(new.json())
    assert old.json()["tasks"]["check"]["outputs"]["valid"] is True
    assert old.json()["tasks"]["done"]["status"] == "completed"


def test_the_1_1_0_fan_out_runs(cli, write, old_docs):
    result = cli("run", write("fan.json", old_docs["1.1.0"]), "--json")
    assert result.exit_code == 0, result
    total = result.json()["tasks"]["total"]["outputs"]
    assert total["count"] == 2 and total["total_words"] == 9


@pytest.mark.parametrize(("ticket", "ran", "skipped"), [("production is down, urgent", "page_oncall", "queue"),
                                                        ("the printer is slow", "queue", "page_oncall")])
def test_the_1_2_0_conditions_still_branch(cli, write, old_docs, ticket, ran, skipped):
    result = cli("run", write("triage.json", old_docs["1.2.0"]), "--param", f"ticket={ticket}", "--json")
    assert result.exit_code == 0, result
    tasks = result.json()["tasks"]
    assert (tasks[ran]["status"], tasks[skipped]["status"]) == ("completed", "skipped")


@pytest.mark.parametrize("command", ["validate", "create", "run"])
def test_a_corrupt_old_document_is_exit_2_with_its_path(cli, write, old_docs, command, home, snapshot_tree):
    doc = old_docs["1.0.0"]
    doc["tasks"][2]["depends_on"] = "transform"
    doc["tasks"][3]["id"] = "check"
    path = write("corrupt.json", doc)
    before = snapshot_tree(home)
    result = cli(command, path, "--json")
    assert result.exit_code == 2, result
    assert "tasks[2].depends_on: expected array, got string" in result.stderr or any(
        e["path"] == "tasks[2].depends_on" for e in result.json().get("errors", []))
    assert "tasks[3].id" in result.stdout + result.stderr
    assert snapshot_tree(home) == before


@pytest.mark.parametrize(("version", "fragment"), [
    ("3.0.0", "document version 3.0.0 is newer than this tool supports (2.0.0)"),
    ("1.5.0", "unknown document version '1.5.0'"),
])
def test_newer_or_unknown_versions_are_refused(cli, write, twin, version, fragment):
    path = write("doc.json", {**twin, "version": version})
    for command in ("validate", "create"):
        result = cli(command, path)
        assert result.exit_code == 2, result
        assert fragment in result.stderr
    if version == "1.5.0":
        assert "known versions: 1.0.0, 1.1.0, 1.2.0, 2.0.0" in result.stderr
