"""Parameter values (SPEC 4): empty required values, nulls, ``@env:``/``@file:`` sources and ``@@``."""

from __future__ import annotations

import json
import os

import pytest

GATE = """\
version: "2.0.0"
name: Values
parameters:
  approver: {type: string, required: true}
  note: {type: string, required: false, default: ""}
  hosts: {type: array, default: []}
  extra: {type: object, default: {}}
  token: {type: string, secret: true, default: none}
tasks:
  show:
    action: command
    parameters:
      command: "echo approver={{ params.approver }} hosts={{ params.hosts | length }}"
"""


@pytest.fixture
def values_template(home_template) -> str:
    home_template("values.yaml", GATE)
    return "values"


def _instances(home):
    return sorted(p.name for p in (home / "instances").iterdir()) if (home / "instances").exists() else []


def _params(sh, result):
    assert result.exit_code == 0, result
    return sh("status", result.stdout.strip().splitlines()[-1], "--json").json()["params"]


def test_required_parameter_given_empty_is_refused(sh, values_template, home):
    result = sh("create", values_template, "--param", "approver=")
    assert result.exit_code == 2, result
    assert "params.approver: required parameter is empty" in result.stderr
    assert "required: false" in result.stderr  # says how to allow it
    assert _instances(home) == []


def test_empty_string_from_a_params_file_is_refused_too(cli, values_template, write):
    result = cli("create", values_template, "--params-file", write("p.json", {"approver": ""}))
    assert result.exit_code == 2, result
    assert "required parameter is empty" in result.stderr


def test_optional_parameter_may_be_empty(sh, values_template):
    params = _params(sh, sh("create", values_template, "--param", "approver=ann", "--param", "note="))
    assert params["note"] == ""


@pytest.mark.parametrize("name", ["hosts", "extra", "note", "approver"])
def test_null_is_no_value_of_any_type(cli, values_template, write, name):
    values = {"approver": "ann", name: None}
    result = cli("create", values_template, "--params-file", write("p.yaml", json.dumps(values)))
    assert result.exit_code == 2, result
    assert f"params.{name}: null is not a value of type" in result.stderr


def test_null_json_on_the_command_line_is_refused_for_an_array(sh, values_template):
    result = sh("create", values_template, "--param", "approver=ann", "--param", "hosts=null")
    assert result.exit_code == 2, result
    assert "--param hosts: null is not a value of type array" in result.stderr


def test_value_from_environment(sh, values_template, home):
    result = sh("create", values_template, "--param", "approver=@env:GATE_APPROVER", "--param", "token=@env:GATE_TOKEN",
                env={"GATE_APPROVER": "ann", "GATE_TOKEN": "tok-123456"})
    params = _params(sh, result)
    assert params["approver"] == "ann"
    assert params["token"] == "***"
    instance = next((home / "instances").iterdir())
    from workflow_cli.store.instances import InstancePaths, read_secrets

    assert read_secrets(InstancePaths(instance))["token"] == "tok-123456"  # encrypted at rest
    assert "tok-123456" not in (instance / "secrets.json").read_text()
    assert "tok-123456" not in (instance / "instance.json").read_text()


def test_missing_environment_variable_is_named(sh, values_template, home):
    env = {k: v for k, v in os.environ.items() if k != "NO_SUCH_VAR_W12"}
    result = sh("create", values_template, "--param", "approver=@env:NO_SUCH_VAR_W12", env=env)
    assert result.exit_code == 2, result
    assert "--param approver: environment variable 'NO_SUCH_VAR_W12' is not set" in result.stderr
    assert "params.approver: missing required parameter" not in result.stderr  # one problem, said once
    assert _instances(home) == []


def test_value_from_file_drops_one_trailing_newline(sh, values_template, tmp_path):
    (tmp_path / "who.txt").write_text("ann\n")
    (tmp_path / "hosts.json").write_text('["a", "b"]\n')
    params = _params(sh, sh("create", values_template, "--param", f"approver=@file:{tmp_path / 'who.txt'}",
                            "--param", f"hosts=@file:{tmp_path / 'hosts.json'}"))
    assert params["approver"] == "ann"
    assert params["hosts"] == ["a", "b"]


def test_relative_file_path_is_relative_to_the_current_directory(sh, values_template, tmp_path):
    (tmp_path / "who.txt").write_text("bob")
    params = _params(sh, sh("create", values_template, "--param", "approver=@file:who.txt", cwd=tmp_path))
    assert params["approver"] == "bob"


def test_double_at_is_a_literal_at(sh, values_template):
    params = _params(sh, sh("create", values_template, "--param", "approver=@@env:HOME", "--param", "note=@plain"))
    assert params["approver"] == "@env:HOME"
    assert params["note"] == "@plain"


@pytest.mark.parametrize("kind", ["missing", "folder", "fifo", "device", "too_big", "binary"])
def test_unusable_file_is_refused_with_its_path(sh, values_template, tmp_path, home, kind):
    path = tmp_path / f"src-{kind}"
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)  # opening it for reading would block: it must be refused without that
    elif kind == "device":
        path = tmp_path / "null-link"
        path.symlink_to("/dev/null")
    elif kind == "too_big":
        path.write_bytes(b"x" * (1024 * 1024 + 1))
    elif kind == "binary":
        path.write_bytes(b"\xff\xfe\x00bad")
    result = sh("create", values_template, "--param", f"approver=@file:{path}")
    assert result.exit_code == 2, result
    assert "--param approver:" in result.stderr and str(path) in result.stderr
    expected = {"missing": "No such file", "folder": "a folder", "fifo": "a FIFO", "device": "a character device",
                "too_big": "the limit is 1048576", "binary": "not UTF-8"}[kind]
    assert expected in result.stderr
    assert _instances(home) == []


def test_sources_work_in_process_and_in_validate(cli, values_template, tmp_path, monkeypatch):
    monkeypatch.setenv("GATE_APPROVER", "carol")
    result = cli("validate", values_template, "--param", "approver=@env:GATE_APPROVER", "--json")
    assert result.exit_code == 0, result
    bad = cli("validate", values_template, "--param", f"approver=@file:{tmp_path / 'nope'}", "--json")
    assert bad.exit_code == 2
    assert any("nope" in e["message"] for e in bad.json()["errors"])


def test_approval_chain_refuses_an_empty_approver(sh, home):
    # `--param level1_approver=$USER` with $USER unset must not create a gate that anyone may approve
    result = sh("run", "approval_chain", "--param", "level1_approver=", "--param", "level2_approver=bob",
                "--param", "request_title=Laptop")
    assert result.exit_code == 2, result
    assert "params.level1_approver: required parameter is empty" in result.stderr
    assert _instances(home) == []
