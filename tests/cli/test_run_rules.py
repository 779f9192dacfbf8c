"""In-process checks of the run rules of issue 12: base directory, no-op rollback, retry advice (SPEC 6.2, 7.3, 8)."""

from __future__ import annotations

from pathlib import Path

NOOPS = {"version": "2.0.0", "name": "noops", "tasks": {"a": {"action": "noop"}, "b": {"action": "noop", "dependencies": ["a"]}}}
WHERE = {"version": "2.0.0", "name": "where", "tasks": {
    "where": {"action": "command", "parameters": {"command": 'echo "dir=$(pwd -P)" > "$WORKFLOW_OUTPUT"'}}}}


def test_workdir_is_recorded_and_used(cli, write, tmp_path: Path) -> None:
    base = tmp_path / "checkout"
    base.mkdir()
    created = cli("--json", "create", write("where.json", WHERE), "--workdir", base)
    assert created.exit_code == 0, created
    instance = created.json()["id"]
    assert cli("--json", "status", instance).json()["base_dir"] == str(base)
    started = cli("--json", "start", instance)
    assert started.exit_code == 0, started
    assert started.json()["tasks"]["where"]["outputs"]["dir"] == str(base.resolve())


def test_a_missing_workdir_is_refused(cli, write, tmp_path: Path) -> None:
    result = cli("create", write("where.json", WHERE), "--workdir", tmp_path / "missing")
    assert result.exit_code == 2, result
    assert "--workdir" in result.stderr


def test_noop_rollback_retry_and_start_advice(cli, write, home: Path, snapshot_tree) -> None:
    run = cli("--json", "run", write("noops.json", NOOPS))
    assert run.exit_code == 0, run
    instance = run.json()["id"]
    before = snapshot_tree(home)
    rolled = cli("--json", "rollback", instance)
    assert rolled.exit_code == 0 and rolled.json()["changed"] is False, rolled
    assert snapshot_tree(home) == before
    retry = cli("retry", instance)
    assert retry.exit_code == 5 and "--task" in retry.stderr and "a, b" in retry.stderr, retry
    start = cli("start", instance)
    assert start.exit_code == 5 and "rollback" in start.stderr and "retry" in start.stderr, start
    assert cli("--json", "status", instance).json()["parent"] is None
