"""The quick path for a plain ``run SOURCE [--param K=V]``: no click app, the same behaviour as typer's."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from workflow_cli.cli.main import normalize_argv
from workflow_cli.cli.quick import QuickRun, parse


@pytest.mark.parametrize(("argv", "expected"), [
    (["run", "a.json"], QuickRun(None, False, False, False, "a.json", [])),
    (["--home", "h", "-q", "run", "tpl", "--param", "x=1", "-p", "y=2", "--param=z=3"],
     QuickRun("h", False, True, False, "tpl", ["x=1", "y=2", "z=3"])),
    (["run", "--json", "a.json", "--home=h", "--no-color"], QuickRun("h", True, False, True, "a.json", [])),
    (["run", "-p", "k=v", "a.json"], QuickRun(None, False, False, False, "a.json", ["k=v"])),
])
def test_plain_runs_are_recognised(argv: list[str], expected: QuickRun) -> None:
    assert parse(normalize_argv(argv)) == expected


@pytest.mark.parametrize("argv", [
    ["run"],                                   # no source: typer says what is missing
    ["run", "a.json", "b.json"],               # two sources
    ["run", "a.json", "--max-parallel", "2"],  # any other option
    ["run", "a.json", "--help"],
    ["run", "--", "a.json"],
    ["run", "a.json", "--param"],              # a value missing
    ["run", "a.json", "--param", "-x"],        # a value that looks like an option
    ["run", "a.json", "-px=1"],
    ["--home", "", "run", "a.json"],           # typer names the empty folder
    ["--home", "a", "--home", "b", "run", "a.json"],
    ["status", "x"],
    ["--json"],
])
def test_everything_else_is_left_to_typer(argv: list[str]) -> None:
    assert parse(normalize_argv(argv)) is None


def test_a_plain_run_imports_neither_typer_nor_rich(tmp_path) -> None:  # type: ignore[no-untyped-def]
    doc = tmp_path / "one.json"
    doc.write_text('{"version": "2.0.0", "name": "one", "tasks": {"a": {"action": "noop"}}}')
    code = ("import sys\nfrom workflow_cli.cli.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    print('exit', e.code)\nprint('loaded', 'typer' in sys.modules, 'rich' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, "--home", str(tmp_path / "h"), "-q", "run", str(doc)],
                         capture_output=True, text=True, check=True).stdout
    assert "exit 0" in out and "loaded False False" in out


def _same_shape(text: str) -> str:
    """Ids, times, durations and sizes differ from run to run: compare what is left."""
    return re.sub(r"\d+(\.\d+)?", "N", re.sub(r"\d{8}-\d{6}-[0-9a-f]{6}", "ID", text))


@pytest.mark.parametrize("extra", [[], ["--json"], ["-q"]])
@pytest.mark.parametrize(("doc", "params", "code"), [
    ({"version": "2.0.0", "name": "ok", "parameters": {"who": {"type": "string", "default": "x"}},
      "tasks": {"a": {"action": "command", "parameters": {"command": "echo {{ params.who }}"}}}}, ["who=you"], 0),
    ({"version": "2.0.0", "name": "bad", "tasks": {"a": {"action": "command", "parameters": {"command": "exit 3"}}}}, [], 1),
    ({"version": "2.0.0", "name": "p", "parameters": {"n": {"type": "integer"}}, "tasks": {"a": {"action": "noop"}}}, ["n=abc"], 2),
    (None, [], 4),
])
def test_quick_and_typer_paths_answer_alike(sh, write, doc, params, code, extra) -> None:  # type: ignore[no-untyped-def]
    """The same run through the quick path and through typer (``--max-parallel`` is not quick): same exit
    code, stdout and stderr, numbers aside."""
    source = str(write("doc.json", doc)) if doc is not None else "missing.json"
    pairs = [a for p in params for a in ("--param", p)]
    quick = sh(*extra, "run", source, *pairs)
    typer_path = sh(*extra, "run", source, *pairs, "--max-parallel", "4")
    assert quick.exit_code == typer_path.exit_code == code
    assert _same_shape(quick.stdout) == _same_shape(typer_path.stdout)
    assert _same_shape(quick.stderr) == _same_shape(typer_path.stderr)
