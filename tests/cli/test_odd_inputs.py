"""Odd inputs (SPEC 16): exit 2 (or 4/5) with a clear message, never a hang, never exit 1 "unexpected".

Every call goes through the installed console script with a timeout, so a command that blocks on a FIFO or
reads /dev/zero forever fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

PARAMS_TEMPLATE = """\
version: "2.0.0"
name: odd
parameters:
  items: {type: array, default: []}
  text: {type: string, default: a}
tasks:
  t: {action: noop}
"""
CONSOLE = str(Path(sys.executable).with_name("workflow-cli"))


def _ok_doc(tasks: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"version": "2.0.0", "name": "odd", "tasks": tasks or {"a": {"action": "noop"}}, **extra}


def _assert_clean(res: Any, codes: tuple[int, ...] = (2,), words: tuple[str, ...] = ()) -> None:
    assert res.exit_code in codes, res
    assert "unexpected" not in res.stderr and res.stderr.strip(), res
    for word in words:
        assert word in res.stderr, (word, res)


def _special_file(kind: str, tmp_path: Path) -> str:
    if kind == "fifo":
        os.mkfifo(tmp_path / "fifo")
        return str(tmp_path / "fifo")
    if kind == "folder":
        return str(tmp_path)
    return {"dev-zero": "/dev/zero", "dev-urandom": "/dev/urandom", "empty-name": ""}[kind]


@pytest.mark.parametrize("command", ["validate", "create", "run"])
@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "dev-urandom", "folder", "empty-name"])
def test_params_file_that_is_not_a_regular_file_is_refused_at_once(
        sh: Any, write: Any, home: Path, tmp_path: Path, command: str, kind: str) -> None:
    res = sh(command, write("odd.yaml", PARAMS_TEMPLATE), "--params-file", _special_file(kind, tmp_path))
    _assert_clean(res, words=("--params-file" if kind == "empty-name" else "file",))
    assert [p for p in (home / "instances").iterdir()] == []


BAD_DOCUMENTS = {
    "lone-surrogate-in-name": ('{"version": "2.0.0", "name": "x\\ud800", "tasks": {"a": {"action": "noop"}}}', "name"),
    "lone-surrogate-in-key": ('{"version": "2.0.0", "name": "x", "tasks": {"a\\udfff": {"action": "noop"}}}', "Unicode"),
    "yaml-integer-5000-digits": ('version: "2.0.0"\nname: big\nmax_parallel: ' + "9" * 5000 + "\ntasks:\n  a: {action: noop}\n", "digits"),
    "json-integer-5000-digits": ('{"version": "2.0.0", "name": "x", "max_parallel": ' + "9" * 5000 + ', "tasks": {"a": {"action": "noop"}}}', "too large"),
    "task-id-255-characters": (json.dumps(_ok_doc({"a" * 255: {"action": "command", "parameters": {"command": "true"}}})), "at most"),
    "tolerated-failures-150-percent": (json.dumps(_ok_doc({"a": {"action": "noop", "foreach": "{{ [1, 2] }}",
                                                                "foreach_tolerated_failures": "150%"}})), "150%"),
}


@pytest.mark.parametrize("command", ["validate", "create", "run"])
@pytest.mark.parametrize("case", sorted(BAD_DOCUMENTS))
def test_bad_documents_are_refused_at_validate_and_create(sh: Any, write: Any, home: Path, command: str, case: str) -> None:
    text, word = BAD_DOCUMENTS[case]
    suffix = ".yaml" if case.startswith("yaml") else ".json"
    res = sh(command, write(f"doc{suffix}", text))
    _assert_clean(res, words=(word,))
    assert [p for p in (home / "instances").iterdir()] == []


def test_a_lone_surrogate_in_a_params_file_is_refused(sh: Any, write: Any) -> None:
    res = sh("create", write("odd.yaml", PARAMS_TEMPLATE), "--params-file", write("p.json", '{"text": "\\ud800"}'))
    _assert_clean(res, words=("Unicode",))


def test_a_param_value_that_is_not_utf8_is_refused(home: Path, write: Any, log_dir: Path) -> None:
    import subprocess

    env = {**os.environ, "WORKFLOW_HOME": str(home), "WORKFLOW_CLI_LOG_DIR": str(log_dir)}
    proc = subprocess.run([os.fsencode(CONSOLE), b"create", os.fsencode(write("odd.yaml", PARAMS_TEMPLATE)),
                           b"--param", b"text=\xff\xfe"], env=env, capture_output=True, timeout=60)
    assert proc.returncode == 2 and b"UTF-8" in proc.stderr and b"unexpected" not in proc.stderr, proc.stderr


@pytest.mark.parametrize(("pair", "word"), [("items=null", "null"), ("items=5", "array")])
def test_a_param_of_the_wrong_type_is_refused(sh: Any, write: Any, pair: str, word: str) -> None:
    _assert_clean(sh("create", write("odd.yaml", PARAMS_TEMPLATE), "--param", pair), words=(word,))


@pytest.mark.parametrize("command", ["status", "logs", "resume", "stop", "audit"])
def test_an_id_longer_than_any_file_name_is_not_found(sh: Any, command: str) -> None:
    _assert_clean(sh(command, "a" * 10_000), codes=(4,), words=("no instance",))


def test_an_empty_home_option_is_refused_not_replaced_by_another_home(sh: Any, tmp_path: Path) -> None:
    res = sh("--home", "", "list", cwd=tmp_path)
    _assert_clean(res, words=("--home",))


@pytest.mark.parametrize("interval", ["0", "0.0", "0.01"])
def test_health_watch_with_a_zero_interval_is_refused(sh: Any, interval: str) -> None:
    _assert_clean(sh("health", "--watch", "--interval", interval), words=("--interval",))


def test_report_events_into_a_missing_folder(sh: Any, write: Any, tmp_path: Path) -> None:
    res = sh("run", write("doc.json", _ok_doc()), "--events", tmp_path / "missing" / "dir" / "x.jsonl")
    _assert_clean(res, words=("does not exist",))


def _unprivileged() -> list[str] | None:
    """How to run the console script without the power to ignore file modes (None: not possible here)."""
    if os.geteuid() != 0:
        return [CONSOLE]
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--", CONSOLE]


@pytest.mark.parametrize("command", [("create", "DOC"), ("run", "DOC"), ("health",), ("list",), ("status", "X")])
@pytest.mark.parametrize("damage", ["read-only", "unreadable"])
def test_a_home_that_cannot_be_written_or_read_is_a_clear_error(
        sh: Any, write: Any, home: Path, command: tuple[str, ...], damage: str) -> None:
    runner = _unprivileged()
    if runner is None:
        pytest.skip("running as root without setpriv: file modes cannot be enforced")
    doc = write("doc.json", _ok_doc())
    args = [str(doc) if a == "DOC" else "20261121-0000" if a == "X" else a for a in command]
    modes = {p: p.stat().st_mode for p in [home, *home.rglob("*")]}
    try:
        if damage == "read-only":
            for path in modes:
                path.chmod(path.stat().st_mode & ~0o222)
        else:
            home.chmod(0)
        res = sh(*args, executable=runner)
    finally:
        for path, mode in sorted(modes.items(), key=lambda kv: len(kv[0].parts)):
            path.chmod(mode)
    if damage == "read-only" and command[0] in ("list", "status"):
        assert res.exit_code in (0, 4), res  # reading needs no write access
        return
    _assert_clean(res, codes=(2, 4, 5), words=(str(home),))


def test_a_home_under_an_unknown_users_tilde_is_exit_2(sh) -> None:  # type: ignore[no-untyped-def]
    result = sh("--home", "~no-such-user-here/flows", "list")
    assert result.exit_code == 2 and "cannot expand '~no-such-user-here' (no such user)" in result.stderr


def test_an_empty_template_filter_is_exit_2(sh) -> None:  # type: ignore[no-untyped-def]
    result = sh("list", "--template", "")
    assert result.exit_code == 2 and "--template: the template name is empty" in result.stderr


@pytest.mark.parametrize("argv", [["status", "nosuch"], ["--no-color", "--no-color", "status", "nosuch"]])
def test_a_json_error_to_a_reader_that_left_keeps_its_exit_code(sh, argv: list[str]) -> None:  # type: ignore[no-untyped-def]
    """stdout is a pipe whose reader is gone before the JSON error document is written (quick path and
    typer path): the message is on stderr, the exit code is the error's, no traceback."""
    import subprocess

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([CONSOLE, "--json", *argv], stdout=write_end, stderr=subprocess.PIPE, text=True,
                              env=sh.env, timeout=60)
    finally:
        os.close(write_end)
    assert proc.returncode == 4, proc.stderr
    assert "no instance matches 'nosuch'" in proc.stderr and "Traceback" not in proc.stderr


def test_a_closed_stdout_is_no_crash(sh, write) -> None:  # type: ignore[no-untyped-def]
    """``workflow-cli ... >&-``: nothing to print to, the command still does its work and exits as usual."""
    import subprocess

    doc = write("one.json", _ok_doc())
    for argv in (["--json", "run", str(doc)], ["--json", "status", "nosuch"]):
        proc = subprocess.run(["bash", "-c", 'exec >&-; exec "$0" "$@"', CONSOLE, *argv], stderr=subprocess.PIPE, text=True,
                              env=sh.env, timeout=60)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode == (0 if argv[1] == "run" else 4), proc.stderr
    assert sh("-q", "list").stdout.count("\n") == 1  # the run was made
