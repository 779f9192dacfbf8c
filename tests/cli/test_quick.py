"""The quick path for the plain forms of run, status, list, tick and health: no click app, typer's behaviour."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from workflow_cli.cli.main import COMMANDS, QUICK, normalize_argv
from workflow_cli.cli.quick import FORMS, Call, parse


@pytest.mark.parametrize(("argv", "expected"), [
    (["run", "a.json"], Call(None, False, False, False, "run", ["a.json"], {})),
    (["--home", "h", "-q", "run", "tpl", "--param", "x=1", "-p", "y=2", "--param=z=3"],
     Call("h", False, True, False, "run", ["tpl"], {"param": ["x=1", "y=2", "z=3"]})),
    (["run", "--json", "a.json", "--home=h", "--no-color"], Call("h", True, False, True, "run", ["a.json"], {})),
    (["run", "-p", "k=v", "a.json"], Call(None, False, False, False, "run", ["a.json"], {"param": ["k=v"]})),
    (["status", "2026", "--json"], Call(None, True, False, False, "status", ["2026"], {})),
    (["list", "--limit", "20", "--status=failed"], Call(None, False, False, False, "list", [], {"limit": 20, "status": "failed"})),
    (["-q", "tick"], Call(None, False, True, False, "tick", [], {})),
    (["health", "--home", "h"], Call("h", False, False, False, "health", [], {})),
])
def test_plain_forms_are_recognised(argv: list[str], expected: Call) -> None:
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
    ["status"], ["status", "a", "b"],
    ["list", "--limit", "x"], ["list", "--limit", "-1"], ["list", "--limit", "1", "--limit", "2"], ["list", "extra"],
    ["list", "--limit", "\u00b2"], ["list", "--limit", "1\u2460"], ["list", "--limit", "9" * 19],  # digits int() refuses or too big
    ["health", "--watch"], ["tick", "now"],
    ["create", "a.json"],
    ["--json"],
])
def test_everything_else_is_left_to_typer(argv: list[str]) -> None:
    assert parse(normalize_argv(argv)) is None


@pytest.mark.parametrize("command", sorted(FORMS))
def test_each_plain_form_matches_its_typer_command(command: str) -> None:
    """The quick options are options of the typer command, with the same keyword; the positionals too;
    the quick path covers exactly the commands main.py sends it."""
    import typer.main

    from workflow_cli.cli.app import build_app

    assert set(FORMS) == set(QUICK)
    click_command = typer.main.get_command(build_app((COMMANDS[command],))).commands[command]  # type: ignore[attr-defined]
    by_flag = {flag: p.name for p in click_command.params for flag in getattr(p, "opts", [])}
    form = FORMS[command]
    for flag, (keyword, _) in form.options.items():
        assert by_flag.get(flag) == keyword, f"{command} {flag}"
    arguments = [p for p in click_command.params if p.param_type_name == "argument"]
    assert len(arguments) == form.positionals


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


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_status_list_tick_health_answer_as_typer_does(cli, sh, write, extra) -> None:  # type: ignore[no-untyped-def]
    """The console script (quick path) against the typer app in-process, on a home with a completed and
    a failed instance: the same exit codes and output."""
    ok = write("ok.json", {"version": "2.0.0", "name": "ok", "tasks": {"a": {"action": "noop"}}})
    bad = write("bad.json", {"version": "2.0.0", "name": "bad", "tasks": {"a": {"action": "command", "parameters": {"command": "exit 3"}}}})
    first = sh("--json", "run", ok).json()["id"]
    assert sh("run", bad).exit_code == 1
    for argv in (["status", first], ["status", "nosuch"], ["list"], ["list", "--limit", "1", "--status", "failed"],
                 ["list", "--sort", "bogus"], ["tick"], ["health"]):
        quick, typer_path = sh(*extra, *argv), cli(*extra, *argv)
        assert quick.exit_code == typer_path.exit_code, argv
        assert _same_shape(quick.stdout) == _same_shape(typer_path.stdout), argv
        assert _same_shape(quick.stderr) == _same_shape(typer_path.stderr), argv
