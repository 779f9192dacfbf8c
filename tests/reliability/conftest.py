"""Fixtures for the reliability tests (SPEC 16): the installed console script run as real child processes.

Every test gets its own home folder in ``tmp_path`` (``WORKFLOW_HOME``), ``NO_COLOR=1`` and a private folder for
the logs of unexpected errors, so nothing leaks into the user's home or ``/tmp``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from workflow_cli.store.events import read_events



def _console_script() -> str:
    """The ``workflow-cli`` script installed next to the interpreter running the tests."""
    beside = Path(sys.executable).with_name("workflow-cli")
    if beside.exists():
        return str(beside)
    found = shutil.which("workflow-cli")
    if found is None:
        pytest.skip("the workflow-cli console script is not installed")
    return found


@dataclass
class Spawned:
    """A CLI process running in a session of its own, with its output captured in files."""

    proc: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    args: tuple[str, ...]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill_group(self) -> None:
        """SIGKILL the whole process group of the command (its task processes live in sessions of their own)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


@dataclass
class Cli:
    """Runs ``workflow-cli`` against one home folder."""

    home: Path
    env: dict[str, str]
    scratch: Path
    script: str = field(default_factory=_console_script)
    _count: int = 0

    def run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run a command to its end and return it (never raises on a non-zero exit)."""
        return subprocess.run([self.script, *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def spawn(self, *args: str) -> Spawned:
        """Start a command in a new session (so its whole group can be killed) and return at once."""
        self._count += 1
        out = self.scratch / f"proc-{self._count:04d}.out"
        err = self.scratch / f"proc-{self._count:04d}.err"
        with open(out, "wb") as fo, open(err, "wb") as fe:
            proc = subprocess.Popen([self.script, *args], env=self.env, stdout=fo, stderr=fe,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        return Spawned(proc, out, err, args)

    def create(self, document: Path) -> str:
        """Create an instance of a document file and return its id."""
        res = self.run("create", "--quiet", str(document))
        assert res.returncode == 0, res.stderr
        return res.stdout.strip().splitlines()[-1]

    def status(self, instance_id: str) -> dict[str, Any]:
        """The ``status --json`` document of an instance."""
        res = self.run("status", "--json", instance_id)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    def write_document(self, name: str, document: dict[str, Any]) -> Path:
        """Write a workflow document as JSON in the scratch folder and return its path."""
        path = self.scratch / name
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
        return path

    @staticmethod
    def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.01, what: str = "condition") -> None:
        """Poll ``predicate`` until it is true; fail the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                pytest.fail(f"timed out after {timeout} s waiting for {what}")
            time.sleep(interval)

    def logged(self, instance_id: str, etype: str, task: str | None = None) -> bool:
        """Whether an event of ``etype`` (for ``task``) is in the instance's log."""
        try:
            events = self.events(instance_id)
        except FileNotFoundError:
            return False
        return any(e["type"] == etype and (task is None or e["data"].get("task") == task) for e in events)

    def internal_errors(self) -> list[str]:
        """The tracebacks of unexpected errors (SPEC 8: one line on stderr, details in a log file) so far."""
        folder = Path(self.env["WORKFLOW_CLI_LOG_DIR"]) / "workflow-cli-logs"
        return [p.read_text(errors="replace") for p in sorted(folder.glob("*"))] if folder.is_dir() else []

    @staticmethod
    def no_traceback(text: str) -> bool:
        """True when ``text`` holds no Python traceback."""
        return "Traceback (most recent call last)" not in text

    def instance_dir(self, instance_id: str) -> Path:
        return self.home / "instances" / instance_id

    def events_path(self, instance_id: str) -> Path:
        return self.instance_dir(instance_id) / "events.jsonl"

    def events(self, instance_id: str) -> list[dict[str, Any]]:
        """The instance's event log, checked (contiguous seq, torn last line ignored)."""
        return read_events(self.events_path(instance_id))


def _make_cli(home: Path, base: Path) -> Cli:
    scratch = base / "scratch"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKFLOW_")}
    env.update(WORKFLOW_HOME=str(home), NO_COLOR="1", COLUMNS="160",
               WORKFLOW_CLI_LOG_DIR=str(base / "error-logs"), WORKFLOW_CLI_KILL_GRACE="0.2")
    return Cli(home=home, env=env, scratch=scratch)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty, private home folder."""
    path = tmp_path / "home"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def cli(home: Path, tmp_path: Path) -> Cli:
    """The console script bound to ``home``."""
    return _make_cli(home, tmp_path)


# quick -> slow; a runner SIGKILLed while ``slow`` runs leaves the instance "running (no runner)".
TWO_STEPS = {"version": "2.0.0", "name": "two-steps", "tasks": {
    "quick": {"action": "command", "parameters": {"command": "true"}},
    "slow": {"action": "command", "parameters": {"command": "sleep 0.5"}, "dependencies": ["quick"]},
}}


def crash_an_instance(cli: Cli) -> str:
    """Create a TWO_STEPS instance, start it and SIGKILL its runner while ``slow`` runs; return its id."""
    instance = cli.create(cli.write_document("two-steps.json", TWO_STEPS))
    runner = cli.spawn("start", instance)
    try:
        cli.wait_until(lambda: cli.logged(instance, "task.started", "slow"), timeout=20, what="the slow task to start")
    finally:
        runner.kill_group()
    return instance


@pytest.fixture(scope="session")
def _crashed_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A home holding one crashed instance, made once and copied into each test that asks for one."""
    base = tmp_path_factory.mktemp("crashed")
    home = base / "home"
    home.mkdir(mode=0o700)
    cli = _make_cli(home, base)
    instance = crash_an_instance(cli)
    assert cli.status(instance)["display_status"] == "running (no runner)"
    return home, instance


@pytest.fixture
def crashed(cli: Cli, _crashed_home: tuple[Path, str]) -> str:
    """The id of a TWO_STEPS instance whose runner died while ``slow`` ran (a private copy for this test)."""
    source, instance = _crashed_home
    shutil.copytree(source, cli.home, dirs_exist_ok=True, symlinks=True)
    return instance

