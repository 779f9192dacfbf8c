"""The api_call action against a real HTTP server on 127.0.0.1, and the host policy (SPEC 6.4, 6.5, 14)."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from workflow_cli.actions import _net as net
from workflow_cli.actions.api_call import ApiCallAction
from workflow_cli.actions.base import ActionContext, ActionResult

SECRET = "s3cr3t-token-value"


class _Handler(BaseHTTPRequestHandler):
    """Endpoints for the tests: JSON, text, errors, redirects, slow answers and an echo."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return

    def _send(self, status: int, body: bytes = b"", content_type: str = "text/plain", **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else None
        data = {"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": body}
        self._send(200, json.dumps(data).encode(), "application/json")

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/json":
            self._send(200, b'{"ok": true, "items": [1, 2]}', "application/json; charset=utf-8")
        elif path == "/text":
            self._send(200, b"hello", "text/plain; charset=utf-8")
        elif path in ("/500", "/503"):
            self._send(int(path[1:]), b"server says no")
        elif path == "/redirect":
            self._send(302, Location="/json")
        elif path == "/redirect-metadata":
            self._send(302, Location="http://169.254.169.254/latest/meta-data/")
        elif path == "/loop":
            self._send(302, Location="/loop")
        elif path == "/cookies":
            self._send(200, b"{}", "application/json", Set_Cookie="session=abc", X_Auth_Token="tok", X_Plain="visible")
        elif path == "/slow":
            time.sleep(1.5)
            try:
                self._send(200, b"late")
            except OSError:  # the client gave up first, as the test wants
                pass
        else:
            self._echo()

    def do_POST(self) -> None:
        if self.path == "/post-redirect":
            self._send(303, Location="/echo")
        else:
            self._echo()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def call(params: dict[str, Any], config: dict[str, Any] | None = None) -> tuple[ActionResult, list[str]]:
    """One attempt of the action; returns the result and the log lines."""
    lines: list[str] = []
    ctx = ActionContext(
        instance_id="inst-1", task_id="api", attempt=1, parameters=params, workspace=Path("."),
        log=lines.append, config=config or {},
    )
    return ApiCallAction().run(ctx), lines


def test_json_response(server: str) -> None:
    result, lines = call({"url": f"{server}/json"})
    assert result.ok and result.outputs["status"] == 200
    assert result.outputs["json"] == {"ok": True, "items": [1, 2]} and "text" not in result.outputs
    assert result.outputs["headers"]["content-type"].startswith("application/json")
    assert lines[0] == f"-> GET {server}/json" and "<- 200 OK" in lines


def test_text_response(server: str) -> None:
    result, _ = call({"url": f"{server}/text"})
    assert result.ok and result.outputs["text"] == "hello" and "json" not in result.outputs


def test_method_query_and_json_body(server: str) -> None:
    result, _ = call({"method": "post", "url": f"{server}/echo?a=1", "query": {"b": "x y", "flag": True}, "json": {"n": 1}})
    echo = result.outputs["json"]
    assert echo["method"] == "POST" and echo["path"] == "/echo?a=1&b=x+y&flag=true"
    assert json.loads(echo["body"]) == {"n": 1} and echo["headers"]["Content-Type"] == "application/json"


def test_status_500_is_not_retried_and_503_is(server: str) -> None:
    failed, _ = call({"url": f"{server}/500"})
    assert not failed.ok and failed.kind == "http_status" and "500" in failed.error and "server says no" in failed.error
    retried, _ = call({"url": f"{server}/503"})
    assert not retried.ok and retried.kind == "error"
    custom, _ = call({"url": f"{server}/500", "retry_on_status": [500]})
    assert custom.kind == "error"
    accepted, _ = call({"url": f"{server}/503", "expected_status": [200, 503]})
    assert accepted.ok and accepted.outputs["status"] == 503


def test_expected_status_excludes_a_2xx(server: str) -> None:
    result, _ = call({"url": f"{server}/json", "expected_status": 201})
    assert not result.ok and result.kind == "http_status"


def test_redirect_to_an_allowed_path_is_followed(server: str) -> None:
    result, lines = call({"url": f"{server}/redirect"})
    assert result.ok and result.outputs["json"]["ok"] is True
    assert [line for line in lines if line.startswith("->")] == [f"-> GET {server}/redirect", f"-> GET {server}/json"]


def test_redirect_is_returned_when_expected(server: str) -> None:
    result, _ = call({"url": f"{server}/redirect", "expected_status": 302})
    assert result.ok and result.outputs["headers"]["location"] == "/json"


def test_see_other_after_post_becomes_get(server: str) -> None:
    result, _ = call({"method": "POST", "url": f"{server}/post-redirect", "body": "payload"})
    assert result.ok and result.outputs["json"]["method"] == "GET" and result.outputs["json"]["body"] is None


def test_redirect_to_metadata_is_refused(server: str) -> None:
    result, lines = call({"url": f"{server}/redirect-metadata"})
    assert not result.ok and result.kind == "refused" and "169.254.169.254" in result.error
    assert not any("169.254.169.254" in line for line in lines if line.startswith("->"))


def test_redirect_loop_stops(server: str) -> None:
    result, lines = call({"url": f"{server}/loop"})
    assert not result.ok and "redirects" in result.error
    assert len([line for line in lines if line.startswith("->")]) == 11


def test_allow_hosts_patterns(server: str) -> None:
    allowed, _ = call({"url": f"{server}/json"}, {"allow_hosts": ["api.example.com", "127.0.0.*"]})
    assert allowed.ok
    refused, lines = call({"url": f"{server}/json"}, {"allow_hosts": ["*.example.com"]})
    assert not refused.ok and refused.kind == "refused" and "allow_hosts" in refused.error and lines == []
    assert net.host_allowed("API.Example.com.", ["*.example.com"])
    assert not net.host_allowed("example.com", ["*.example.com"])
    assert not net.host_allowed("evil-example.com", ["*.example.com"])


def test_only_http_and_https(server: str) -> None:
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/"):
        result, _ = call({"url": url})
        assert not result.ok and result.kind == "refused" and "scheme" in result.error


def test_connection_error_and_timeout(server: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refused, _ = call({"url": f"http://127.0.0.1:{port}/"})
    assert not refused.ok and refused.kind == "error" and "connection failed" in refused.error
    slow, _ = call({"url": f"{server}/slow", "timeout_seconds": 0.2})
    assert not slow.ok and slow.kind == "timeout"


def test_secret_headers_are_redacted_in_log_and_outputs(server: str) -> None:
    headers = {"Authorization": f"Bearer {SECRET}", "X-Api-Key": SECRET, "X-Session-Token": SECRET, "X-Trace": "t1"}
    result, lines = call({"url": f"{server}/echo?api_key={SECRET}", "headers": headers})
    assert result.ok and result.outputs["json"]["headers"]["Authorization"] == f"Bearer {SECRET}"  # sent as given
    log = "\n".join(lines)
    assert SECRET not in log and "***" in log and '"X-Trace": "t1"' in log
    cookies, _ = call({"url": f"{server}/cookies"})
    shown = cookies.outputs["headers"]
    assert shown["set-cookie"] == "***" and shown["x-auth-token"] == "***" and shown["x-plain"] == "visible"


def test_secret_values_are_scrubbed_from_failure_messages(server: str) -> None:
    result, _ = call({"url": f"{server}/500", "headers": {"Authorization": SECRET}})
    assert not result.ok and SECRET not in result.error and SECRET not in json.dumps(result.outputs)


def test_credentials_are_dropped_on_a_cross_origin_redirect() -> None:
    request = net.Request("POST", "http://a.example/x", {"Authorization": "t", "Cookie": "c", "X-Id": "1"}, b"{}")
    moved = net.redirected(request, 307, "http://b.example/y", same_origin=False)
    assert moved.headers == {"X-Id": "1"} and moved.method == "POST" and moved.body == b"{}"
    kept = net.redirected(request, 302, "http://a.example/y", same_origin=True)
    assert kept.method == "GET" and kept.body is None and "Authorization" in kept.headers


def _resolver(address: str) -> Any:
    return lambda host, port, **_: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]


@pytest.mark.parametrize(
    "host", ["169.254.169.254", "169.254.1.2", "100.100.100.200", "fd00:ec2::254", "metadata.google.internal", "::ffff:169.254.169.254"]
)
def test_metadata_hosts_are_refused_by_default(host: str) -> None:
    with pytest.raises(net.HostRefusedError, match="metadata"):
        net.check_host(host, {})
    net.check_host(host, {"allow_metadata_hosts": True})


def test_metadata_is_checked_after_dns_resolution() -> None:
    with pytest.raises(net.HostRefusedError, match="resolves to 169.254.169.254"):
        net.resolve_checked("innocent.example", 80, {}, resolver=_resolver("169.254.169.254"))
    allowed = net.resolve_checked("innocent.example", 80, {"allow_metadata_hosts": True}, resolver=_resolver("169.254.169.254"))
    assert allowed == (("169.254.169.254", 80),)
    assert net.resolve_checked("innocent.example", 443, {}, resolver=_resolver("93.184.216.34")) == (("93.184.216.34", 443),)


def test_check_url_pins_the_checked_address() -> None:
    target = net.check_url("https://api.example:8443/v1?q=1", {}, resolver=_resolver("10.0.0.7"))
    assert target.host == "api.example" and target.port == 8443 and target.addresses == (("10.0.0.7", 8443),)


def test_validate() -> None:
    action = ApiCallAction()
    assert action.validate({"url": "https://x.example", "expected_status": [200, 201]}, "p") == []
    paths = {i.path for i in action.validate({"methd": "GET", "expected_status": "abc", "timeout_seconds": -1}, "p")}
    assert paths == {"p.methd", "p.url", "p.expected_status", "p.timeout_seconds"}
    assert action.validate({"url": "ftp://x"}, "p")[0].path == "p.url"
