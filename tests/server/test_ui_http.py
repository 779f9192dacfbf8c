"""The web UI's HTTP side without a browser (SPEC 19): login redirects, the cookie's CSRF rules, headers, escaping, roles."""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest

TEMPLATES: dict[str, Any] = {
    "steps": {"version": "2.0.0", "name": "Steps", "tasks": {"one": {"action": "noop"}}},
    "odd": {"version": "2.0.0", "name": "Odd", "description": "<script>alert('x')</script> & more",
            "parameters": {"who": {"type": "string", "default": "<b>bold</b>"}}, "tasks": {"one": {"action": "noop"}}},
}


@pytest.fixture(scope="module")
def env(kit: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One server; tokens for ops (operator) and vic (viewer); clients without a bearer header."""
    home = kit.make_home(tmp_path_factory.mktemp("uihttp"), TEMPLATES)
    server = kit.Server(home)
    tokens = {}
    for name, role in (("ops", "operator"), ("vic", "viewer")):
        tokens[name] = json.loads(kit.cli(home, "--json", "token", "create", name, "--role", role).stdout)["token"]
    api = server.client(tokens["ops"])
    yield type("Env", (), {"home": home, "server": server, "tokens": tokens, "api": api, "url": server.url})
    api.close()
    code, log = server.stop(signal.SIGINT)
    assert code == 0, log


def _browser(env: Any, name: str | None = None) -> Any:
    client = env.server.client()
    if name:
        client.cookies.set("wfc_session", env.tokens[name])
    return client


def _create(env: Any, template: str, **body: Any) -> str:
    response = env.api.post("/api/v1/instances", json={"template": template, **body})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_token_address_sets_the_cookie_and_keeps_the_rest_of_the_address(env: Any) -> None:
    with _browser(env) as client:
        response = client.get(f"/?status=failed&token={env.tokens['vic']}&template=steps")
        assert response.status_code == 303
        assert response.headers["location"] == "/?status=failed&template=steps"
        cookie = response.headers["set-cookie"]
        assert f"wfc_session={env.tokens['vic']}" in cookie and "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
        bad = client.get("/approvals?token=wfc_nope")
        assert bad.status_code == 401 and 'name="token"' in bad.text and "not valid" in bad.text
        assert "set-cookie" not in bad.headers


def test_login_form_posts_and_refuses_other_sites(env: Any) -> None:
    with _browser(env) as client:
        form = {"token": env.tokens["ops"], "next": "//evil.example/steal"}
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        ok = client.post("/login", data=form, headers={**headers, "Origin": env.url})
        assert ok.status_code == 303 and ok.headers["location"] == "/"  # never to another site
        assert client.get("/templates").status_code == 200
        foreign = client.post("/login", data=form, headers={**headers, "Origin": "http://evil.example"})
        assert foreign.status_code == 403


def test_cookie_requests_are_same_origin_json_only(env: Any) -> None:
    with _browser(env, "ops") as client:
        assert client.get("/api/v1/instances").status_code == 200  # the API accepts the UI's cookie
        iid = _create(env, "steps", start=False)
        url = f"/api/v1/instances/{iid}/cancel"
        evil = client.post(url, json={}, headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
        assert evil.status_code == 403 and "Origin" in evil.json()["error"]["message"]
        assert client.post(url, json={}).status_code == 403  # no Origin, no Sec-Fetch-Site: not from a page of ours
        form = client.post(url, content=b"", headers={"Origin": env.url, "Content-Type": "application/x-www-form-urlencoded"})
        assert form.status_code == 400
        assert env.api.get(f"/api/v1/instances/{iid}").json()["status"] == "created"  # none of them did anything
        ok = client.post(url, json={}, headers={"Origin": env.url, "Sec-Fetch-Site": "same-origin"})
        assert ok.status_code == 202 and ok.json()["status"] == "cancelled"
    with env.server.client(env.tokens["vic"]) as bearer:  # a bearer request never needs Origin
        bearer.cookies.set("wfc_session", env.tokens["ops"])
        assert bearer.post(f"/api/v1/instances/{iid}/cancel", json={}).status_code == 403  # the header wins: vic is a viewer


def test_security_headers_and_escaping(env: Any) -> None:
    with _browser(env, "vic") as client:
        for path in ("/", "/templates", "/templates/odd", "/health", "/approvals", "/ui/static/ui.css", "/api/v1/templates"):
            response = client.get(path)
            assert response.status_code == 200, path
            csp = response.headers["content-security-policy"]
            assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe" not in csp, path
            assert response.headers["x-frame-options"] == "DENY" and response.headers["x-content-type-options"] == "nosniff"
        page = client.get("/templates/odd").text
        assert "<script>alert" not in page and "&lt;script&gt;alert(" in page
        assert "<b>bold</b>" not in page
        assert "<script>" not in page.replace('<script type="module" src="/ui/static/template.js"></script>', "")
        assert " style=" not in page and "onclick" not in page  # nothing the CSP would block
        assert client.get("/ui/static/..%2Fpages.py").status_code == 404
        assert client.get("/ui/static/nothing.js").status_code == 404


def test_buttons_follow_the_role(env: Any) -> None:
    iid = _create(env, "steps", start=False)
    with _browser(env, "vic") as viewer, _browser(env, "ops") as operator:
        seen = viewer.get(f"/instances/{iid}").text
        assert "data-verb" not in seen and 'id="run-form"' not in viewer.get("/templates/steps").text
        shown = operator.get(f"/instances/{iid}").text
        assert 'data-verb="start"' in shown and 'data-verb="cancel"' in shown
        assert 'id="run-form"' in operator.get("/templates/steps").text
        missing = viewer.get("/instances/19990101-000000-abcdef")
        assert missing.status_code == 404 and "no instance" in missing.text.lower()


def test_approvals_route_lists_the_callers_gates(env: Any, kit: Any) -> None:
    doc = {"version": "2.0.0", "name": "G", "tasks": {"ask": {"action": "approval_gate", "parameters": {"approvers": ["vic"]}}}}
    response = env.api.post("/api/v1/instances", json={"document": doc})
    assert response.status_code == 201
    iid = response.json()["id"]
    kit.until_status(env.api, iid, "waiting")
    with env.server.client(env.tokens["vic"]) as vic:
        gates = vic.get("/api/v1/approvals").json()
        assert [(g["instance"], g["task"], g["approvers"]) for g in gates] == [(iid, "ask", ["vic"])]
    assert env.api.get("/api/v1/approvals").json() == []  # ops is not an approver of it
    with env.server.client() as anon:
        assert anon.get("/api/v1/approvals").status_code == 401
