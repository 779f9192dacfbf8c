"""``serve`` as a service: runs outlive it, file triggers fire once across restarts, the queue keeps its cap."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any



def _doc(name: str, command: str, **extra: Any) -> dict[str, Any]:
    return {"version": "2.0.0", "name": name, "tasks": {"work": {"action": "command", "parameters": {"command": command}}}, **extra}


def test_stopping_serve_mid_run_leaves_the_run_to_complete(kit: Any, tmp_path: Path) -> None:
    home = kit.make_home(tmp_path, {"nap": _doc("Nap", "sleep 1.5; echo woke")})
    server = kit.Server(home)
    with server.client(server.admin_token) as client:
        iid = client.post("/api/v1/instances", json={"template": "nap"}).json()["id"]
        kit.wait_for(lambda: kit.status_of(client, iid)["tasks"]["work"]["status"] == "running", what="the task to run")
    code, log = server.stop(signal.SIGTERM)
    assert code == 0, log
    assert f"run {iid} started" in log and "POST /api/v1/instances 201" in log
    kit.wait_for(lambda: json.loads(kit.cli(home, "--json", "status", iid).stdout)["status"] == "completed", what="the run to finish")
    assert json.loads(kit.cli(home, "--json", "status", iid).stdout)["tasks"]["work"]["attempts"] == 1


FILES_TEMPLATE = {
    "version": "2.0.0", "name": "Ingest", "parameters": {"file": {"type": "string", "required": True}},
    "tasks": {"count": {"action": "command", "parameters": {"command": "wc -c < {{ params.file }}"}}},
}


def _ingest_home(kit: Any, tmp_path: Path) -> tuple[Path, Path]:
    drop = tmp_path / "drop"
    drop.mkdir()
    doc = {**FILES_TEMPLATE, "triggers": [{"files": {"path": str(drop / "*.csv"), "settle_seconds": 0.2}, "params": {"file": "{{ trigger.path }}"}}]}
    return kit.make_home(tmp_path, {"ingest": doc}), drop


def _triggered(kit: Any, home: Path) -> dict[str, str]:
    """trigger path -> instance id, for every instance of the home."""
    rows = json.loads(kit.cli(home, "--json", "list").stdout)
    out = {}
    for row in rows:
        doc = json.loads(kit.cli(home, "--json", "status", row["id"]).stdout)
        assert doc["trigger"]["path"] not in out, "a file fired twice"
        out[doc["trigger"]["path"]] = row["id"]
    return out


def _settled(path: Path, text: str) -> None:
    """Write a file whose modification time is already past its settle time."""
    path.write_text(text)
    old = time.time() - 5
    import os

    os.utime(path, (old, old))


def test_file_trigger_fires_each_file_once_across_a_restart(kit: Any, tmp_path: Path) -> None:
    home, drop = _ingest_home(kit, tmp_path)
    _settled(drop / "a.csv", "1,2\n")
    (drop / "ignored.txt").write_text("x")
    server = kit.Server(home)
    token = server.admin_token
    kit.wait_for(lambda: len(_triggered(kit, home)) == 1, what="a.csv to fire")
    code, _ = server.stop(signal.SIGINT)
    assert code == 0
    _settled(drop / "b.csv", "3,4,5\n")
    server = kit.Server(home)
    assert server.admin_token is None  # made and shown on the first start only
    found = kit.wait_for(lambda: (lambda t: t if len(t) == 2 else None)(_triggered(kit, home)), what="b.csv to fire")
    with server.client(token) as client:
        doc = kit.until_status(client, found[str(drop / "b.csv")], "completed")
        assert doc["params"] == {"file": str(drop / "b.csv")} and doc["trigger"]["type"] == "files"
        assert doc["tasks"]["count"]["outputs"] == {"result": 6}
    code, _ = server.stop()
    assert code == 0
    assert set(found) == {str(drop / "a.csv"), str(drop / "b.csv")}


def test_tick_fires_file_triggers_for_cron_users(kit: Any, tmp_path: Path) -> None:
    home, drop = _ingest_home(kit, tmp_path)
    _settled(drop / "c.csv", "1\n")
    first = json.loads(kit.cli(home, "--json", "tick").stdout)
    assert [row["path"] for row in first["files"]] == [str(drop / "c.csv")]
    assert json.loads(kit.cli(home, "--json", "tick").stdout)["files"] == []
    fresh = drop / "fresh.csv"
    fresh.write_text("still being written")
    import os

    os.utime(fresh, (time.time() + 3600, time.time() + 3600))  # changed "just now" as far as settling goes: not fired
    assert json.loads(kit.cli(home, "--json", "tick").stdout)["files"] == []
    assert list(_triggered(kit, home)) == [str(drop / "c.csv")]


def _intervals(kit: Any, home: Path, ids: list[str]) -> list[tuple[str, str]]:
    """(started, ended) of each run, from its own event log."""
    spans = []
    for iid in ids:
        events = json.loads(kit.cli(home, "--json", "audit", iid).stdout)
        started = [e["time"] for e in events if e["type"] == "workflow.started"]
        ended = [e["time"] for e in events if e["type"] in ("workflow.completed", "workflow.failed")]
        spans.append((started[0], ended[-1]))
    return spans


def test_queue_never_runs_more_than_max_active_runs(kit: Any, tmp_path: Path) -> None:
    home = kit.make_home(tmp_path, {"nap": _doc("Nap", "sleep 0.5")}, config="max_active_runs: 2\n")
    server = kit.Server(home)
    with server.client(server.admin_token) as client:
        ids = []
        for _ in range(5):
            response = client.post("/api/v1/instances", json={"template": "nap", "queue": True})
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        assert response.json()["status"] == "queued"
        for iid in ids:
            kit.until_status(client, iid, "completed", timeout=60)
    code, log = server.stop()
    assert code == 0, log
    spans = _intervals(kit, home, ids)
    for start, _ in spans:  # at every start, how many runs were going
        assert sum(1 for s, e in spans if s <= start < e) <= 2, spans
    released = [[e["time"] for e in json.loads(kit.cli(home, "--json", "audit", iid).stdout) if e["type"] == "queue.released"][0] for iid in ids]
    assert released == sorted(released)  # handed to runners oldest first


def test_template_concurrency_caps_its_own_runs(kit: Any, tmp_path: Path) -> None:
    one = _doc("One at a time", "sleep 0.3", concurrency={"max_active_runs": 1})
    home = kit.make_home(tmp_path, {"solo": one})
    ids = [json.loads(kit.cli(home, "--json", "run", "solo", "--queue").stdout)["id"] for _ in range(3)]
    server = kit.Server(home)
    with server.client(server.admin_token) as client:
        for iid in ids:
            kit.until_status(client, iid, "completed", timeout=60)
    server.stop()
    spans = _intervals(kit, home, ids)
    for start, _ in spans:
        assert sum(1 for s, e in spans if s <= start < e) == 1, spans


def test_queue_route_lists_queued_in_start_order(kit: Any, tmp_path: Path) -> None:
    gate = {"version": "2.0.0", "name": "Gate", "tasks": {"ask": {"action": "approval_gate", "parameters": {"approvers": ["ann"]}}}}
    urgent = {**_doc("Urgent", "true"), "priority": 5}
    config = "max_active_runs: 1\nserver:\n  hosts: [flows.example.org]\n"
    home = kit.make_home(tmp_path, {"gate": gate, "plain": _doc("Plain", "true"), "urgent": urgent}, config=config)
    blocker = json.loads(kit.cli(home, "--json", "run", "gate", "--queue").stdout)["id"]
    plain = [json.loads(kit.cli(home, "--json", "run", "plain", "--queue").stdout)["id"] for _ in range(2)]
    hot = json.loads(kit.cli(home, "--json", "run", "urgent", "--queue").stdout)["id"]
    listed = json.loads(kit.cli(home, "--json", "queue").stdout)
    assert [r["id"] for r in listed] == [hot, *plain]
    assert [r["position"] for r in listed] == [1, 2, 3] and listed[0]["priority"] == 5
    assert json.loads(kit.cli(home, "--json", "list", "--status", "queued").stdout)[0]["status"] == "queued"
    human = kit.cli(home, "status", plain[0]).stdout
    assert "queued" in human and "queue:" in human
    made = json.loads(kit.cli(home, "--json", "token", "create", "v", "--role", "viewer").stdout)
    server = kit.Server(home)
    with server.client(made["token"]) as client:
        assert [r["id"] for r in client.get("/api/v1/queue").json()] == [hot, *plain]
        assert "workflow_queue_length 3.0" in client.get("/metrics").text
        assert client.get("/api/v1/queue", headers={"Host": "flows.example.org"}).status_code == 200  # config.yaml server.hosts
        assert client.get("/api/v1/queue", headers={"Host": "other.example.org"}).status_code == 400
    server.stop()
    assert kit.cli(home, "cancel", blocker).returncode == 0
    kit.wait_for(lambda: json.loads(kit.cli(home, "--json", "tick").stdout)["queue_started"] == [hot], what="tick to start the urgent run")


def test_serve_fires_a_due_schedule_without_tick(kit: Any, tmp_path: Path) -> None:
    from datetime import datetime, timedelta, timezone

    daily = {**_doc("Daily", "true"), "schedule": {"cron": "0 3 * * *"}}
    home = kit.make_home(tmp_path, {"daily": daily})
    now = datetime.now(timezone.utc)
    slot = (now + timedelta(days=1)).replace(hour=3, minute=0, second=0, microsecond=0)
    before = kit.base_env(home, WORKFLOW_CLI_TIME_OFFSET=str(slot.timestamp() - 30 - time.time()))
    assert kit.cli(home, "scheduler", "--once", env=before).returncode == 0  # first sight, 30 s before the slot: nothing fires
    assert json.loads(kit.cli(home, "--json", "list").stdout) == []
    after = str(slot.timestamp() + 2 - time.time())  # serve's clock: just past the slot
    server = kit.Server(home, kit.base_env(home, WORKFLOW_CLI_TIME_OFFSET=after))
    rows = kit.wait_for(lambda: json.loads(kit.cli(home, "--json", "list").stdout), what="the scheduled run")
    assert len(rows) == 1 and rows[0]["template"] == "daily" and rows[0]["name"].startswith("daily @ ")
    code, log = server.stop()
    assert code == 0 and f"run {rows[0]['id']} started (schedule)" in log
