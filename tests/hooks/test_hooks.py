"""Event hooks (SPEC 9): an action runs with the event as payload; a failing hook never fails the run."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("workflow-cli")


def wf(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "WORKFLOW_HOME": str(home), "NO_COLOR": "1"}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    assert wf(tmp_path / "home", "init", str(tmp_path / "home")).returncode == 0
    return tmp_path / "home"


class _Sink(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _Sink.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_command_and_api_call_hooks_get_the_event(home: Path, tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Sink.received = []
    doc = {
        "version": "2.0.0",
        "name": "hooked",
        "hooks": {
            "task.failed": [
                {"action": "command", "parameters": {"command": 'cat > "$WORKFLOW_WORKSPACE/failed.json"'}},
                {"action": "command", "parameters": {"command": "exit 9"}},
                {"action": "api_call", "parameters": {"method": "POST", "url": f"http://127.0.0.1:{server.server_port}/hook"}},
            ],
            "workflow.completed": [
                {"action": "command", "parameters": {"command": 'echo {{ event.type }} >> "$WORKFLOW_WORKSPACE/done.txt"'}},
            ],
        },
        "tasks": {
            "bad": {"action": "command", "on_failure": "continue", "parameters": {"command": "exit 4"}},
            "good": {"action": "noop", "dependencies": ["bad"], "trigger_rule": "all_done"},
        },
    }
    path = tmp_path / "hooked.json"
    path.write_text(json.dumps(doc))
    try:
        result = wf(home, "--json", "run", str(path))
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr  # the failing hook (exit 9) did not fail the workflow
    iid = json.loads(result.stdout)["id"]
    workspace = home / "instances" / iid / "workspace"
    failed = json.loads((workspace / "failed.json").read_text())
    assert failed["type"] == "task.failed" and failed["data"]["task"] == "bad" and failed["data"]["exit_code"] == 4
    assert (workspace / "done.txt").read_text().strip() == "workflow.completed"
    assert [e["type"] for e in _Sink.received] == ["task.failed"] and _Sink.received[0]["seq"] == failed["seq"]
    hooks_log = (home / "instances" / iid / "logs" / "hooks.log").read_text()
    assert "task.failed[1]" in hooks_log and "failed" in hooks_log
