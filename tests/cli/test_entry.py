"""The console entry point: one command module imported per command, ``--version`` without typer."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workflow_cli.cli.app import COMMAND_MODULES, build_app
from workflow_cli.cli.main import COMMANDS, first_word, normalize_argv


def _names(app: object) -> set[str]:
    commands = {c.name for c in app.registered_commands}  # type: ignore[attr-defined]
    groups = {g.name for g in app.registered_groups}  # type: ignore[attr-defined]
    return commands | groups


def test_every_command_maps_to_the_module_that_registers_it() -> None:
    assert set(COMMANDS.values()) <= set(COMMAND_MODULES)
    for module in COMMAND_MODULES:
        registered = _names(build_app((module,)))
        assert registered, module
        for name in registered:
            assert COMMANDS.get(name) == module, f"'{name}' (registered by {module}) is missing from cli.main.COMMANDS"
    assert set(COMMANDS) == _names(build_app())


@pytest.mark.parametrize(("argv", "word"), [
    (["--home", "x", "run", "a"], "run"),
    (["run", "a", "--json"], "run"),
    (["--home=x", "-q", "--version"], "--version"),
    (["--json"], None),
])
def test_first_word_skips_global_options(argv: list[str], word: str | None) -> None:
    assert first_word(normalize_argv(argv)) == word


def test_version_answers_without_importing_typer() -> None:
    code = "import sys; from workflow_cli.cli.main import main; main(['--version']); print('typer' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[:2] == ["workflow-cli", __import__("workflow_cli").__version__]
    assert out[2] == "False"


def test_a_command_runs_with_only_its_module(sh, write) -> None:  # type: ignore[no-untyped-def]
    doc = write("one.json", {"version": "2.0.0", "name": "one", "tasks": {"a": {"action": "noop"}}})
    assert sh("run", doc, "--json").json()["status"] == "completed"
    assert sh("--version").stdout.startswith("workflow-cli ")
    bad = sh("bogus")
    assert bad.exit_code == 2 and "No such command" in bad.stderr
