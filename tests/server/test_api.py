"""The HTTP API of ``serve`` (SPEC 18.2, 18.3) against one real server for the whole module."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
from pathlib import Path
from typing import Any

import pytest

SECRET = "s3cret-hook"


def _cmd(command: str, **extra: Any) -> dict[str, Any]:
    return {"action": "command", "parameters": {"command": command}, **extra}


TEMPLATES: dict[str, Any] = {
    "gate": {"version": "2.0.0", "name": "Gate", "tasks": {
        "ask": {"action": "approval_gate", "parameters": {"approvers": ["ann"], "message": "ship it?"}},
        "done": {"action": "noop", "dependencies": ["ask"]}}},
    "escalating": {"version": "2.0.0", "name": "Escalating", "tasks": {
        "ask": {"action": "approval_gate", "parameters": {"approvers": ["bob"], "timeout_seconds": 1, "on_timeout": "escalate",
                                                          "escalate_to": ["ann"]}}}},
    "slow": {"version": "2.0.0", "name": "Slow", "tasks": {"nap": _cmd("sleep 30")}},
    "steps": {"version": "2.0.0", "name": "Steps", "tasks": {
        "one": _cmd("sleep 0.2; echo step one"), "two": _cmd("sleep 0.2; echo step two", dependencies=["one"]),
        "three": _cmd("echo step three", dependencies=["two"])}},
    "fails": {"version": "2.0.0", "name": "Fails", "tasks": {"bad": _cmd("echo nope >&2; exit 3")}},
    "sig": {"version": "2.0.0", "name": "Signal", "tasks": {"hold": {"action": "wait", "parameters": {"signal": "go"}}}},
    "timer": {"version": "2.0.0", "name": "Timer", "tasks": {"nap": {"action": "wait", "parameters": {"seconds": 1.5}},
                                                             "after": {"action": "noop", "dependencies": ["nap"]}}},
    "hook": {"version": "2.0.0", "name": "Deploy", "parameters": {"ref": {"type": "string", "required": True}},
             "triggers": [{"webhook": {"name": "deploy", "secret_env": "DEPLOY_SECRET"}, "params": {"ref": "{{ trigger.payload.ref }}"}}],
             "tasks": {"show": _cmd("echo deploying {{ params.ref }}")}},
}


@pytest.fixture(scope="module")
def env(kit: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One home, one server, and a token per role (plus 'ann', a viewer who approves the gate)."""
    home = kit.make_home(tmp_path_factory.mktemp("api"), TEMPLATES)
    server = kit.Server(home, kit.base_env(home, DEPLOY_SECRET=SECRET))
    tokens = {"admin": server.admin_token}
    for name, role in (("vic", "viewer"), ("ops", "operator"), ("ann", "viewer")):
        made = kit.cli(home, "--json", "token", "create", name, "--role", role)
        assert made.returncode == 0, made.stderr
        tokens[name] = json.loads(made.stdout)["token"]
    clients = {name: server.client(token) for name, token in tokens.items()}
    yield type("Env", (), {"home": home, "server": server, "tokens": tokens, "c": clients, "anon": server.client()})
    for client in clients.values():
        client.close()
    code, log = server.stop(signal.SIGINT)
    assert code == 0, log


def _create(env: Any, template: str, **body: Any) -> dict[str, Any]:
    response = env.c["ops"].post("/api/v1/instances", json={"template": template, **body})
    assert response.status_code == 201, response.text
    return response.json()


def test_admin_token_was_made_on_first_start_and_shown_once(env: Any, kit: Any) -> None:
    assert env.tokens["admin"].startswith("wfc_")
    listed = json.loads(kit.cli(env.home, "--json", "token", "list").stdout)
    assert {"name": "admin", "role": "admin"}.items() <= listed[0].items()
    assert all("hash" not in t and "token" not in t for t in listed)
    stored = (env.home / "tokens.json").read_text()
    assert env.tokens["admin"] not in stored
    assert oct((env.home / "tokens.json").stat().st_mode & 0o777) == "0o600"


def test_healthz_needs_no_token_and_everything_else_does(env: Any) -> None:
    assert env.anon.get("/healthz").text == "ok"
    for path in ("/api/v1/templates", "/api/v1/instances", "/api/v1/health", "/metrics", "/api/v1/openapi.json"):
        response = env.anon.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "unauthorized"
    bad = env.server.client("wfc_not-a-token").get("/api/v1/instances")
    assert bad.status_code == 401


def test_a_foreign_host_header_is_refused(env: Any) -> None:
    response = env.c["admin"].get("/api/v1/templates", headers={"Host": "evil.example:80"})
    assert response.status_code == 400
    assert "evil.example" in response.json()["error"]["message"]
    assert env.c["admin"].get("/api/v1/templates", headers={"Host": "localhost"}).status_code == 200


def test_viewer_reads_but_may_not_change(env: Any) -> None:
    assert env.c["vic"].get("/api/v1/templates").status_code == 200
    names = {t["name"] for t in env.c["vic"].get("/api/v1/templates").json()}
    assert {"gate", "hello", "approval_chain"} <= names
    for method, path, body in (("post", "/api/v1/instances", {"template": "hello"}),
                               ("post", "/api/v1/instances/x/cancel", {}), ("post", "/api/v1/instances/x/signals/go", {})):
        response = getattr(env.c["vic"], method)(path, json=body)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "forbidden"


def test_create_runs_in_the_background_and_reads_as_the_cli(env: Any, kit: Any) -> None:
    created = _create(env, "hello", params={"who": "api"}, name="from the api")
    assert {"id", "status", "template", "params"} <= created.keys()
    assert created["params"] == {"who": "api"} and created["template"] == "hello"
    done = kit.until_status(env.c["vic"], created["id"], "completed")
    cli_doc = json.loads(kit.cli(env.home, "--json", "status", created["id"]).stdout)
    assert done.keys() == cli_doc.keys()
    assert done["tasks"] == cli_doc["tasks"] and done["name"] == "from the api"
    prefix = env.c["vic"].get(f"/api/v1/instances/{created['id'][:-2]}")
    assert prefix.status_code == 200 and prefix.json()["id"] == created["id"]
    listed = env.c["vic"].get("/api/v1/instances", params={"template": "hello"}).json()
    assert created["id"] in [r["id"] for r in listed]
    assert listed[0].keys() == json.loads(kit.cli(env.home, "--json", "list", "--limit", "1").stdout)[0].keys()
    graph = env.c["vic"].get(f"/api/v1/instances/{created['id']}/graph").json()
    assert {n["id"]: n["status"] for n in graph["nodes"]} == {"greet": "completed", "stats": "completed", "report": "completed"}
    assert ["greet", "stats"] in graph["edges"]
    log = env.c["vic"].get(f"/api/v1/instances/{created['id']}/logs/greet", params={"tail": 5})
    assert log.status_code == 200 and log.headers["content-type"].startswith("text/plain") and "hello api" in log.text
    events = env.c["vic"].get(f"/api/v1/instances/{created['id']}/events").json()
    assert events[0]["type"] == "workflow.created" and events[-1]["type"] == "workflow.completed"
    later = env.c["vic"].get(f"/api/v1/instances/{created['id']}/events", params={"after": events[-3]["seq"]}).json()
    assert [e["seq"] for e in later] == [e["seq"] for e in events[-2:]]


def test_list_filters_pages_and_start(env: Any, kit: Any) -> None:
    first = _create(env, "hello", start=False)
    second = _create(env, "hello", start=False)
    assert first["status"] == second["status"] == "created"
    rows = env.c["vic"].get("/api/v1/instances", params={"status": "created"}).json()
    assert [r["id"] for r in rows[:2]] == [second["id"], first["id"]]
    page = env.c["vic"].get("/api/v1/instances", params={"status": "created", "limit": 1, "offset": 1}).json()
    assert [r["id"] for r in page] == [first["id"]]
    started = env.c["ops"].post(f"/api/v1/instances/{first['id']}/start", json={})
    assert started.status_code == 202 and started.json()["id"] == first["id"]
    kit.until_status(env.c["vic"], first["id"], "completed")
    assert env.c["ops"].post(f"/api/v1/instances/{first['id']}/start", json={}).status_code == 409


def test_bad_input_is_400_with_the_cli_message(env: Any, kit: Any, tmp_path: Path) -> None:
    ops = env.c["ops"]
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"whom": "x"}))
    cli_err = kit.cli(env.home, "create", "hello", "--params-file", params).stderr.strip()
    response = ops.post("/api/v1/instances", json={"template": "hello", "params": {"whom": "x"}})
    assert response.status_code == 400
    assert f"error: {response.json()['error']['message']}" == cli_err.replace("(from params file)", "(from params)")
    missing = ops.post("/api/v1/instances", json={"template": "nope"})
    assert missing.status_code == 404
    cli_missing = json.loads(kit.cli(env.home, "--json", "create", "nope").stdout)["error"]
    assert missing.json()["error"]["message"] == cli_missing["message"]  # the CLI's line adds the home searched
    bad_doc = ops.post("/api/v1/instances", json={"document": {"version": "2.0.0", "name": "x", "tasks": {"a": {"action": "noop", "dependencies": ["b"]}}}})
    assert bad_doc.status_code == 400 and "tasks.a.dependencies[0]" in bad_doc.json()["error"]["message"]
    cases = [
        ops.post("/api/v1/instances", content=b"template=hello", headers={"Content-Type": "application/x-www-form-urlencoded"}),
        ops.post("/api/v1/instances", content=b"{not json", headers={"Content-Type": "application/json"}),
        ops.post("/api/v1/instances", json=["hello"]),
        ops.post("/api/v1/instances", json={"template": "hello", "strat": False}),
        ops.post("/api/v1/instances", json={"template": "hello", "params": "who=x"}),
        ops.get("/api/v1/instances", params={"limit": "many"}),
        ops.get("/api/v1/instances", params={"status": "runing"}),
        ops.get("/api/v1/instances/x/events", headers={"Last-Event-ID": "abc"}),
        ops.post("/api/v1/instances", json={"template": "hello", "name": "x" * (2 << 20)}),
    ]
    for response in cases:
        assert response.status_code == 400, (response.request.url, response.text)
        assert response.json()["error"]["message"] and "Traceback" not in response.text
    assert "did you mean 'start'" in cases[3].json()["error"]["message"]
    assert "did you mean 'running'" in cases[6].json()["error"]["message"]
    assert ops.get("/api/v1/instances/20990101-nothing").status_code == 404
    assert ops.post("/api/v1/instances/20990101-nothing/start", json={}).status_code == 404


def test_sse_follows_a_run_to_its_end_and_resumes_with_last_event_id(env: Any, kit: Any) -> None:
    created = _create(env, "steps")
    headers = {"Accept": "text/event-stream"}
    messages = _read_sse(env.c["vic"], f"/api/v1/instances/{created['id']}/events", headers)
    types = [m["event"] for m in messages]
    assert types[0] == "workflow.created" and types[-1] == "workflow.completed"
    assert types.count("task.completed") == 3
    assert [int(m["id"]) for m in messages] == sorted(int(m["id"]) for m in messages)
    assert all(json.loads(m["data"])["seq"] == int(m["id"]) for m in messages)
    cut = int(messages[3]["id"])
    again = _read_sse(env.c["vic"], f"/api/v1/instances/{created['id']}/events", {**headers, "Last-Event-ID": str(cut)})
    assert [m["id"] for m in again] == [m["id"] for m in messages[4:]]


def _read_sse(client: Any, path: str, headers: dict[str, str]) -> list[dict[str, str]]:
    """Every message of a stream until the server ends it."""
    messages, current = [], {}
    with client.stream("GET", path, headers=headers, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                if "event" in current:
                    messages.append(current)
                current = {}
                continue
            key, _, value = line.partition(": ")
            if key in ("id", "event", "data"):
                current[key] = value
    return messages


def test_approval_goes_by_token_identity_whatever_the_role(env: Any, kit: Any) -> None:
    created = _create(env, "gate")
    kit.until_status(env.c["vic"], created["id"], "waiting")
    path = f"/api/v1/instances/{created['id']}/tasks/ask/approve"
    for name in ("vic", "ops", "admin"):  # not listed: refused, whatever the role
        response = env.c[name].post(path, json={"comment": "me?"})
        assert response.status_code == 403, name
    assert env.anon.post(path, json={}).status_code == 401
    decided = env.c["ann"].post(path, json={"comment": "ship it"})
    assert decided.status_code == 202, decided.text
    kit.until_status(env.c["vic"], created["id"], "completed")
    events = env.c["vic"].get(f"/api/v1/instances/{created['id']}/events").json()
    decision = [e for e in events if e["type"] == "approval.decided"]
    assert decision and decision[0]["data"]["by"] == "ann" and decision[0]["data"].get("comment") == "ship it"
    again = env.c["ann"].post(path, json={})
    assert again.status_code == 409


def test_serve_escalates_a_timed_out_gate_to_its_escalation_approvers(env: Any, kit: Any) -> None:
    created = _create(env, "escalating")
    path = f"/api/v1/instances/{created['id']}/tasks/ask/approve"
    kit.wait_for(lambda: (kit.status_of(env.c["vic"], created["id"])["tasks"]["ask"].get("waiting") or {}).get("escalated"),
                 what="the gate to escalate")
    assert env.c["ann"].post(path, json={"comment": "escalated to me"}).status_code == 202
    kit.until_status(env.c["vic"], created["id"], "completed")


def test_reject_by_identity_fails_the_gate(env: Any, kit: Any) -> None:
    created = _create(env, "gate")
    kit.until_status(env.c["vic"], created["id"], "waiting")
    response = env.c["ann"].post(f"/api/v1/instances/{created['id']}/tasks/ask/reject", json={"comment": "no"})
    assert response.status_code == 202
    done = kit.until_status(env.c["vic"], created["id"], "failed")
    assert done["tasks"]["ask"]["error_kind"] == "rejected"


def test_verbs_stop_resume_cancel(env: Any, kit: Any) -> None:
    created = _create(env, "slow")
    iid = created["id"]
    kit.wait_for(lambda: kit.status_of(env.c["vic"], iid)["tasks"]["nap"]["status"] == "running", what="nap to run")
    stopped = env.c["ops"].post(f"/api/v1/instances/{iid}/stop", json={"force": True})
    assert stopped.status_code == 202 and stopped.json()["id"] == iid
    kit.until_status(env.c["vic"], iid, "paused")
    assert env.c["ops"].post(f"/api/v1/instances/{iid}/stop", json={}).status_code == 409
    assert env.c["ops"].post(f"/api/v1/instances/{iid}/resume", json={}).status_code == 202
    kit.wait_for(lambda: kit.status_of(env.c["vic"], iid)["tasks"]["nap"]["status"] == "running", what="nap to run again")
    assert env.c["ops"].post(f"/api/v1/instances/{iid}/resume").status_code == 409  # a live runner holds it
    assert env.c["ops"].post(f"/api/v1/instances/{iid}/cancel").status_code == 202
    kit.until_status(env.c["vic"], iid, "cancelled")
    assert env.c["ops"].post(f"/api/v1/instances/{iid}/dance", json={}).status_code == 404
    assert env.c["ops"].post(f"/api/v1/instances/{iid}/stop", json={"forse": True}).status_code == 400


def test_retry_and_rollback(env: Any, kit: Any) -> None:
    failed = _create(env, "fails")
    kit.until_status(env.c["vic"], failed["id"], "failed")
    retried = env.c["ops"].post(f"/api/v1/instances/{failed['id']}/retry", json={"tasks": ["bad"]})
    assert retried.status_code == 202, retried.text
    kit.wait_for(lambda: kit.status_of(env.c["vic"], failed["id"])["tasks"]["bad"]["attempts"] == 2
                 and kit.status_of(env.c["vic"], failed["id"])["status"] == "failed", what="the retry to fail again")
    assert env.c["ops"].post(f"/api/v1/instances/{failed['id']}/retry", json={"tasks": ["nope"]}).status_code == 404
    done = _create(env, "steps")
    kit.until_status(env.c["vic"], done["id"], "completed")
    rolled = env.c["ops"].post(f"/api/v1/instances/{done['id']}/rollback", json={"checkpoint": "cp-0001"})
    assert rolled.status_code == 202, rolled.text
    doc = rolled.json()
    assert doc["status"] == "paused" and doc["tasks"]["one"]["status"] == "completed" and doc["tasks"]["three"]["status"] == "pending"
    assert env.c["ops"].post(f"/api/v1/instances/{done['id']}/rollback", json={"checkpoint": "cp-0099"}).status_code == 404


def test_signal_wakes_a_wait_with_its_payload(env: Any, kit: Any) -> None:
    created = _create(env, "sig")
    kit.until_status(env.c["vic"], created["id"], "waiting")
    response = env.c["ops"].post(f"/api/v1/instances/{created['id']}/signals/go", json={"rows": 12})
    assert response.status_code == 202, response.text
    done = kit.until_status(env.c["vic"], created["id"], "completed")
    assert done["vars"].get("rows") == 12


def test_a_timer_wakes_without_tick(env: Any, kit: Any) -> None:
    run = kit.cli(env.home, "--json", "run", "timer", "--wait-threshold", "0")
    assert run.returncode == 3, run.stderr  # waiting: the runner left, only serve can wake it
    iid = json.loads(run.stdout)["id"]
    kit.until_status(env.c["vic"], iid, "completed")


def _sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_webhook_signed_unsigned_and_redelivered(env: Any, kit: Any) -> None:
    body = json.dumps({"ref": "refs/heads/main", "after": "abc"}).encode()
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1"}
    first = env.anon.post("/hooks/deploy", content=body, headers={**headers, "X-Hub-Signature-256": _sign(body)})
    assert first.status_code == 201, first.text
    iid = first.json()["id"]
    doc = kit.until_status(env.c["vic"], iid, "completed")
    assert doc["params"] == {"ref": "refs/heads/main"}
    assert doc["trigger"]["type"] == "webhook" and doc["trigger"]["name"] == "deploy"
    assert doc["trigger"]["payload"]["after"] == "abc" and doc["trigger"]["headers"]["x-github-event"] == "push"
    assert "x-hub-signature-256" not in doc["trigger"]["headers"]
    human = kit.cli(env.home, "status", iid).stdout
    assert "trigger:" in human and "webhook 'deploy'" in human
    again = env.anon.post("/hooks/deploy", content=body, headers={**headers, "X-Hub-Signature-256": _sign(body)})
    assert again.status_code == 200 and again.json()["id"] == iid
    forged = env.anon.post("/hooks/deploy", content=body, headers={**headers, "X-GitHub-Delivery": "d-2",
                                                                   "X-Hub-Signature-256": _sign(body, "wrong")})
    assert forged.status_code == 401
    assert env.anon.post("/hooks/deploy", content=body, headers=headers | {"X-GitHub-Delivery": "d-3"}).status_code == 401
    assert env.c["vic"].post("/hooks/deploy", content=body, headers=headers | {"X-GitHub-Delivery": "d-4"}).status_code == 403
    by_token = env.c["ops"].post("/hooks/deploy", json={"ref": "v2"}, headers={"Idempotency-Key": "k-1"})
    assert by_token.status_code == 201 and by_token.json()["id"] != iid
    assert env.c["ops"].post("/hooks/deploy", json={"ref": "v2"}, headers={"Idempotency-Key": "k-1"}).json()["id"] == by_token.json()["id"]
    created_by = {run: next(e["actor"] for e in json.loads(kit.cli(env.home, "--json", "audit", run).stdout)
                            if e["type"] == "workflow.created") for run in (iid, by_token.json()["id"])}
    assert created_by == {iid: "webhook:deploy", by_token.json()["id"]: "ops"}  # the signature, or the token
    no_ref = env.c["ops"].post("/hooks/deploy", json={"branch": "x"})
    assert no_ref.status_code == 400 and "trigger" in no_ref.json()["error"]["message"]
    assert env.c["ops"].post("/hooks/nope", json={}).status_code == 404


def test_revoked_token_is_refused_at_once(env: Any, kit: Any) -> None:
    made = json.loads(kit.cli(env.home, "--json", "token", "create", "temp", "--role", "viewer").stdout)
    client = env.server.client(made["token"])
    assert client.get("/api/v1/templates").status_code == 200
    assert kit.cli(env.home, "token", "revoke", "temp").returncode == 0
    assert client.get("/api/v1/templates").status_code == 401
    client.close()


def test_openapi_health_queue_and_metrics(env: Any) -> None:
    spec = env.c["vic"].get("/api/v1/openapi.json").json()
    for path in ("/api/v1/instances", "/api/v1/instances/{instance_id}", "/api/v1/instances/{instance_id}/events",
                 "/api/v1/instances/{instance_id}/{verb}", "/hooks/{name}", "/metrics", "/healthz", "/api/v1/health"):
        assert path in spec["paths"], path
    health = env.c["vic"].get("/api/v1/health").json()
    assert health["status"] in ("healthy", "warning", "critical") and "workflows" in health
    assert env.c["vic"].get("/api/v1/queue").json() == []
    metrics = env.c["vic"].get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'workflow_instances{status="completed",template="hello"}' in text
    assert "workflow_task_attempts_total" in text and "workflow_task_duration_seconds_bucket" in text
    assert "workflow_run_duration_seconds_count" in text and "workflow_queue_length 0.0" in text


def test_a_second_serve_on_the_home_exits_5(env: Any, kit: Any) -> None:
    second = kit.cli(env.home, "serve", "--port", "0")
    assert second.returncode == 5
    assert "another 'workflow-cli serve'" in second.stderr


def test_what_a_token_does_is_recorded_under_its_name(env: Any, kit: Any) -> None:
    """SPEC 18.2: a token's name is its identity. The events its requests cause (create, the stop, the
    cancel) name it as their actor in the audit trail; what the runner does on its own names the OS user."""
    iid = _create(env, "slow")["id"]
    kit.wait_for(lambda: kit.status_of(env.c["vic"], iid)["tasks"]["nap"]["status"] == "running", what="nap to run")
    assert env.c["ops"].post(f"/api/v1/instances/{iid}/cancel").status_code == 202
    kit.until_status(env.c["vic"], iid, "cancelled")
    audit = kit.cli(env.home, "--json", "audit", iid)
    assert audit.returncode == 0, audit.stderr
    events = json.loads(audit.stdout)
    actors = {e["type"]: e["actor"] for e in events}
    assert actors["workflow.created"] == "ops"
    asked = [e for e in events if e["type"] == "request.received" and (e.get("data") or {}).get("kind") == "cancel"]
    assert [e["actor"] for e in asked] == ["ops"]  # the live runner took the request, in ops' name
    assert actors["task.started"] not in ("ops", "admin", "vic")  # the runner's own work
    # with no runner alive the server applies the request itself: those events name the token too
    held = _create(env, "sig")["id"]
    kit.until_status(env.c["vic"], held, "waiting")
    assert env.c["admin"].post(f"/api/v1/instances/{held}/cancel").status_code == 202
    applied = json.loads(kit.cli(env.home, "--json", "audit", held).stdout)
    assert {e["actor"] for e in applied if e["type"] in ("task.cancelled", "workflow.cancelled")} == {"admin"}
