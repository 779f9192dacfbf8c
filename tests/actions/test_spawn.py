"""The environment a child gets, as both spawners encode it."""

from __future__ import annotations

import os
import subprocess

import pytest

from workflow_cli.actions import _spawn
from workflow_cli.actions._spawn import ChildEnvironment, _encoded_env, spawn


def as_dict(lines: list[bytes]) -> dict[str, str]:
    return dict(os.fsdecode(line).split("=", 1) for line in lines)


def test_changes_override_and_remove_runner_variables() -> None:
    base = {"PATH": "/bin", "HOME": "/root", "KEEP": "1"}
    env = ChildEnvironment(base, {"PATH": "/opt/bin", "HOME": None, "WORKFLOW_TASK_ID": "t"})
    assert dict(env) == {"PATH": "/opt/bin", "KEEP": "1", "WORKFLOW_TASK_ID": "t"}
    assert as_dict(_encoded_env(env)) == dict(env)
    plain = ChildEnvironment(base, {"WORKFLOW_TASK_ID": "u"})
    assert as_dict(_encoded_env(plain)) == {**base, "WORKFLOW_TASK_ID": "u"}
    other = {"PATH": "/usr/bin"}  # another run's base replaces the cached encoding
    assert as_dict(_encoded_env(ChildEnvironment(other, {}))) == other
    assert as_dict(_encoded_env(ChildEnvironment(base, {}))) == base


def test_bad_variables_are_refused() -> None:
    with pytest.raises(ValueError, match="null byte"):
        _encoded_env({"A": "x\0y"})
    with pytest.raises(ValueError, match="illegal environment variable name"):
        _encoded_env({"A=B": "x"})


@pytest.mark.parametrize("fast", [True, False])
def test_spawned_child_sees_exactly_its_environment(tmp_path: os.PathLike[str], fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not fast:
        monkeypatch.setattr(_spawn, "_FAST", False)
    elif _spawn._fast() is None:
        pytest.skip("posix_spawn path not available here")
    env = ChildEnvironment({"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DROP": "x"}, {"DROP": None, "MINE": "é 1"})
    child = spawn(["/usr/bin/env"], executable=None, cwd=str(tmp_path), env=env, stdin_pipe=False)
    assert isinstance(child, subprocess.Popen) != fast
    out = b""
    while chunk := os.read(child.stdout.fileno(), 65536):
        out += chunk
    assert child.wait(timeout=10) == 0
    child.stdout.close()
    child.stderr.close()
    assert dict(line.split("=", 1) for line in out.decode().splitlines()) == dict(env)
