"""``migrate status``, ``migrate run`` and ``migrate all``: diffs, backups, idempotency, live runners."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from workflow_cli.model.loader import load_document


def _instance_with_old_document(cli, write, twin: dict[str, Any], old: dict[str, Any], *, run: bool = False) -> Path:
    """An instance as an older release left it: created from the twin, its workflow.json holding ``old``."""
    result = cli("run" if run else "create", write("twin.json", twin), "--json")
    assert result.exit_code == 0, result
    folder = cli.home / "instances" / result.json()["id"]
    (folder / "workflow.json").write_text(json.dumps(old), encoding="utf-8")
    return folder


def _files(home: Path) -> dict[str, bytes]:
    return {str(p.relative_to(home)): p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file()}


@pytest.fixture
def populated(cli, write, put_template, old_docs, twin, home) -> dict[str, Path]:
    """A home with a template per old version (JSON and YAML), a current one, and an instance at 1.0.0."""
    return {
        "etl": put_template("etl.json", old_docs["1.0.0"]),
        "fan": put_template("fan.yaml", "# Word counts, from the 1.1.0 days\n" + yaml.safe_dump(old_docs["1.1.0"], sort_keys=False)),
        "triage": put_template("triage.yml", old_docs["1.2.0"]),
        "instance": _instance_with_old_document(cli, write, twin, old_docs["1.0.0"]),
    }


def test_status_counts_per_version_and_lists_builtins_as_current(cli, populated):
    result = cli("migrate", "status", "--json")
    assert result.exit_code == 0, result
    info = result.json()
    assert info["counts"] == {"templates": {"1.0.0": 1, "1.1.0": 1, "1.2.0": 1, "2.0.0": 1}, "instances": {"1.0.0": 1}}
    assert info["needs_migration"] == 4 and info["errors"] == 0
    builtins = [row for row in info["templates"] if row["kind"] == "builtin"]
    assert {row["name"] for row in builtins} == {"approval_chain", "parallel_processing", "sequential_pipeline", "conditional_workflow"}
    assert all(row["status"] == "current" and row["version"] == "2.0.0" for row in builtins)
    assert cli("migrate", "status").exit_code == 0


def test_dry_run_shows_diffs_and_changes_nothing(cli, home, populated, snapshot_tree):
    before, files = snapshot_tree(home), _files(home)
    result = cli("migrate", "all", "--dry-run")
    assert result.exit_code == 0, result
    assert '-  "version": "1.0.0",' in result.stdout and '+  "version": "2.0.0",' in result.stdout
    assert "-- id: count_a\n" in result.stdout and "+  count_a:\n" in result.stdout  # the YAML template
    assert result.stdout.count("would migrate") == 4
    as_json = cli("migrate", "run", "--workflow-id", "triage", "--dry-run", "--json")
    assert as_json.json()["items"][0]["status"] == "would migrate" and as_json.json()["items"][0]["files"][0]["diff"]
    assert snapshot_tree(home) == before and _files(home) == files


def test_all_migrates_keeps_backups_and_is_idempotent(cli, home, populated, old_docs):
    originals = {name: path.read_bytes() for name, path in populated.items() if path.is_file()}
    originals["instance"] = (populated["instance"] / "workflow.json").read_bytes()
    result = cli("migrate", "all", "--json")
    assert result.exit_code == 0, result
    report = result.json()
    assert report["changed"] == 4 and Path(report["backup_dir"]).parent == home / "backups"
    for name in ("etl", "fan", "triage"):
        assert load_document(populated[name])["version"] == "2.0.0"
    assert populated["fan"].read_text().startswith("# Word counts, from the 1.1.0 days\n"), "the header comment is kept"
    assert json.loads((populated["instance"] / "workflow.json").read_text())["version"] == "2.0.0"
    backup = Path(report["backup_dir"])
    assert (backup / "templates" / "etl.json").read_bytes() == originals["etl"]
    assert (backup / "templates" / "fan.yaml").read_bytes() == originals["fan"]
    instance_backup = backup / "instances" / populated["instance"].name / "workflow.json"
    assert instance_backup.read_bytes() == originals["instance"]
    assert cli("validate", "etl").exit_code == 0 and "migrated in memory" not in cli("validate", "etl").stderr
    files = _files(home)
    again = cli("migrate", "all")
    assert again.exit_code == 0 and "nothing to migrate" in again.stderr
    assert _files(home) == files, "a second run changes nothing, not even a new backup folder"


def test_run_one_template_by_name(cli, home, populated):
    result = cli("migrate", "run", "--workflow-id", "fan")
    assert result.exit_code == 0, result
    assert "migrated template fan: fan.yaml 1.1.0 -> 2.0.0" in result.stdout
    assert load_document(populated["fan"])["tasks"]["count_b"]["execution_mode"] == "sequential"
    assert load_document(populated["etl"])["version"] == "1.0.0", "only the named template changes"
    again = cli("migrate", "run", "--workflow-id", "fan")
    assert again.exit_code == 0 and "nothing to migrate: template fan is already at 2.0.0" in again.stderr


def test_run_a_document_file_outside_the_home(cli, home, write, old_docs):
    path = write("legacy.json", old_docs["1.2.0"])
    result = cli("migrate", "run", "--workflow-id", str(path), "--json")
    assert result.exit_code == 0, result
    assert json.loads(path.read_text())["tasks"]["queue"]["conditions"] == ["{{ tasks.assess.outputs.priority != 'high' }}"]
    backup = Path(result.json()["items"][0]["files"][0]["backup"])
    assert backup.is_relative_to(home / "backups") and json.loads(backup.read_text()) == old_docs["1.2.0"]


def test_an_old_instance_is_migrated_then_inspected_resumed_and_rolled_back(cli, write, twin, old_docs):
    folder = _instance_with_old_document(cli, write, twin, old_docs["1.0.0"])
    prefix = folder.name[:17]
    result = cli("migrate", "run", "--workflow-id", prefix)
    assert result.exit_code == 0, result
    started = cli("start", folder.name, "--json")
    assert started.exit_code == 0 and started.json()["status"] == "completed", started
    assert cli("status", folder.name, "--json").json()["tasks"]["notify"]["status"] == "completed"
    rolled = cli("rollback", folder.name, "--resume", "--json")
    assert rolled.exit_code == 0, rolled
    assert cli("status", folder.name, "--json").json()["status"] == "completed"


def test_a_live_runner_is_refused_with_exit_5(cli, populated):
    from workflow_cli.store.locks import InstanceLock

    lock = InstanceLock(populated["instance"] / "runner.lock")
    assert lock.acquire()
    try:
        before = (populated["instance"] / "workflow.json").read_bytes()
        one = cli("migrate", "run", "--workflow-id", populated["instance"].name)
        assert one.exit_code == 5 and "live runner" in one.stderr, one
        assert cli("migrate", "run", "--workflow-id", populated["instance"].name, "--dry-run").exit_code == 5
        every = cli("migrate", "all", "--json")
        assert every.exit_code == 5, every
        statuses = {item["name"]: item["status"] for item in every.json()["items"]}
        assert statuses[populated["instance"].name] == "error"
        assert statuses["etl"] == statuses["fan"] == statuses["triage"] == "migrated", "the others still migrate"
        assert (populated["instance"] / "workflow.json").read_bytes() == before
    finally:
        lock.release()
    assert cli("migrate", "all").exit_code == 0


def test_a_broken_template_is_reported_and_the_others_migrate(cli, put_template, old_docs):
    bad = old_docs["1.0.0"]
    bad["tasks"][1]["depends_on"] = "extract"
    put_template("bad.json", bad)
    put_template("good.json", old_docs["1.2.0"])
    put_template("future.json", {"version": "3.0.0", "name": "f", "tasks": {}})
    result = cli("migrate", "all", "--json")
    assert result.exit_code == 2, result
    items = {item["name"]: item for item in result.json()["items"]}
    assert items["good"]["status"] == "migrated"
    assert "bad.json:tasks[1].depends_on" in items["bad"]["error"]
    assert "newer than this tool supports" in items["future"]["error"]
    one = cli("migrate", "run", "--workflow-id", "bad")
    assert one.exit_code == 2 and "tasks[1].depends_on: expected array, got string" in one.stderr


@pytest.mark.parametrize(("target", "code", "fragment"), [
    ("approval_chain", 0, "built-in template approval_chain is always at 2.0.0"),
    ("no_such_thing", 4, "no instance or home template named 'no_such_thing'"),
    ("missing.json", 4, "not found"),
])
def test_run_targets_that_need_nothing_or_do_not_exist(cli, target, code, fragment):
    result = cli("migrate", "run", "--workflow-id", target)
    assert result.exit_code == code, result
    assert fragment in result.stderr


def test_instance_file_formats_go_through_the_registry(cli, write, twin, monkeypatch):
    from workflow_cli.model import migrations
    from workflow_cli.ops import migrate_files

    folder = _instance_with_old_document(cli, write, twin, twin, run=True)
    monkeypatch.setitem(migrations.FORMAT_STEPS, "state.json", (migrations.FormatStep(1, lambda r: {**r, "added": 1}),))
    monkeypatch.setitem(migrations.FORMAT_STEPS, "events.jsonl", (migrations.FormatStep(1, lambda e: {**e, "added": 1}),))
    monkeypatch.setitem(migrate_files.CURRENT_FORMATS, "state.json", 2)
    monkeypatch.setitem(migrate_files.CURRENT_FORMATS, "events.jsonl", 2)
    events_before = (folder / "events.jsonl").read_bytes()
    result = cli("migrate", "run", "--workflow-id", folder.name, "--json")
    assert result.exit_code == 0, result
    assert sorted(Path(f["path"]).name for f in result.json()["items"][0]["files"]) == ["events.jsonl", "state.json"]
    state = json.loads((folder / "state.json").read_text())
    assert state["format"] == 2 and state["added"] == 1
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    assert events and all(e["v"] == 2 and e["added"] == 1 for e in events)
    backup = Path(result.json()["backup_dir"]) / "instances" / folder.name / "events.jsonl"
    assert backup.read_bytes() == events_before


def _read_document_hook_wired() -> bool:
    import inspect

    from workflow_cli.store import instances

    return "migrate_instance_document" in inspect.getsource(instances.read_document)


@pytest.mark.skipif(not _read_document_hook_wired(), reason="store.instances.read_document does not call migrate_instance_document yet")
def test_an_old_instance_runs_without_migrate_run(cli, write, twin, old_docs):
    folder = _instance_with_old_document(cli, write, twin, old_docs["1.0.0"])
    started = cli("start", folder.name, "--json")
    assert started.exit_code == 0 and started.json()["status"] == "completed", started
    assert cli("graph", folder.name).exit_code == 0
    assert cli("rollback", folder.name, "--resume").exit_code == 0
    assert json.loads((folder / "workflow.json").read_text())["version"] == "1.0.0", "only 'migrate' writes the file"
