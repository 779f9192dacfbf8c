"""Working directory of command tasks and agents (SPEC 6.2), through the installed console script."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CI_YAML = """\
version: "2.0.0"
name: CI
tasks:
  build:
    action: command
    parameters: {command: "make build"}
  test:
    action: command
    dependencies: [build]
    parameters: {command: "test -f build/app && echo tested > build/tested"}
"""

MAKEFILE = "build:\n\tmkdir -p build && echo binary > build/app\n"


def _pwd_doc(**top: Any) -> dict[str, Any]:
    """One task that reports the folder it ran in (``cwd`` of the task from ``top['cwd']``)."""
    cwd = top.pop("cwd", None)
    params: dict[str, Any] = {"command": 'echo "where=$(pwd -P)" > "$WORKFLOW_OUTPUT"'}
    if cwd is not None:
        params["cwd"] = cwd
    return {"version": "2.0.0", "name": "where", **top, "tasks": {"where": {"action": "command", "parameters": params}}}


def _where(result: Any) -> str:
    assert result.exit_code == 0, result
    return str(result.json()["tasks"]["where"]["outputs"]["where"])


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_run_in_a_checkout_runs_make_there(sh, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "Makefile").write_text(MAKEFILE)
    (checkout / "ci.yaml").write_text(CI_YAML)
    result = sh("--json", "run", "ci.yaml", cwd=checkout)
    assert result.exit_code == 0, result
    assert (checkout / "build" / "app").read_text() == "binary\n"
    assert (checkout / "build" / "tested").exists()
    assert result.json()["base_dir"] == str(checkout)


def test_the_base_directory_is_recorded_and_used_from_anywhere(sh, write, tmp_path: Path) -> None:
    here, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    doc = write("where.json", _pwd_doc())
    created = sh("--json", "create", doc, cwd=here)
    assert created.exit_code == 0, created
    instance = created.json()["id"]
    status = sh("--json", "status", instance, cwd=elsewhere)
    assert status.json()["base_dir"] == str(here)
    started = sh("--json", "start", instance, cwd=elsewhere)
    assert _where(started) == str(here.resolve())


def test_workdir_option_relative_cwd_and_working_dir(sh, write, tmp_path: Path) -> None:
    base = tmp_path / "base"
    (base / "sub").mkdir(parents=True)
    (base / "top").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    run = sh("--json", "run", write("a.json", _pwd_doc()), "--workdir", base, cwd=outside)
    assert _where(run) == str(base.resolve())
    assert run.json()["base_dir"] == str(base)
    relative = sh("--json", "run", write("b.json", _pwd_doc(cwd="sub")), "--workdir", base)
    assert _where(relative) == str((base / "sub").resolve())
    top = sh("--json", "run", write("c.json", _pwd_doc(working_dir="top")), "--workdir", base)
    assert _where(top) == str((base / "top").resolve())
    # a task's cwd wins over working_dir, and any readable folder is allowed (no workspace confinement)
    absolute = sh("--json", "run", write("d.json", _pwd_doc(working_dir="top", cwd=str(outside))), "--workdir", base)
    assert _where(absolute) == str(outside.resolve())


def test_a_missing_cwd_fails_the_attempt_naming_it_without_retries(sh, write, tmp_path: Path) -> None:
    doc = _pwd_doc(cwd="no-such-dir")
    doc["tasks"]["where"]["retry"] = {"max_attempts": 3, "delay_seconds": 0}
    result = sh("--json", "run", write("missing.json", doc), cwd=tmp_path)
    assert result.exit_code == 1, result
    task = result.json()["tasks"]["where"]
    assert task["status"] == "failed" and task["attempts"] == 1
    assert "no-such-dir" in task["error"] and str(tmp_path / "no-such-dir") in task["error"]


def test_a_bad_workdir_option_is_invalid_input(sh, write, tmp_path: Path, home: Path, snapshot_tree) -> None:
    before = snapshot_tree(home)
    result = sh("run", write("a.json", _pwd_doc()), "--workdir", tmp_path / "nope")
    assert result.exit_code == 2, result
    assert "--workdir" in result.stderr and "nope" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot_tree(home) == before


def test_a_command_agent_runs_in_the_base_directory(sh, write, tmp_path: Path) -> None:
    base = tmp_path / "agentbase"
    base.mkdir()
    agent = "import json, os, sys; sys.stdin.read(); print(json.dumps({'cwd': os.getcwd()}))"
    doc = {"version": "2.0.0", "name": "agent cwd",
           "agents": {"here": {"kind": "command", "command": ["python3", "-c", agent]}},
           "tasks": {"ask": {"agent_id": "here"}}}
    result = sh("--json", "run", write("agent.json", doc), "--workdir", base)
    assert result.exit_code == 0, result
    assert result.json()["tasks"]["ask"]["outputs"]["cwd"] == str(base.resolve())


def test_file_operation_stays_confined_to_the_workspace(sh, write, tmp_path: Path) -> None:
    target = tmp_path / "secret.txt"
    target.write_text("x")
    doc = {"version": "2.0.0", "name": "fileop", "tasks": {
        "read": {"action": "file_operation", "parameters": {"operation": "read", "path": str(target)}}}}
    result = sh("--json", "run", write("fileop.json", doc), cwd=tmp_path)
    assert result.exit_code == 1, result
    assert result.json()["tasks"]["read"]["status"] == "failed"


def test_working_dir_is_part_of_the_schema(sh) -> None:
    schema = json.loads(sh("schema").stdout)
    assert schema["properties"]["working_dir"]["type"] == "string"
    assert os.sep not in schema["properties"]["working_dir"].get("default", "")
