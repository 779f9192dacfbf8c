"""The command and noop actions, against real child processes.

Every command test runs twice: with a pidfd watching the child's exit, and with the waitpid fallback
(systems without pidfds).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from workflow_cli.actions import _process
from workflow_cli.actions.base import ActionContext
from workflow_cli.actions.command import CommandAction
from workflow_cli.actions.noop import NoopAction


@pytest.fixture(autouse=True, params=["pidfd", "no-pidfd"])
def waiter(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with each way of waiting for a child: a pidfd in the poll, or waitpid where a
    system has no pidfds."""
    if request.param == "no-pidfd":
        monkeypatch.setattr(_process, "_pidfd", lambda pid: -1)
        return request.param
    probe = _process._pidfd(os.getpid())
    if probe < 0:
        pytest.skip("pidfds are not available here (Linux 5.3+)")
    os.close(probe)
    return request.param


def make_ctx(tmp_path: Path, params: dict[str, Any], *, timeout: float | None = None) -> tuple[ActionContext, list[str]]:
    """A context with a fresh workspace, an output file and a list as the log."""
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    lines: list[str] = []
    ctx = ActionContext(
        instance_id="inst-1",
        task_id="build",
        attempt=2,
        parameters=params,
        workspace=workspace,
        log=lines.append,
        timeout=timeout,
        output_file=tmp_path / "output.txt",
    )
    return ctx, lines


def run(tmp_path: Path, params: dict[str, Any], **kwargs: Any) -> tuple[Any, list[str]]:
    ctx, lines = make_ctx(tmp_path, params, **kwargs)
    return CommandAction().run(ctx), lines


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def test_success_and_failure_exit_codes(tmp_path: Path) -> None:
    ok, lines = run(tmp_path, {"command": "echo hi"})
    assert ok.ok and ok.exit_code == 0 and ok.outputs == {}
    assert lines == ["$ echo hi", "hi"]
    bad, lines = run(tmp_path, {"command": "echo oops >&2; exit 3"})
    assert not bad.ok and bad.kind == "error" and bad.exit_code == 3
    assert "code 3" in bad.error and "oops" in bad.error
    assert "[stderr] oops" in lines
    allowed, _ = run(tmp_path, {"command": "exit 3", "success_exit_codes": [0, 3]})
    assert allowed.ok and allowed.exit_code == 3


def test_argv_list_never_goes_through_a_shell(tmp_path: Path) -> None:
    result, lines = run(tmp_path, {"command": ["printf", "%s", "$(echo hi); ls"]})
    assert result.ok
    assert lines[-1] == "$(echo hi); ls"


def test_shell_false_splits_without_expanding(tmp_path: Path) -> None:
    result, lines = run(tmp_path, {"command": "printf '%s|' 'a b' $HOME", "shell": False})
    assert result.ok
    assert lines[-1] == "a b|$HOME|"


def test_missing_program_is_a_failure(tmp_path: Path) -> None:
    result, _ = run(tmp_path, {"command": ["/nonexistent/program"]})
    assert not result.ok and result.kind == "error" and "cannot start" in result.error


def test_environment_has_workflow_variables_and_env(tmp_path: Path) -> None:
    script = (
        'printf \'{"id": "%s", "task": "%s", "attempt": "%s", "key": "%s", "ws": "%s", "out": "%s", "mine": "%s"}\' '
        '"$WORKFLOW_INSTANCE_ID" "$WORKFLOW_TASK_ID" "$WORKFLOW_ATTEMPT" "$WORKFLOW_IDEMPOTENCY_KEY" '
        '"$WORKFLOW_WORKSPACE" "$WORKFLOW_OUTPUT" "$MINE"'
    )
    result, _ = run(tmp_path, {"command": script, "env": {"MINE": 5}})
    assert result.ok
    assert result.outputs == {
        "id": "inst-1",
        "task": "build",
        "attempt": "2",
        "key": "inst-1:build",
        "ws": str(tmp_path / "ws"),
        "out": str(tmp_path / "output.txt"),
        "mine": "5",
    }


def test_output_file_key_values_win_over_stdout(tmp_path: Path) -> None:
    script = "printf 'a=1\\n# note\\n\\nb = two words\\n' > \"$WORKFLOW_OUTPUT\"; echo '{\"ignored\": true}'"
    result, _ = run(tmp_path, {"command": script})
    assert result.ok and result.outputs == {"a": "1", "b": "two words"}


def test_output_file_json_object(tmp_path: Path) -> None:
    result, _ = run(tmp_path, {"command": 'echo \'{"n": [1, 2]}\' > "$WORKFLOW_OUTPUT"'})
    assert result.ok and result.outputs == {"n": [1, 2]}


@pytest.mark.parametrize("content", ["a=1\\njunk\\n", '{"a": NaN}', "[1, 2]"])
def test_bad_output_file_is_an_output_error(tmp_path: Path, content: str) -> None:
    result, _ = run(tmp_path, {"command": f"printf '{content}' > \"$WORKFLOW_OUTPUT\""})
    assert not result.ok and result.kind == "output" and "WORKFLOW_OUTPUT" in result.error


@pytest.mark.parametrize(
    ("stdout", "outputs"),
    [('{"a": 1}', {"a": 1}), ("[1, 2]", {"result": [1, 2]}), ("hello", {}), ("", {})],
)
def test_stdout_json_outputs(tmp_path: Path, stdout: str, outputs: dict[str, Any]) -> None:
    result, _ = run(tmp_path, {"command": ["printf", "%s", stdout]})
    assert result.ok and result.outputs == outputs


def test_outputs_over_one_mib_are_refused(tmp_path: Path) -> None:
    script = "head -c 1200000 /dev/zero | tr '\\0' a | sed 's/^/x=/' > \"$WORKFLOW_OUTPUT\""
    result, _ = run(tmp_path, {"command": script})
    assert not result.ok and result.kind == "output"
    assert "1.2 MiB" in result.error and "1 MiB" in result.error


def test_huge_stdout_is_logged_but_not_parsed(tmp_path: Path) -> None:
    result, lines = run(tmp_path, {"command": "head -c 1200000 /dev/zero | tr '\\0' 7; echo"})
    assert result.ok and result.outputs == {}
    assert sum(len(line) for line in lines) >= 1200000
    assert any("larger than 1 MiB" in line for line in lines)


def test_stdin_is_fed_to_the_process(tmp_path: Path) -> None:
    result, lines = run(tmp_path, {"command": "cat", "stdin": "hello\nworld\n"})
    assert result.ok and lines[-2:] == ["hello", "world"]
    big, _ = run(tmp_path, {"command": "wc -c", "stdin": "x" * 300000})
    assert big.ok and big.outputs == {"result": 300000}


def test_cwd_is_relative_to_the_base_directory_and_may_leave_it(tmp_path: Path) -> None:
    """SPEC 6.2: relative to the base directory (the workspace of a context without one), anywhere readable."""
    (tmp_path / "ws" / "sub").mkdir(parents=True)
    inside, lines = run(tmp_path, {"command": "pwd", "cwd": "sub"})
    assert inside.ok and lines[-1] == str((tmp_path / "ws" / "sub").resolve())
    for cwd in ("..", str(tmp_path)):
        outside, lines = run(tmp_path, {"command": "pwd", "cwd": cwd})
        assert outside.ok and lines[-1] == str(tmp_path.resolve())
    missing, _ = run(tmp_path, {"command": "pwd", "cwd": "sub/../../ws2"})
    assert not missing.ok and missing.kind == "config"
    assert "does not exist" in missing.error and str(tmp_path / "ws2") in missing.error


def test_timeout_kills_the_whole_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKFLOW_CLI_KILL_GRACE", "0.2")
    script = "trap '' TERM; setsid sleep 300 & echo $! > \"$WORKFLOW_WORKSPACE/gc.pid\"; sleep 30"
    result, _ = run(tmp_path, {"command": script}, timeout=0.5)
    assert not result.ok and result.kind == "timeout" and "timed out" in result.error
    grandchild = int((tmp_path / "ws" / "gc.pid").read_text())
    deadline = time.monotonic() + 3
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(grandchild)


def test_cancel_stops_a_running_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKFLOW_CLI_KILL_GRACE", "0.2")
    ctx, _ = make_ctx(tmp_path, {"command": "sleep 30"})
    threading.Timer(0.2, ctx.cancel.set).start()
    started = time.monotonic()
    result = CommandAction().run(ctx)
    assert not result.ok and result.kind == "cancelled"
    assert time.monotonic() - started < 10


def test_validate_reports_problems_with_paths() -> None:
    action = CommandAction()
    assert action.validate({"command": "true"}, "tasks.a.parameters") == []
    missing = action.validate({}, "tasks.a.parameters")
    assert [(i.path, i.message) for i in missing] == [("tasks.a.parameters.command", "missing required field 'command'")]
    typo = action.validate({"command": "true", "sucess_exit_codes": [1]}, "p")
    assert typo[0].path == "p.sucess_exit_codes" and "success_exit_codes" in (typo[0].hint or "")
    paths = {i.path for i in action.validate({"command": ["ls"], "shell": True, "env": [], "success_exit_codes": [300]}, "p")}
    assert paths == {"p.shell", "p.env", "p.success_exit_codes[0]"}
    assert action.validate({"command": "x", "shell": "{{ params.shell }}"}, "p") == []


def test_noop_publishes_constant_outputs(tmp_path: Path) -> None:
    ctx, _ = make_ctx(tmp_path, {"outputs": {"region": "eu"}})
    result = NoopAction().run(ctx)
    assert result.ok and result.outputs == {"region": "eu"}
    ctx, _ = make_ctx(tmp_path, {})
    assert NoopAction().run(ctx).outputs == {}
    assert NoopAction.inline is True
    assert [i.path for i in NoopAction().validate({"output": {}}, "p")] == ["p.output"]


def test_env_null_unsets_a_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WF_TEST_DROP", "x")
    result, lines = run(tmp_path, {"command": 'echo "[${WF_TEST_DROP-unset}]"', "env": {"WF_TEST_DROP": None}})
    assert result.ok and lines[-1] == "[unset]"
    assert os.environ["WF_TEST_DROP"] == "x"


def test_output_file_is_removed_after_the_attempt(tmp_path: Path) -> None:
    for script in ('echo a=1 > "$WORKFLOW_OUTPUT"', 'echo a=1 > "$WORKFLOW_OUTPUT"; exit 4', 'printf "junk" > "$WORKFLOW_OUTPUT"'):
        ctx, _ = make_ctx(tmp_path, {"command": script})
        from workflow_cli.engine.attempt import run_guarded

        run_guarded(CommandAction(), ctx)
        assert not (tmp_path / "output.txt").exists(), script


def test_child_runs_in_its_own_session_with_default_signals_no_inherited_descriptors_and_null_stdin(tmp_path: Path) -> None:
    leak_r, leak_w = os.pipe()
    os.set_inheritable(leak_w, True)  # an inheritable descriptor of the runner must not reach the task
    try:
        script = ('echo "sid=$(cut -d" " -f6 /proc/self/stat) pid=$$"; grep SigIgn /proc/self/status; '
                  f'if [ -e /dev/fd/{leak_w} ]; then echo leaked; else echo closed; fi; readlink /proc/self/fd/0')
        result, lines = run(tmp_path, {"command": ["/bin/sh", "-c", script]})
    finally:
        os.close(leak_r)
        os.close(leak_w)
    assert result.ok, lines
    sid, pid = (part.split("=")[1] for part in lines[1].split())
    assert sid == pid  # a session (and process group) of its own: a timeout can end the whole tree
    ignored = int(lines[2].split()[1], 16)
    for sig in (13, 25):  # SIGPIPE and SIGXFSZ, which Python ignores, are back to their defaults
        assert not ignored & (1 << (sig - 1))
    assert lines[3] == "closed"
    assert lines[4] == "/dev/null"  # no stdin given: it reads nothing, it never waits for a terminal


def test_relative_program_path_is_found_in_the_working_folder(tmp_path: Path) -> None:
    ctx, lines = make_ctx(tmp_path, {"command": ["./hello.sh", "x"], "cwd": "bin"})
    script = ctx.workspace / "bin" / "hello.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\necho \"hello $1 from $(pwd)\"\n")
    script.chmod(0o755)
    result = CommandAction().run(ctx)
    assert result.ok and lines[-1] == f"hello x from {script.parent.resolve()}"


def test_nul_byte_in_an_argument_or_variable_fails_the_attempt(tmp_path: Path) -> None:
    for params in ({"command": ["echo", "a\0b"]}, {"command": ["true"], "env": {"X": "a\0b"}}):
        result, _ = run(tmp_path, params)
        assert not result.ok and result.kind == "error" and "null byte" in result.error, result.error
