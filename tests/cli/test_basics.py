"""Version, ``python -m``, ``init``, ``schema``, global options and colour (SPEC 2, 3, 8)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import workflow_cli

HOME_FOLDERS = ("templates", "instances", "checkpoints", "monitoring", "cache")


def test_version_in_process(cli):
    result = cli.raw("--version")
    assert result.exit_code == 0
    assert workflow_cli.__version__ in result.stdout


def test_version_console_script(sh):
    result = sh("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"workflow-cli {workflow_cli.__version__}"


def test_python_dash_m(sh):
    result = sh("--version", executable=[sys.executable, "-m", "workflow_cli"])
    assert result.exit_code == 0
    assert workflow_cli.__version__ in result.stdout


def _assert_home_layout(path: Path) -> None:
    for name in HOME_FOLDERS:
        folder = path / name
        assert folder.is_dir(), name
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, name
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    examples = [p for p in (path / "templates").iterdir() if p.suffix in (".json", ".yaml", ".yml")]
    assert examples, "init writes an example template"


def test_init_dir_in_process(cli, tmp_path):
    target = tmp_path / "new-home"
    result = cli.raw("init", target)
    assert result.exit_code == 0, result
    _assert_home_layout(target)
    # the example template is listed and valid
    listed = cli.raw("--home", target, "templates", "--json").json()
    example = [row for row in listed if row["source"] == "home"]
    assert example
    assert cli.raw("--home", target, "validate", example[0]["name"]).exit_code == 0


def test_init_console_script_is_idempotent(sh, tmp_path):
    target = tmp_path / "flows"
    first = sh("init", target)
    assert first.exit_code == 0, first
    _assert_home_layout(target)
    example = next((target / "templates").iterdir())
    example.write_text(example.read_text() + "\n# edited\n")
    again = sh("init", target, "--json")
    assert again.exit_code == 0, again
    assert isinstance(again.json(), dict)
    assert example.read_text().endswith("# edited\n"), "init never overwrites an existing file"


def test_init_uses_home_option(cli, tmp_path):
    target = tmp_path / "via-option"
    assert cli.raw("--home", target, "init").exit_code == 0
    _assert_home_layout(target)


def test_schema_is_json_schema(cli):
    result = cli("schema")
    assert result.exit_code == 0, result
    schema = result.json()
    assert "$schema" in schema
    assert schema["type"] == "object"
    assert {"version", "name", "tasks"} <= set(schema["properties"])


def test_schema_validates_builtin_templates(cli):
    import jsonschema

    schema = cli("schema").json()
    folder = Path(workflow_cli.__file__).parent / "builtin_templates"
    for path in folder.glob("*.json"):
        jsonschema.Draft202012Validator(schema).validate(json.loads(path.read_text()))


def test_schema_console_script(sh):
    result = sh("schema")
    assert result.exit_code == 0
    assert "$schema" in json.loads(result.stdout)


def test_global_options_after_command(cli, small_doc, write):
    src = write("small.json", small_doc())
    created = cli("create", src, "--json")
    assert created.exit_code == 0, created
    instance = created.json()["id"]
    before = cli("--json", "status", instance).json()
    after = cli("status", instance, "--json").json()
    assert before["id"] == after["id"] == instance
    # --home may follow the command too
    moved = cli.raw("status", instance, "--home", cli.home, "--json")
    assert moved.exit_code == 0 and moved.json()["id"] == instance


def test_global_options_after_command_console_script(sh, small_doc, write):
    src = write("small.json", small_doc())
    instance = sh("create", src, "--quiet").stdout.strip()
    result = sh("status", instance, "--json", "--home", sh.home)
    assert result.exit_code == 0, result
    assert result.json()["id"] == instance


def _run_on_tty(argv: list[str], env: dict[str, str]) -> bytes:
    """Run ``argv`` with stdout and stderr on a pseudo-terminal; return everything it printed."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(argv, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env=env)
    finally:
        os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    proc.wait(timeout=60)
    return b"".join(chunks)


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_no_color_on_a_terminal(sh, small_doc, write):
    src = write("small.json", small_doc())
    instance = sh("create", src, "-q").stdout.strip()
    script = str(Path(sys.executable).with_name("workflow-cli"))
    env = {k: v for k, v in sh.env.items() if k != "NO_COLOR"}
    coloured = _run_on_tty([script, "list"], env)
    assert instance[:8].encode() in coloured
    assert b"\x1b[" in coloured, "a terminal without NO_COLOR gets colour (else this test proves nothing)"
    for argv, extra in (([script, "list", "--no-color"], {}), ([script, "status", instance], {"NO_COLOR": "1"})):
        out = _run_on_tty(argv, {**env, **extra})
        assert instance[:8].encode() in out
        assert b"\x1b[" not in out, (argv, extra, out[:200])


def test_no_ansi_when_not_a_terminal(cli, params_template):
    created = cli("create", params_template, "--param", "token=abc", "-q")
    instance = created.stdout.strip()
    for args in (("templates",), ("list",), ("status", instance), ("graph", params_template), ("validate", params_template)):
        result = cli(*args, "--no-color")
        assert result.exit_code == 0, result
        assert "\x1b[" not in result.stdout + result.stderr, args


def test_usage_errors_exit_2(cli):
    for args in (("no-such-command",), ("status",), ("graph", "x", "--format", "png"), ("list", "--limit", "many")):
        result = cli(*args)
        assert result.exit_code == 2, result
        assert result.stderr.strip(), args
