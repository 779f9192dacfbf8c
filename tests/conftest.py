"""Shared fixtures: a fresh home, an in-process CLI runner, a subprocess runner and a tree snapshot.

Every CLI call made through ``cli`` or ``sh`` also checks the one rule that holds for every
command (SPEC 8, 16): nothing ever prints a Python traceback, and an in-process call never ends in
an exception other than ``SystemExit``.
"""

from __future__ import annotations

import inspect
import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pytest

CONSOLE_SCRIPT = Path(sys.executable).with_name("workflow-cli")


@dataclass
class CliResult:
    """What one CLI call produced."""

    args: list[str]
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None

    def json(self) -> Any:
        """The one JSON document on stdout."""
        try:
            return json.loads(self.stdout)
        except ValueError as exc:  # pragma: no cover - a failing test explains itself
            raise AssertionError(f"stdout of {self.args} is not JSON: {self.stdout!r} (stderr: {self.stderr!r})") from exc

    def __repr__(self) -> str:
        text = f"<CliResult {self.args} exit={self.exit_code} stdout={self.stdout[:300]!r} stderr={self.stderr[:600]!r}>"
        return text + _unexpected_error_details(self.stderr)


def _unexpected_error_details(stderr: str) -> str:
    """The log an unexpected error points to ("details in PATH"), so a failing test shows it."""
    import re

    match = re.search(r"details in (\S+?)\)?$", stderr, re.MULTILINE)
    if not match:
        return ""
    try:
        return "\n--- " + match.group(1) + " ---\n" + Path(match.group(1)).read_text()
    except OSError:
        return ""


def assert_no_traceback(result: CliResult) -> None:
    """No user-visible traceback, whatever the outcome."""
    assert "Traceback" not in result.stderr, result
    assert "Traceback" not in result.stdout, result


def snapshot_tree(path: Path) -> dict[str, tuple[int, int, int]]:
    """Every file and folder under ``path`` (itself included) as relpath -> (size, mtime_ns, mode)."""
    path = Path(path)
    tree: dict[str, tuple[int, int, int]] = {}
    if not path.exists():
        return tree
    st = path.lstat()
    tree["."] = (0, st.st_mtime_ns, st.st_mode)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            full = Path(root, name)
            st = full.lstat()
            size = 0 if stat.S_ISDIR(st.st_mode) else st.st_size
            tree[str(full.relative_to(path))] = (size, st.st_mtime_ns, st.st_mode)
    return tree


def _make_runner() -> Any:
    from typer.testing import CliRunner

    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        return CliRunner(mix_stderr=False)
    return CliRunner()


def invoke_in_process(args: Sequence[str], *, env: Mapping[str, str | None] | None = None, input: str | None = None) -> CliResult:
    """Run the CLI in this process (global options after the command are hoisted as by ``main``)."""
    from workflow_cli.cli.app import app, normalize_argv

    argv = normalize_argv([str(a) for a in args])
    base_env: dict[str, str | None] = {"NO_COLOR": "1", "COLUMNS": "200", "WORKFLOW_HOME": None}
    base_env.update(env or {})
    raw = _make_runner().invoke(app, argv, env=base_env, input=input, catch_exceptions=True)
    try:
        stderr = raw.stderr
    except ValueError:  # an old click that mixed stderr into stdout
        stderr = ""
    result = CliResult(list(argv), raw.exit_code, raw.stdout, stderr, raw.exception)
    if raw.exception is not None and not isinstance(raw.exception, SystemExit):
        import traceback

        detail = "".join(traceback.format_exception(type(raw.exception), raw.exception, raw.exception.__traceback__))
        raise AssertionError(f"{argv} raised instead of exiting cleanly:\n{detail}")
    assert_no_traceback(result)
    return result


@pytest.fixture(autouse=True, scope="session")
def _private_secret_key(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Keep every test (and every CLI subprocess it starts) away from the user's real config folder:
    the secret key file is made under a temporary ``XDG_CONFIG_HOME``; ``WORKFLOW_SECRET_KEY`` is unset."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
        mp.delenv("WORKFLOW_SECRET_KEY", raising=False)
        yield


@pytest.fixture(autouse=True)
def _private_cwd(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in a folder of its own (beside its tmp_path, not in it): instances take the current
    directory as their base directory (SPEC 6.2), so files their command tasks write never land in the
    repository."""
    path = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(path)
    return path


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """Where unexpected-error logs go (kept out of the system temp folder)."""
    path = tmp_path / "error-logs"
    path.mkdir()
    return path


@pytest.fixture
def home(tmp_path: Path, log_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home folder made by ``workflow-cli init`` (example template and agents included)."""
    monkeypatch.setenv("WORKFLOW_CLI_LOG_DIR", str(log_dir))
    monkeypatch.delenv("WORKFLOW_HOME", raising=False)
    path = tmp_path / "home"
    result = invoke_in_process(["init", str(path)])
    assert result.exit_code == 0, result
    return path


class InProcessCli:
    """``cli("status", id, "--json")``: the CLI in-process with ``--home`` prepended."""

    def __init__(self, home_dir: Path, log_dir: Path) -> None:
        self.home = home_dir
        self.env = {"WORKFLOW_CLI_LOG_DIR": str(log_dir)}

    def __call__(self, *args: Any, env: Mapping[str, str | None] | None = None, input: str | None = None) -> CliResult:
        return self.raw("--home", str(self.home), *args, env=env, input=input)

    def raw(self, *args: Any, env: Mapping[str, str | None] | None = None, input: str | None = None) -> CliResult:
        """Without ``--home``."""
        return invoke_in_process([str(a) for a in args], env={**self.env, **(env or {})}, input=input)


@pytest.fixture
def cli(home: Path, log_dir: Path) -> InProcessCli:
    """The CLI run in-process against ``home``."""
    return InProcessCli(home, log_dir)


class SubprocessCli:
    """``sh("status", id, "--json")``: the installed console script, with WORKFLOW_HOME and NO_COLOR=1."""

    def __init__(self, home_dir: Path, log_dir: Path) -> None:
        self.home = home_dir
        self.env = {**os.environ, "WORKFLOW_HOME": str(home_dir), "NO_COLOR": "1", "WORKFLOW_CLI_LOG_DIR": str(log_dir)}

    def __call__(self, *args: Any, env: Mapping[str, str] | None = None, executable: Sequence[str] | None = None, cwd: Path | None = None) -> CliResult:
        argv = [*(executable or [str(CONSOLE_SCRIPT)]), *(str(a) for a in args)]
        proc = subprocess.run(argv, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=60, cwd=cwd)
        result = CliResult(argv, proc.returncode, proc.stdout, proc.stderr)
        assert_no_traceback(result)
        return result


@pytest.fixture
def sh(home: Path, log_dir: Path) -> SubprocessCli:
    """The console script ``workflow-cli`` next to ``sys.executable``, run as a subprocess."""
    assert CONSOLE_SCRIPT.exists(), f"console script not installed at {CONSOLE_SCRIPT}"
    return SubprocessCli(home, log_dir)


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """``write("doc.json", text_or_obj)``: a file under tmp_path/inputs (objects are dumped as JSON)."""
    folder = tmp_path / "inputs"
    folder.mkdir(exist_ok=True)

    def _write(name: str, content: Any) -> Path:
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_text(json.dumps(content), encoding="utf-8")
        return path

    return _write


@pytest.fixture(name="snapshot_tree")
def _snapshot_tree_fixture() -> Callable[[Path], dict[str, tuple[int, int, int]]]:
    """The ``snapshot_tree`` helper, for test modules (conftest is not importable under importlib mode)."""
    return snapshot_tree
