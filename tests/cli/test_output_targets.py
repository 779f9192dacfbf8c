"""Paths the user names for output and the modes of the home's folders (SPEC 14 "Files")."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

DOC = {"version": "2.0.0", "name": "tiny", "tasks": {"a": {"action": "noop"}}}


@pytest.fixture
def done(sh: Any, write: Any) -> str:
    res = sh("run", "--quiet", write("tiny.json", DOC))
    assert res.exit_code == 0, res
    return json.loads(sh("list", "--json").stdout)[0]["id"]


def _special(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / f"target-{kind}"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        (tmp_path / "elsewhere.txt").write_text("keep")
        path.symlink_to(tmp_path / "elsewhere.txt")
    elif kind == "dangling-symlink":
        path.symlink_to(tmp_path / "would-be-created.txt")
    elif kind == "device":
        return Path("/dev/null")
    elif kind == "folder":
        path.mkdir()
    return path


KINDS = ["fifo", "symlink", "dangling-symlink", "device", "folder"]


@pytest.mark.parametrize("kind", KINDS)
def test_report_output_onto_a_special_file_is_refused(sh: Any, done: str, tmp_path: Path, kind: str) -> None:
    target = _special(kind, tmp_path)
    before = os.lstat(target)
    res = sh("report", done, "--output", target)
    assert res.exit_code == 2 and "--output" in res.stderr, res
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino), "the target was replaced"
    assert not (tmp_path / "would-be-created.txt").exists()


@pytest.mark.parametrize("option", ["--junit", "--events"])
@pytest.mark.parametrize("kind", KINDS)
def test_run_junit_and_events_onto_a_special_file_are_refused_before_running(
        sh: Any, write: Any, home: Path, tmp_path: Path, option: str, kind: str) -> None:
    target = _special(kind, tmp_path)
    res = sh("run", write("tiny.json", DOC), option, target)  # a FIFO with no reader would block forever
    assert res.exit_code == 2 and option in res.stderr, res
    assert [p for p in (home / "instances").iterdir() if not p.name.startswith(".")] == [], "it ran anyway"


def test_events_into_a_missing_folder_is_exit_2(sh: Any, write: Any, tmp_path: Path) -> None:
    res = sh("run", write("tiny.json", DOC), "--events", tmp_path / "missing" / "dir" / "x.jsonl")
    assert res.exit_code == 2 and "does not exist" in res.stderr, res


def test_outputs_are_written_as_regular_files(sh: Any, write: Any, done: str, tmp_path: Path) -> None:
    events, junit, report = tmp_path / "e.jsonl", tmp_path / "out" / "j.xml", tmp_path / "r.html"
    assert sh("run", write("tiny.json", DOC), "--events", events, "--junit", junit).exit_code == 0
    assert sh("report", done, "--output", report).exit_code == 0
    for path in (events, junit, report):
        assert path.is_file() and not path.is_symlink() and path.stat().st_size > 0


@pytest.mark.parametrize("where", ["instances", "checkpoints", "config.yaml", "instance"])
@pytest.mark.parametrize("bits", [0o002, 0o020])
def test_group_or_world_writable_state_folders_are_refused(sh: Any, home: Path, done: str, where: str, bits: int) -> None:
    path = home / "instances" / done if where == "instance" else home / where
    if where == "config.yaml":
        path.write_text("max_parallel: 2\n")
        path.chmod(0o600)
    path.chmod(path.stat().st_mode | bits)
    res = sh("status", done)
    assert res.exit_code == 2 and str(path) in res.stderr and "chmod go-w" in res.stderr, res
    path.chmod(path.stat().st_mode & ~0o022)
    assert sh("status", done).exit_code == 0


def test_unexpected_error_logs_go_to_a_private_folder_never_tmp(tmp_path: Path) -> None:
    """With no WORKFLOW_CLI_LOG_DIR and no home, the log goes to the user's private state folder, not $TMPDIR."""
    import subprocess
    import sys

    tmpdir = tmp_path / "shared-tmp"
    tmpdir.mkdir()
    (tmpdir / "workflow-cli-logs").symlink_to(tmp_path)  # what another user could plant
    code = "import sys; from workflow_cli.cli.failure import report; sys.exit(report(RuntimeError('boom')))"
    env = {**os.environ, "TMPDIR": str(tmpdir), "HOME": str(tmp_path / "user")}
    env.pop("WORKFLOW_CLI_LOG_DIR", None)
    env.pop("XDG_STATE_HOME", None)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "details in" in proc.stderr, proc.stderr
    log = Path(proc.stderr.rsplit("details in ", 1)[1].strip(" )\n"))
    assert log.parent == tmp_path / "user" / ".local" / "state" / "workflow-cli" / "logs"
    assert log.read_text().strip().endswith("RuntimeError: boom")
    assert oct(log.parent.stat().st_mode & 0o777) == "0o700" and oct(log.stat().st_mode & 0o777) == "0o600"
    assert list(tmp_path.glob("error-*")) == [] and list(tmpdir.rglob("error-*")) == []
