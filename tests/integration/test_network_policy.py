"""One network policy and one connection path for ``api_call``, ``http`` agents and hooks (SPEC 14 "Network").

A real HTTP server on 127.0.0.1 is reached by the name ``localhost`` (resolved, checked, then dialled by
address with ``Host: localhost`` kept); metadata addresses are refused by every path; and a resolver that
answers differently the second time (DNS rebinding) is asked only once: the checked address is the one
dialled.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from workflow_cli.actions.api_call import ApiCallAction
from workflow_cli.actions.base import ActionContext, ActionResult
from workflow_cli.agents.http_agent import run_http
from workflow_cli.agents.registry import AgentSpec

METADATA_URLS = ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://100.100.100.200/",
                 "http://metadata.google.internal/computeMetadata/v1/", "http://169.254.10.1/"]


class _Echo(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        _Echo.seen.append({"method": self.command, "path": self.path, "host": self.headers.get("Host"), "body": body})
        if self.path.startswith("/redirect-to-metadata"):
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/")
            self.end_headers()
            return
        data = json.dumps({"ok": True, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer  # noqa: N815 - http.server's names

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    srv = HTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    _Echo.seen = []
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def _ctx(tmp_path: Path, params: dict[str, Any] | None = None, config: dict[str, Any] | None = None) -> ActionContext:
    return ActionContext(instance_id="i", task_id="t", attempt=1, parameters=params or {}, workspace=tmp_path,
                         log=lambda line: None, config=config or {}, timeout=20)


def _api(tmp_path: Path, url: str, config: dict[str, Any] | None = None) -> ActionResult:
    return ApiCallAction().run(_ctx(tmp_path, {"url": url, "method": "POST", "json": {"x": 1}}, config))


def _agent(tmp_path: Path, url: str, config: dict[str, Any] | None = None, source: str = "workflow") -> ActionResult:
    return run_http(AgentSpec(id="web", kind="http", url=url, source=source), {"parameters": {"x": 1}},
                    _ctx(tmp_path, config=config), 20)


CALLERS = {"api_call": _api, "http_agent": _agent}


@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_a_host_name_is_resolved_checked_and_dialled_with_its_host_header(server: int, tmp_path: Path, caller: str) -> None:
    result = CALLERS[caller](tmp_path, f"http://localhost:{server}/hello")
    assert result.ok, result
    assert _Echo.seen[-1]["host"] == f"localhost:{server}" and _Echo.seen[-1]["path"] == "/hello"


@pytest.mark.parametrize("url", METADATA_URLS)
@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_metadata_addresses_are_refused_by_every_path(tmp_path: Path, caller: str, url: str) -> None:
    result = CALLERS[caller](tmp_path, url)
    assert not result.ok and result.kind == "refused" and "metadata" in result.error, result


@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_allow_hosts_binds_every_path(server: int, tmp_path: Path, caller: str) -> None:
    refused = CALLERS[caller](tmp_path, f"http://localhost:{server}/", {"allow_hosts": ["api.example.com"]})
    assert not refused.ok and refused.kind == "refused" and "allow_hosts" in refused.error
    assert CALLERS[caller](tmp_path, f"http://localhost:{server}/", {"allow_hosts": ["localhost"]}).ok
    assert _Echo.seen and all(hit["host"] == f"localhost:{server}" for hit in _Echo.seen)


@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_a_name_that_rebinds_after_the_check_is_never_looked_up_again(
        server: int, tmp_path: Path, caller: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """First answer 127.0.0.1 (passes), any later answer the metadata address: only the first is ever used."""
    real = socket.getaddrinfo
    calls: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            calls.append(host)
            address = "127.0.0.1" if len(calls) == 1 else "169.254.169.254"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    result = CALLERS[caller](tmp_path, f"http://rebind.test:{server}/once")
    assert result.ok, result
    assert calls == ["rebind.test"] and _Echo.seen[-1]["host"] == f"rebind.test:{server}"


def test_a_redirect_to_a_metadata_address_is_refused(server: int, tmp_path: Path) -> None:
    result = ApiCallAction().run(_ctx(tmp_path, {"url": f"http://localhost:{server}/redirect-to-metadata"}))
    assert not result.ok and result.kind == "refused" and "metadata" in result.error
    agent = _agent(tmp_path, f"http://localhost:{server}/redirect-to-metadata")
    assert not agent.ok and "302" in agent.error  # an agent never follows a redirect


def test_hooks_go_through_the_same_policy(server: int, tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("workflow-cli")
    home = tmp_path / "home"
    env = {"PATH": "/usr/bin:/bin", "WORKFLOW_HOME": str(home), "NO_COLOR": "1", "WORKFLOW_CLI_LOG_DIR": str(tmp_path)}
    assert subprocess.run([str(script), "init", str(home)], env=env, capture_output=True, timeout=60).returncode == 0
    hook = [{"action": "api_call", "parameters": {"method": "POST", "url": url}}
            for url in (f"http://localhost:{server}/hook", "http://169.254.169.254/latest/")]
    doc = {"version": "2.0.0", "name": "hooked", "hooks": {"workflow.completed": hook},
           "tasks": {"a": {"action": "noop"}}}
    (tmp_path / "doc.json").write_text(json.dumps(doc))
    res = subprocess.run([str(script), "run", "--json", str(tmp_path / "doc.json")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    instance = json.loads(res.stdout)["id"]
    assert [hit["path"] for hit in _Echo.seen] == ["/hook"] and _Echo.seen[0]["host"] == f"localhost:{server}"
    log = (home / "instances" / instance / "logs" / "hooks.log").read_text()
    assert "metadata" in log and "failed" in log
