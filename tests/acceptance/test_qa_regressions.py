"""Acceptance findings of a fresh-install pass over SPEC 2-13, each through the installed console script."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

NOOP_DOC = {"version": "2.0.0", "name": "Tiny", "tasks": {"only": {"action": "noop"}}}


def _instances(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "instances").iterdir() if not p.name.startswith("."))


@pytest.fixture
def finished(sh, write) -> str:
    """The id of a completed instance."""
    result = sh("run", write("tiny.json", NOOP_DOC), "--json")
    assert result.exit_code == 0, result
    return result.json()["id"]


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_report_output_refuses_fifo_and_symlink(sh, finished, tmp_path, kind) -> None:
    """SPEC 14: a FIFO or symlink named by --output is refused (exit 2) and left as it was."""
    target = tmp_path / "out.html"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        (tmp_path / "elsewhere.html").write_text("keep")
        target.symlink_to(tmp_path / "elsewhere.html")
    result = sh("report", finished, "--output", target)
    assert result.exit_code == 2, result
    assert "--output" in result.stderr and str(target) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert target.is_symlink() if kind == "symlink" else target.is_fifo()
    if kind == "symlink":
        assert (tmp_path / "elsewhere.html").read_text() == "keep"


def test_report_output_refuses_a_device(sh, finished, tmp_path) -> None:
    """A device node is never replaced by the report (as root, a rename over it would succeed).

    The node is made in tmp_path (never a real /dev entry: a broken build would replace it)."""
    node = tmp_path / "null-device"
    try:
        os.mknod(node, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except (PermissionError, OSError):
        pytest.skip("cannot make a device node here (not root)")
    result = sh("report", finished, "--output", node)
    assert result.exit_code == 2, result
    assert "device" in result.stderr
    assert node.is_char_device()


@pytest.mark.parametrize("option", ["--events", "--junit"])
def test_run_refuses_fifo_output_before_creating(sh, home, write, tmp_path, option) -> None:
    """--events/--junit naming a FIFO: exit 2 at once (never blocks on the FIFO), no instance made."""
    doc = write("tiny.json", NOOP_DOC)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    before = _instances(home)
    result = sh("run", doc, option, fifo)
    assert result.exit_code == 2, result
    assert option in result.stderr and "FIFO" in result.stderr
    assert _instances(home) == before
    assert fifo.is_fifo()


def test_run_events_and_junit_to_regular_files(sh, write, tmp_path) -> None:
    """The ordinary case still works: events appended as JSON lines, JUnit written."""
    events, junit = tmp_path / "ev.jsonl", tmp_path / "j.xml"
    result = sh("run", write("tiny.json", NOOP_DOC), "--events", events, "--junit", junit)
    assert result.exit_code == 0, result
    assert '"workflow.completed"' in events.read_text()
    assert "<testcase" in junit.read_text()


@pytest.mark.parametrize("command", ["validate", "create", "run", "graph"])
def test_document_that_is_a_device_or_fifo_is_refused_at_once(sh, home, tmp_path, command, snapshot_tree) -> None:
    """SPEC 16: /dev/zero or a FIFO given as a document: exit 2 at once (it was read until the OOM killer came)."""
    fifo = tmp_path / "flow.json"
    os.mkfifo(fifo)
    before = snapshot_tree(home)
    for source in ("/dev/zero", str(fifo)):
        result = sh(command, source)
        assert result.exit_code == 2, result
        assert source.split("/")[-1] in result.stderr and "regular file" in result.stderr
    assert snapshot_tree(home) == before


def test_params_file_that_is_a_device_is_refused(sh, write) -> None:
    """--params-file /dev/zero: exit 2 with the file named, never read forever."""
    doc = write("tiny.json", NOOP_DOC)
    result = sh("validate", doc, "--params-file", "/dev/zero")
    assert result.exit_code == 2, result
    assert "/dev/zero" in result.stderr and "regular file" in result.stderr


def test_rollback_of_a_failed_instance_clears_finished_at(sh, write) -> None:
    """A failed instance rolled back is paused: status and list show no finish time any more."""
    doc = {"version": "2.0.0", "name": "Fails", "tasks": {
        "a": {"action": "noop"},
        "b": {"action": "command", "dependencies": ["a"], "parameters": {"command": "exit 3"}}}}
    run = sh("run", write("fails.json", doc), "--json")
    assert run.exit_code == 1, run
    iid = run.json()["id"]
    assert run.json()["finished_at"]
    back = sh("rollback", iid)
    assert back.exit_code == 0, back
    status = sh("status", iid, "--json").json()
    assert status["status"] == "paused" and status["finished_at"] is None
    listed = [row for row in sh("list", "--json").json() if row["id"] == iid]
    assert listed[0]["finished_at"] is None


def test_run_with_a_misspelt_config_creates_nothing(sh, home, write) -> None:
    """A config.yaml that start refuses makes run exit 2 before it creates an instance."""
    (home / "config.yaml").write_text("max_paralel: 3\n")
    before = _instances(home)
    result = sh("run", write("tiny.json", NOOP_DOC))
    assert result.exit_code == 2, result
    assert "max_paralel" in result.stderr and "did you mean 'max_parallel'" in result.stderr
    assert _instances(home) == before


@pytest.mark.parametrize("argv", [["status", "a" * 300], ["create", "b" * 300], ["logs", "c" * 300]])
def test_name_too_long_is_input_error(sh, home, argv, snapshot_tree) -> None:
    """SPEC 16: an id or name too long for the file system is exit 2 with a message, never exit 1 'unexpected'."""
    before = snapshot_tree(home)
    result = sh(*argv)
    assert result.exit_code in (2, 4), result
    assert "unexpected" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert snapshot_tree(home) == before


def test_argument_that_is_not_unicode_is_input_error(sh, finished) -> None:
    """SPEC 16: a command-line string that is not valid Unicode (byte 0xff) is exit 2, not 'unexpected'.

    The home holds an instance, so the id goes to the instance index (sqlite refused to encode it)."""
    script = os.fsencode(str(Path(sys.executable).with_name("workflow-cli")))
    proc = subprocess.run([script, b"status", b"x\xff"], env=sh.env, capture_output=True, timeout=60)
    assert proc.returncode == 2, proc
    assert b"not valid Unicode" in proc.stderr and b"Traceback" not in proc.stderr


def test_unexpected_error_log_is_never_in_the_shared_temp_folder(sh, tmp_path) -> None:
    """SPEC 14: an internal-error log goes to a private folder (mode 0600 file), never to $TMPDIR."""
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    env = {k: v for k, v in sh.env.items() if k != "WORKFLOW_CLI_LOG_DIR"}
    env.update(TMPDIR=str(shared), XDG_STATE_HOME=str(tmp_path / "state"))
    code = "import sys; from workflow_cli.cli.failure import report; sys.exit(report(RuntimeError('boom')))"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    folder = tmp_path / "state" / "workflow-cli" / "logs"
    assert f"details in {folder}" in proc.stderr, proc.stderr
    assert not any(shared.iterdir())
    log = next(folder.iterdir())
    assert (log.stat().st_mode & 0o777) == 0o600 and "RuntimeError: boom" in log.read_text()


def test_a_truncated_instance_header_is_reported_even_with_a_snapshot(sh, finished, home) -> None:
    """SPEC 16: a truncated instance.json is reported with the file and a way out (exit 1), nothing changed."""
    header = home / "instances" / finished / "instance.json"
    assert (home / "instances" / finished / "state.json").exists()
    header.write_bytes(header.read_bytes()[:20])
    events = (home / "instances" / finished / "events.jsonl").read_bytes()
    for argv in (["status", finished], ["resume", finished], ["report", finished, "--output", home.parent / "r.html"]):
        result = sh(*argv)
        assert result.exit_code == 1, result
        assert str(header) in result.stderr and "unexpected" not in result.stderr
    assert (home / "instances" / finished / "events.jsonl").read_bytes() == events


def test_prune_takes_its_defaults_from_config_retention(sh, home, finished) -> None:
    """SPEC 6.5: config.yaml's retention gives prune its defaults; without either, one clear exit 2."""
    missing = sh("prune", "--dry-run")
    assert missing.exit_code == 2, missing
    assert "--older-than" in missing.stderr and "retention.older_than" in missing.stderr
    (home / "config.yaml").write_text("retention: {older_than: 0s, status: [completed]}\n")
    planned = sh("prune", "--dry-run", "--json")
    assert planned.exit_code == 0, planned
    assert [row["id"] for row in planned.json()["pruned"]] == [finished]
    (home / "config.yaml").write_text("retention: {older_than: 0s, status: [failed]}\n")
    assert sh("prune", "--dry-run", "--json").json()["pruned"] == []
    assert [row["id"] for row in sh("prune", "--json", "--status", "completed").json()["pruned"]] == [finished]
    assert not (home / "instances" / finished).exists()


@pytest.mark.parametrize("command", ["audit", "status", "graph"])
def test_a_reader_that_leaves_early_is_no_error(sh, write, command) -> None:
    """`workflow-cli audit ID | head -1`: no 'unexpected BrokenPipeError' line, no error log, no traceback."""
    doc = {"version": "2.0.0", "name": "Wide", "tasks": {f"t{i}": {"action": "noop"} for i in range(400)}}
    iid = sh("run", write("wide.json", doc), "--json").json()["id"]
    script = str(Path(sys.executable).with_name("workflow-cli"))
    proc = subprocess.Popen([script, command, iid], env=sh.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) in (0, 1, 141)  # rich's console ends with 1 on a closed pipe, silently
    assert "unexpected" not in err and "Traceback" not in err and "Exception ignored" not in err, err


def test_health_watch_with_interval_zero_is_refused(sh, home, snapshot_tree) -> None:
    """`health --watch --interval 0` looped forever writing a report per round into monitoring/."""
    before = snapshot_tree(home)
    result = sh("health", "--watch", "--interval", "0")
    assert result.exit_code == 2, result
    assert "--interval" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert snapshot_tree(home) == before


def test_serve_without_the_server_extra_says_what_to_install(sh, home, tmp_path) -> None:
    """Without uvicorn (the [server] extra), serve said 'unexpected ModuleNotFoundError' (exit 1)."""
    shadow = tmp_path / "no-uvicorn"
    shadow.mkdir()
    (shadow / "sitecustomize.py").write_text("import sys\nsys.modules['uvicorn'] = None  # as if not installed\n")
    result = sh("serve", "--port", "0", env={"PYTHONPATH": str(shadow)})
    assert result.exit_code == 2, result
    assert "uvicorn" in result.stderr and "workflow-cli[server]" in result.stderr
    assert "unexpected" not in result.stderr


@pytest.mark.parametrize("command", ["run", "start"])
def test_json_and_events_to_stdout_are_refused_together(sh, home, write, command) -> None:
    """--json promises one JSON document on stdout; --events - would put event lines before it."""
    doc = write("tiny.json", NOOP_DOC)
    target = doc if command == "run" else sh("create", doc, "-q").stdout.strip()
    before = _instances(home)
    result = sh(command, target, "--json", "--events", "-")
    assert result.exit_code == 2, result
    assert "--events" in result.stderr and "--json" in result.stderr
    assert _instances(home) == before
    if command == "start":
        assert sh("status", target, "--json").json()["status"] == "created"


def test_logs_follow_of_one_task_prints_its_lines_unprefixed(sh, write, tmp_path) -> None:
    """`logs ID TASK --follow`: the lines that arrive later look like the ones printed first (no '[task] ')."""
    gate = tmp_path / "go"
    command = f"echo one; while [ ! -e {gate} ]; do sleep 0.05; done; echo two"
    doc = {"version": "2.0.0", "name": "Follow", "tasks": {
        "a": {"action": "command", "parameters": {"command": command}},
        "b": {"action": "noop", "dependencies": ["a"]}}}
    iid = sh("run", write("follow.json", doc), "--detach").stdout.strip().splitlines()[-1]
    script = str(Path(sys.executable).with_name("workflow-cli"))
    proc = subprocess.Popen([script, "logs", iid, "a", "--follow"], env=sh.env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    seen = []
    while "one" not in seen:
        line = proc.stdout.readline()
        assert line, "logs --follow ended before the task printed"
        seen.append(line.rstrip("\n"))
    gate.write_text("")
    seen += [line.rstrip("\n") for line in proc.stdout]
    assert proc.wait(timeout=60) == 0
    assert seen[-2:] == ["one", "two"] or seen[-1] == "two", seen
    assert not any(line.startswith("[a]") for line in seen), seen


def test_detach_returns_once_the_runner_holds_the_instance(sh, write, tmp_path) -> None:
    """Right after `run --detach`, the instance has a live runner (a following `logs -f` or `stop` sees it)."""
    gate = tmp_path / "go"
    doc = {"version": "2.0.0", "name": "Held", "tasks": {
        "a": {"action": "command", "parameters": {"command": f"while [ ! -e {gate} ]; do sleep 0.05; done"}}}}
    iid = sh("run", write("held.json", doc), "--detach").stdout.strip().splitlines()[-1]
    try:
        status = sh("status", iid, "--json").json()
        assert status["runner_alive"] is True and status["status"] == "running", status
    finally:
        gate.write_text("")
    assert sh("monitor", iid, "--duration", "60").exit_code == 0
