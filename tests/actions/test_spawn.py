"""The environment a child gets, and what the spawner refuses."""

from __future__ import annotations

import os
import subprocess

import pytest

from workflow_cli.actions._spawn import ChildEnvironment, spawn


def _child_env(tmp_path: os.PathLike[str], env: dict[str, str]) -> dict[str, str]:
    child = spawn(["/usr/bin/env"], executable=None, cwd=str(tmp_path), env=env, stdin_pipe=False)
    assert isinstance(child, subprocess.Popen)
    out = b""
    while chunk := os.read(child.stdout.fileno(), 65536):
        out += chunk
    assert child.wait(timeout=10) == 0
    child.stdout.close()
    child.stderr.close()
    return dict(line.split("=", 1) for line in out.decode().splitlines())


def test_changes_override_and_remove_runner_variables(tmp_path: os.PathLike[str]) -> None:
    base = {"PATH": "/bin:/usr/bin", "HOME": "/root", "KEEP": "1"}
    env = ChildEnvironment(base, {"PATH": "/opt/bin:/usr/bin", "HOME": None, "WORKFLOW_TASK_ID": "t"})
    assert dict(env) == {"PATH": "/opt/bin:/usr/bin", "KEEP": "1", "WORKFLOW_TASK_ID": "t"}
    assert _child_env(tmp_path, env) == dict(env)
    plain = ChildEnvironment(base, {"WORKFLOW_TASK_ID": "u"})
    assert _child_env(tmp_path, plain) == {**base, "WORKFLOW_TASK_ID": "u"}
    assert base == {"PATH": "/bin:/usr/bin", "HOME": "/root", "KEEP": "1"}  # the runner's own mapping is left alone


def test_bad_variables_are_refused(tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(ValueError, match="null byte"):
        spawn(["/usr/bin/env"], executable=None, cwd=str(tmp_path), env={"A": "x\0y"}, stdin_pipe=False)
    with pytest.raises(ValueError, match="illegal environment variable name"):
        spawn(["/usr/bin/env"], executable=None, cwd=str(tmp_path), env={"A=B": "x"}, stdin_pipe=False)


def test_spawned_child_sees_exactly_its_environment(tmp_path: os.PathLike[str]) -> None:
    env = ChildEnvironment({"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DROP": "x"}, {"DROP": None, "MINE": "é 1"})
    assert _child_env(tmp_path, env) == dict(env)
