"""Agent kinds against real children, a real HTTP server and real mailbox files."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from workflow_cli.agents.kinds import check_mailbox, mailbox_paths, run_agent
from workflow_cli.agents.registry import AgentSpec

ECHO_AGENT = (
    "import json, os, sys\n"
    "p = json.load(sys.stdin)\n"
    "print('working', file=sys.stderr)\n"
    "print(json.dumps({'got': p['parameters'], 'deps': p['dependencies'], 'task': p['task_id'],\n"
    "                  'key': p['idempotency_key'], 'token': os.environ.get('AGENT_TOKEN'),\n"
    "                  'instance_env': os.environ.get('WORKFLOW_INSTANCE_ID')}))\n"
)


def command_agent(code: str, **kw: Any) -> AgentSpec:
    return AgentSpec(id="cmd", kind="command", command=(sys.executable, "-c", code), source="home", **kw)


def test_command_agent_gets_payload_on_stdin(make_ctx):
    ctx, lines = make_ctx({"agent_id": "cmd", "dependencies": ["prep"]}, parameters={"text": "hi there"},
                          dependencies_outputs={"prep": {"n": 1}})
    from workflow_cli.agents.payload import build_payload

    result = run_agent(command_agent(ECHO_AGENT, env={"AGENT_TOKEN": "t0k"}), build_payload(ctx), ctx, home_root=None)
    assert result.ok, result
    assert result.outputs == {"got": {"text": "hi there"}, "deps": {"prep": {"n": 1}}, "task": "work",
                              "key": "20250101-000000-000abc:work", "token": "t0k", "instance_env": "20250101-000000-000abc"}
    assert "[stderr] working" in lines


@pytest.mark.parametrize(
    ("code", "kind", "words"),
    [
        ("import sys; sys.stdin.read(); print('not json at all')", "output", "instead of a JSON result"),
        ("import sys; sys.stdin.read()", "output", "printed nothing"),
        ("import sys; sys.stdin.read(); print('bad input', file=sys.stderr); sys.exit(4)", "error", "exited with code 4: bad input"),
    ],
)
def test_command_agent_failures(make_ctx, code, kind, words):
    ctx, _ = make_ctx({"agent_id": "cmd"})
    result = run_agent(command_agent(code), {"parameters": {}}, ctx, home_root=None)
    assert not result.ok and result.kind == kind and words in result.error
    if kind == "error":
        assert result.exit_code == 4


def test_command_agent_timeout_from_agent_definition(make_ctx):
    ctx, _ = make_ctx({"agent_id": "cmd"})
    started = time.monotonic()
    result = run_agent(command_agent("import time; time.sleep(30)", timeout_seconds=0.5), {}, ctx, home_root=None)
    assert result.kind == "timeout" and time.monotonic() - started < 10


def test_shell_syntax_in_a_parameter_is_inert_data(make_ctx, tmp_path):
    marker = tmp_path / "pwned"
    value = f"$(touch {marker}); `touch {marker}`; touch {marker}"
    agent = AgentSpec(id="sh", kind="command", source="home",
                      command=f"{sys.executable} -c 'import json,sys; print(json.dumps(json.load(sys.stdin)[\"parameters\"]))'")
    ctx, _ = make_ctx({"agent_id": "sh"}, parameters={"name": value})
    from workflow_cli.agents.payload import build_payload

    result = run_agent(agent, build_payload(ctx), ctx, home_root=None)
    assert result.ok, result
    assert result.outputs == {"name": value}
    assert not marker.exists()


@pytest.fixture
def agent_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module with agent callables, importable for the test."""
    folder = tmp_path / "mods"
    folder.mkdir()
    (folder / "wf_agent_targets.py").write_text(
        "def double(payload):\n"
        "    return {'doubled': payload['parameters']['n'] * 2, 'attempt': payload['attempt']}\n"
        "def boom(payload):\n"
        "    raise RuntimeError('agent broke')\n"
        "def slow(payload):\n"
        "    import time; time.sleep(5)\n"
    )
    monkeypatch.syspath_prepend(str(folder))
    return "wf_agent_targets"


def test_python_agent(make_ctx, agent_module):
    ctx, lines = make_ctx({"agent_id": "py"})
    ok = run_agent(AgentSpec(id="py", kind="python", callable=f"{agent_module}:double"),
                   {"parameters": {"n": 21}, "attempt": 3}, ctx, home_root=None)
    assert ok.ok and ok.outputs == {"doubled": 42, "attempt": 3}
    bad = run_agent(AgentSpec(id="py", kind="python", callable=f"{agent_module}:boom"), {}, ctx, home_root=None)
    assert not bad.ok and "RuntimeError: agent broke" in bad.error and any("Traceback" in line for line in lines)
    missing = run_agent(AgentSpec(id="py", kind="python", callable=f"{agent_module}:nope"), {}, ctx, home_root=None)
    assert not missing.ok and "no attribute" in missing.error
    ctx.timeout = 0.2
    slow = run_agent(AgentSpec(id="py", kind="python", callable=f"{agent_module}:slow"), {}, ctx, home_root=None)
    assert slow.kind == "timeout"


class _Handler(BaseHTTPRequestHandler):
    seen: list[tuple[str, dict[str, str], Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.seen.append((self.path, dict(self.headers), body))
        status, reply = {"/ok": (200, json.dumps({"echo": body.get("parameters")})), "/fail": (503, "busy"),
                         "/text": (200, "plain words")}.get(self.path, (404, "no"))
        data = reply.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def http_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 in a thread; yields its base URL."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_agent(make_ctx, http_server):
    ctx, lines = make_ctx({"agent_id": "web"})
    secret = "Bearer super-secret-token"
    agent = AgentSpec(id="web", kind="http", url=f"{http_server}/ok", headers={"Authorization": secret}, source="home")
    result = run_agent(agent, {"parameters": {"q": 1}}, ctx, home_root=None)
    assert result.ok and result.outputs == {"echo": {"q": 1}}
    path, headers, body = _Handler.seen[-1]
    assert headers["Authorization"] == secret and headers["Content-Type"] == "application/json"
    assert not any("super-secret" in line for line in lines) and any("Authorization" in line for line in lines)
    failed = run_agent(AgentSpec(id="web", kind="http", url=f"{http_server}/fail"), {}, ctx, home_root=None)
    assert not failed.ok and failed.kind == "error" and "HTTP 503" in failed.error
    text = run_agent(AgentSpec(id="web", kind="http", url=f"{http_server}/text"), {}, ctx, home_root=None)
    assert not text.ok and text.kind == "output"


def test_http_agent_refuses_metadata_address_and_hosts_outside_allow_list(make_ctx, http_server):
    ctx, _ = make_ctx({"agent_id": "web"})
    meta = run_agent(AgentSpec(id="m", kind="http", url="http://169.254.169.254/latest"), {}, ctx, home_root=None)
    assert not meta.ok and "metadata" in meta.error
    ctx.config = {"allow_hosts": ["api.example.com"]}
    doc_agent = AgentSpec(id="w", kind="http", url=f"{http_server}/ok", source="workflow")
    assert "allow_hosts" in run_agent(doc_agent, {}, ctx, home_root=None).error
    home_agent = AgentSpec(id="w", kind="http", url=f"{http_server}/ok", source="home")
    assert run_agent(home_agent, {"parameters": {}}, ctx, home_root=None).ok


def test_mailbox_write_reply_and_malformed(make_ctx, agent_home):
    ctx, _ = make_ctx({"agent_id": "box"})
    agent = AgentSpec(id="box", kind="mailbox", source="home")
    inbox, outbox = mailbox_paths(agent_home.root, "box", ctx.instance_id, ctx.task_id)
    outbox.parent.mkdir(parents=True)
    outbox.write_text('{"status": "completed", "result": {"stale": true}}')  # a reply to an earlier attempt
    result = run_agent(agent, {"task_id": "work", "parameters": {"x": 1}}, ctx, home_root=agent_home.root)
    assert result.ok and result.waiting["kind"] == "mailbox" and result.waiting["reply"] == str(outbox)
    assert json.loads(inbox.read_text())["parameters"] == {"x": 1}
    assert oct(inbox.stat().st_mode & 0o777) == "0o600" and oct(inbox.parent.stat().st_mode & 0o777) == "0o700"
    assert check_mailbox(result.waiting, agent_home) is None  # the stale reply was removed
    outbox.write_text(json.dumps({"status": "completed", "result": {"answer": 42}}))
    assert check_mailbox(result.waiting, agent_home).outputs == {"answer": 42}
    outbox.write_text(json.dumps({"status": "failed", "error": "could not do it"}))
    failed = check_mailbox(result.waiting)
    assert not failed.ok and failed.error == "could not do it"
    outbox.write_text("{not json")
    old = time.time() - 60
    os.utime(outbox, (old, old))
    malformed = check_mailbox(result.waiting, agent_home)
    assert not malformed.ok and malformed.kind == "output" and str(outbox) in malformed.error
    outbox.write_text('{"status": "maybe"}')
    assert check_mailbox(result.waiting, agent_home).kind == "output"


def test_mailbox_reply_being_written_is_waited_for(make_ctx, agent_home):
    ctx, _ = make_ctx({"agent_id": "box"})
    result = run_agent(AgentSpec(id="box", kind="mailbox"), {}, ctx, home_root=agent_home.root)
    outbox = Path(result.waiting["reply"])
    outbox.write_text('{"status": "compl')
    assert check_mailbox(result.waiting, agent_home) is None
