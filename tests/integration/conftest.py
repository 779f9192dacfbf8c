"""End-to-end fixtures: the installed ``workflow-cli`` console script, run as a subprocess in a fresh home.

Every test gets its own home made by ``workflow-cli init`` and talks to it only through the console
script (``WORKFLOW_HOME``, ``NO_COLOR=1``), so what is checked is what a user or a cron job sees:
exit codes, ``--json`` documents, files and event logs. No call may ever print a traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest

CONSOLE_SCRIPT = Path(sys.executable).with_name("workflow-cli")
# Variables of the caller's shell that would change what a test sees.
_SCRUBBED = ("WORKFLOW_HOME", "WORKFLOW_CLI_TIME_OFFSET", "WORKFLOW_CLI_DETACHED", "NO_COLOR", "FORCE_COLOR")


@dataclass
class Run:
    """What one console-script call produced."""

    args: list[str]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The one JSON document on stdout."""
        try:
            return json.loads(self.stdout)
        except ValueError as exc:
            raise AssertionError(f"stdout is not JSON: {self.why}") from exc

    @property
    def last_line(self) -> str:
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        assert lines, self.why
        return lines[-1].strip()

    @property
    def why(self) -> str:
        """The whole story of the call, for assertion messages (with the log of an unexpected error)."""
        text = f"{self.args[1:]} exit={self.code}\n--- stdout\n{self.stdout[-1500:]}\n--- stderr\n{self.stderr[-3000:]}"
        match = re.search(r"details in (\S+?)\)?$", self.stderr, re.MULTILINE)
        if match:
            try:
                text += f"\n--- {match.group(1)}\n" + Path(match.group(1)).read_text(encoding="utf-8")[-4000:]
            except OSError:
                pass
        return text

    def __repr__(self) -> str:
        return f"<Run {self.args[1:]} exit={self.code}>"


def _no_traceback(run: Run) -> Run:
    assert "Traceback" not in run.stdout and "Traceback" not in run.stderr, run.why
    return run


class Cli:
    """The console script against one home: ``wf("run", doc)``, ``wf.json("status", iid)``, ``wf.events(iid)``."""

    def __init__(self, home: Path, tmp: Path) -> None:
        self.home = home
        self.tmp = tmp
        base = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
        self.env = {**base, "WORKFLOW_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200",
                    "WORKFLOW_CLI_LOG_DIR": str(tmp / "error-logs")}

    def argv(self, *args: Any) -> list[str]:
        return [str(CONSOLE_SCRIPT), *(str(a) for a in args)]

    def environ(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        return {**self.env, **(env or {})}

    def __call__(self, *args: Any, env: Mapping[str, str] | None = None, timeout: float = 60, cwd: Path | None = None) -> Run:
        argv = self.argv(*args)
        proc = subprocess.run(argv, env=self.environ(env), capture_output=True, text=True, timeout=timeout,
                              cwd=cwd or self.tmp, stdin=subprocess.DEVNULL)
        return _no_traceback(Run(argv, proc.returncode, proc.stdout, proc.stderr))

    def popen(self, *args: Any, env: Mapping[str, str] | None = None) -> subprocess.Popen:
        """Start a call in the background (stdout/stderr captured)."""
        return subprocess.Popen(self.argv(*args), env=self.environ(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True, cwd=self.tmp)

    def json(self, *args: Any, code: int | None = 0, env: Mapping[str, str] | None = None, timeout: float = 60) -> Any:
        """``--json`` call whose exit code is ``code`` (None: any); its JSON document."""
        run = self("--json", *args, env=env, timeout=timeout)
        if code is not None:
            assert run.code == code, run.why
        return run.json()

    def create(self, source: Any, *params: str, env: Mapping[str, str] | None = None) -> str:
        """``create SOURCE --param k=v ...``; the new instance id."""
        args: list[Any] = ["create", source]
        for pair in params:
            args += ["--param", pair]
        run = self("--quiet", *args, env=env)
        assert run.code == 0, run.why
        return run.last_line

    def status(self, iid: str) -> dict[str, Any]:
        return self.json("status", iid)

    def instance_dir(self, iid: str) -> Path:
        return self.home / "instances" / iid

    def events(self, iid: str) -> list[dict[str, Any]]:
        path = self.instance_dir(iid) / "events.jsonl"
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def event_types(self, iid: str) -> list[str]:
        return [e["type"] for e in self.events(iid)]

    def log(self, iid: str, task: str) -> str:
        return (self.instance_dir(iid) / "logs" / f"{task}.log").read_text(encoding="utf-8", errors="replace")

    def header(self, iid: str) -> dict[str, Any]:
        return json.loads((self.instance_dir(iid) / "instance.json").read_text(encoding="utf-8"))

    def write_agents(self, agents: Mapping[str, Any]) -> Path:
        """Replace ``<home>/agents.yaml`` with these agent definitions (JSON is YAML)."""
        path = self.home / "agents.yaml"
        path.write_text(json.dumps({"agents": dict(agents)}, indent=2), encoding="utf-8")
        return path

    def instance_ids(self) -> list[str]:
        folder = self.home / "instances"
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) if folder.is_dir() else []


@pytest.fixture
def wf(tmp_path: Path) -> Cli:
    """A fresh home made by ``workflow-cli init``, driven through the console script."""
    assert CONSOLE_SCRIPT.exists(), f"console script not installed at {CONSOLE_SCRIPT}"
    (tmp_path / "error-logs").mkdir()
    cli = Cli(tmp_path / "home", tmp_path)
    run = cli("init", cli.home)
    assert run.code == 0, run.why
    return cli


@pytest.fixture
def doc(tmp_path: Path) -> Callable[[str, Any], Path]:
    """``doc("name.yaml", text_or_mapping)``: a document file under tmp_path/docs (mappings dumped as JSON)."""
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)

    def _write(name: str, content: Any) -> Path:
        path = folder / name
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
        return path

    return _write


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(name="wait_for")
def _wait_for_fixture() -> Callable[..., Any]:
    """The ``wait_for`` helper (conftest modules are not importable under --import-mode=importlib)."""
    return wait_for

