"""Fixtures for ``serve``: a real server started as a subprocess of the console script on 127.0.0.1.

``serve --port 0`` prints ``serving HOME on URL`` once it listens (and, on a home without tokens,
the admin login URL), so a test reads the bound URL from its stdout and talks HTTP with httpx.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

CONSOLE_SCRIPT = Path(sys.executable).with_name("workflow-cli")
SCRUBBED = ("WORKFLOW_HOME", "WORKFLOW_CLI_TIME_OFFSET", "WORKFLOW_CLI_DETACHED", "NO_COLOR")


def base_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of every process a server test starts."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update({"WORKFLOW_HOME": str(home), "NO_COLOR": "1", "WORKFLOW_CLI_LOG_DIR": str(home.parent / "error-logs")})
    env.update(extra)
    return env


def cli(home: Path, *args: Any, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The console script against ``home``; never a traceback."""
    proc = subprocess.run([str(CONSOLE_SCRIPT), *map(str, args)], env=env or base_env(home), capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def make_home(root: Path, templates: dict[str, Any], config: str | None = None) -> Path:
    """A home made by ``init`` with extra templates (name -> document) and an optional config.yaml."""
    home = root / "home"
    assert cli(home, "init", home).returncode == 0
    for name, doc in templates.items():
        (home / "templates" / f"{name}.json").write_text(json.dumps(doc))
    if config is not None:
        (home / "config.yaml").write_text(config)
    return home


_STARTED: list[Server] = []


class Server:
    """A running ``workflow-cli serve``: its URL, the admin token it made, and how to stop it."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home = home
        _STARTED.append(self)
        self.proc = subprocess.Popen([str(CONSOLE_SCRIPT), "serve", "--port", "0"], env=env or base_env(home),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.admin_token: str | None = None
        self.url = ""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if "?token=" in line:
                self.admin_token = line.strip().rsplit("?token=", 1)[1]
            if line.startswith("serving "):
                self.url = line.strip().rsplit(" ", 1)[1]
                break
        if not self.url:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"serve did not start: {self.proc.stderr.read() if self.proc.stderr else ''}")

    def client(self, token: str | None = None) -> Any:
        """An httpx client on the server, with ``token`` as its bearer."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Send ``sig``; the exit code and the server's stderr (its log)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        err = self.proc.stderr.read() if self.proc.stderr else ""
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        return self.proc.returncode, err


def wait_for(check: Callable[[], Any], *, timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns a truthy value (a bounded wait for an outcome, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {value!r})")
        time.sleep(0.05)


def status_of(client: Any, instance_id: str) -> dict[str, Any]:
    """``GET /api/v1/instances/{id}``."""
    response = client.get(f"/api/v1/instances/{instance_id}")
    assert response.status_code == 200, response.text
    return response.json()


def until_status(client: Any, instance_id: str, *states: str, timeout: float = 30.0) -> dict[str, Any]:
    """Wait until the instance is in one of ``states``; its status document."""
    doc: dict[str, Any] = {}

    def check() -> bool:
        nonlocal doc
        doc = status_of(client, instance_id)
        # a finished run is awaited until its runner has exited too (it holds the instance until then)
        return doc["status"] in states and not (doc["runner_alive"] and doc["status"] in ("completed", "failed", "cancelled", "paused"))

    wait_for(check, timeout=timeout, what=f"{instance_id} to be {'/'.join(states)}")
    return doc


@pytest.fixture(autouse=True)
def _no_server_left_behind() -> Any:
    """A server a test started and did not stop (it failed half-way) is stopped after it."""
    before = len(_STARTED)
    yield
    for server in _STARTED[before:]:
        if server.proc.poll() is None:
            server.stop()
    del _STARTED[before:]


@pytest.fixture(scope="session")
def kit() -> Any:
    """The helpers above, for test modules (conftest is not importable under importlib mode)."""
    import types

    return types.SimpleNamespace(Server=Server, cli=cli, make_home=make_home, wait_for=wait_for, status_of=status_of,
                                 until_status=until_status, base_env=base_env, httpx=httpx)
