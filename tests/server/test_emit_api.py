"""``POST /api/v1/events/{name}`` and a webhook trigger that emits (SPEC 8 ``emit``, 18.2, 18.3), on a real server."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
from pathlib import Path
from typing import Any

import pytest

SECRET = "pay-hook-secret"
ORDER = {"version": "2.0.0", "name": "Order", "parameters": {"order_id": {"type": "string", "required": True}},
         "tasks": {"pay": {"action": "wait", "parameters": {"signal": "payment_received", "key": "{{ params.order_id }}"}},
                   "ship": {"action": "noop", "dependencies": ["pay"]}}}
PAYHOOK = {"version": "2.0.0", "name": "Payments",
           "triggers": [{"webhook": {"name": "payments", "secret_env": "PAY_SECRET"},
                         "emit": {"name": "payment_received", "key": "{{ trigger.payload.order }}", "template": "order"}}],
           "tasks": {"nothing": {"action": "noop"}}}


@pytest.fixture(scope="module")
def env(kit: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = kit.make_home(tmp_path_factory.mktemp("emit"), {"order": ORDER, "payhook": PAYHOOK})
    server = kit.Server(home, kit.base_env(home, PAY_SECRET=SECRET))
    tokens = {"admin": server.admin_token}
    for name, role in (("vic", "viewer"), ("ops", "operator")):
        made = kit.cli(home, "--json", "token", "create", name, "--role", role)
        assert made.returncode == 0, made.stderr
        tokens[name] = json.loads(made.stdout)["token"]
    clients = {name: server.client(token) for name, token in tokens.items()}
    yield type("Env", (), {"home": home, "server": server, "c": clients, "anon": server.client()})
    for client in clients.values():
        client.close()
    code, log = server.stop(signal.SIGINT)
    assert code == 0, log


def _waiting_order(env: Any, kit: Any, order_id: str) -> str:
    run = kit.cli(env.home, "--json", "run", "order", "--param", f"order_id={order_id}")
    assert run.returncode == 3, run.stderr
    return str(json.loads(run.stdout)["id"])


def _received(home: Path, iid: str) -> list[dict[str, Any]]:
    lines = (home / "instances" / iid / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if isinstance(e, dict) and e.get("type") == "signal.received"]


def test_emit_route_reaches_the_waits_with_the_key(env: Any, kit: Any) -> None:
    a, b = _waiting_order(env, kit, "A-1"), _waiting_order(env, kit, "B-1")
    assert env.c["vic"].post("/api/v1/events/payment_received", json={"key": "A-1"}).status_code == 403
    bad = env.c["ops"].post("/api/v1/events/payment_received", json={"kee": "A-1"})
    assert bad.status_code == 400 and "kee" in bad.json()["error"]["message"]
    response = env.c["ops"].post("/api/v1/events/payment_received", json={"key": "A-1", "data": {"amount": 3}})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["reached"] == [a] and body["name"] == "payment_received" and body["event"]
    done = kit.until_status(env.c["vic"], a, "completed")  # resumed in the background by serve
    assert done["vars"]["amount"] == 3
    assert kit.status_of(env.c["vic"], b)["status"] == "waiting"
    none = env.c["ops"].post("/api/v1/events/payment_received", json={"key": "nobody"})
    assert none.status_code == 202 and none.json()["reached"] == []


def test_webhook_trigger_emits_once_per_delivery(env: Any, kit: Any) -> None:
    c = _waiting_order(env, kit, "C-7")
    body = json.dumps({"order": "C-7", "amount": 9}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-GitHub-Delivery": "pay-1", "X-Hub-Signature-256": signature}
    first = env.anon.post("/hooks/payments", content=body, headers=headers)
    assert first.status_code == 202, first.text
    assert first.json()["reached"] == [c] and first.json()["new"] is True
    done = kit.until_status(env.c["vic"], c, "completed")
    assert done["vars"] == {"order": "C-7", "amount": 9}  # the body is the event's data
    again = env.anon.post("/hooks/payments", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["new"] is False and again.json()["event"] == first.json()["event"]
    assert len(_received(env.home, c)) == 1
    assert env.anon.post("/hooks/payments", content=body, headers={**headers, "X-Hub-Signature-256": "sha256=00"}).status_code == 401
    spec = env.c["vic"].get("/api/v1/openapi.json").json()
    assert "/api/v1/events/{name}" in spec["paths"]
