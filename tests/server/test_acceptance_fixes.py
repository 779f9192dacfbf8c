"""Regressions found by acceptance testing ``serve`` and its UI from a fresh install (SPEC 18, 19)."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

# The console script's main, with the [server] extra made unimportable (sys.modules[name] = None is
# Python's own way of saying "this module is not installed": find_spec returns None, import fails).
WITHOUT_EXTRA = ("import sys\n"
                 "for name in ('fastapi', 'uvicorn', 'prometheus_client'):\n"
                 "    sys.modules[name] = None\n"
                 "from workflow_cli.cli.main import main\n"
                 "sys.argv = ['workflow-cli', 'serve', '--port', '0']\n"
                 "main()\n")


def test_serve_without_the_server_extra_says_how_to_install_it(kit: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = kit.base_env(home)
    proc = subprocess.run([sys.executable, "-c", WITHOUT_EXTRA], check=False, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: serve needs the server extra (fastapi, uvicorn, prometheus_client not installed): pip install 'workflow-cli[server]'"]
    assert "Traceback" not in proc.stderr and not home.exists()


def test_a_limit_too_large_for_sqlite_lists_everything_not_a_500(kit: Any, tmp_path: Path) -> None:
    home = kit.make_home(tmp_path, {})
    made = kit.cli(home, "create", "sequential_pipeline", "--param", "source=a.csv", "--param", "destination=b.csv")
    assert made.returncode == 0, made.stderr
    huge = "99999999999999999999999"
    listed = kit.cli(home, "--json", "list", "--limit", huge)
    assert listed.returncode == 0, listed.stderr
    server = kit.Server(home)
    with server.client(server.admin_token) as client:
        response = client.get(f"/api/v1/instances?limit={huge}&offset={huge}")
        assert response.status_code == 200, response.text
        assert response.json() == []
        assert len(client.get(f"/api/v1/instances?limit={huge}").json()) == 1
    code, log = server.stop()
    assert code == 0 and "Traceback" not in log, log


def test_a_tail_too_large_prints_the_whole_log_not_a_500(kit: Any, tmp_path: Path) -> None:
    home = kit.make_home(tmp_path, {})
    run = kit.cli(home, "--json", "run", "sequential_pipeline", "--param", "source=a.csv", "--param", "destination=b.csv")
    iid = json.loads(run.stdout)["id"]
    huge = "99999999999999999999999"
    whole = kit.cli(home, "logs", iid, "extract")
    assert whole.returncode == 0 and "extract" in whole.stdout, whole.stderr
    tailed = kit.cli(home, "logs", iid, "extract", "--tail", huge)
    assert tailed.returncode == 0 and tailed.stdout == whole.stdout, tailed.stderr
    server = kit.Server(home)
    with server.client(server.admin_token) as client:
        response = client.get(f"/api/v1/instances/{iid}/logs/extract?tail={huge}")
        assert response.status_code == 200, response.text
        assert response.text == client.get(f"/api/v1/instances/{iid}/logs/extract").text != ""
    code, log = server.stop()
    assert code == 0 and "Traceback" not in log, log


def test_the_event_stream_skips_a_damaged_line_and_still_ends(kit: Any, tmp_path: Path) -> None:
    home = kit.make_home(tmp_path, {})
    run = kit.cli(home, "--json", "run", "sequential_pipeline", "--param", "source=a.csv", "--param", "destination=b.csv")
    iid = json.loads(run.stdout)["id"]
    events = home / "instances" / iid / "events.jsonl"
    stored = [json.loads(line) for line in events.read_text().splitlines()]
    with events.open("a") as fh:
        fh.write("[1, 2]\n\"text\"\n")
    server = kit.Server(home)
    with server.client(server.admin_token) as client, \
            client.stream("GET", f"/api/v1/instances/{iid}/events", headers={"Accept": "text/event-stream"}) as stream:
        ids = [line[4:] for line in stream.iter_lines() if line.startswith("id: ")]
    assert ids == [str(e["seq"]) for e in stored]
    code, log = server.stop()
    assert code == 0 and "Traceback" not in log, log


def test_github_ping_is_answered_without_a_run(kit: Any, tmp_path: Path) -> None:
    doc = {"version": "2.0.0", "name": "Deploy", "parameters": {"ref": {"type": "string", "required": True}},
           "triggers": [{"webhook": {"name": "deploy", "secret_env": "HOOK_SECRET"}, "params": {"ref": "{{ trigger.payload.ref }}"}}],
           "tasks": {"show": {"action": "command", "parameters": {"command": "echo {{ params.ref }}"}}}}
    home = kit.make_home(tmp_path, {"deploy": doc})
    server = kit.Server(home, kit.base_env(home, HOOK_SECRET="s3cret"))
    body = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    signature = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-1"}
    with server.client() as anon, server.client(server.admin_token) as admin:
        assert anon.post("/hooks/deploy", content=body, headers=headers).status_code == 401  # unsigned: refused as ever
        pong = anon.post("/hooks/deploy", content=body, headers={**headers, "X-Hub-Signature-256": signature})
        assert pong.status_code == 200, pong.text
        assert pong.json() == {"ping": "ok", "webhook": "deploy"}
        assert admin.get("/api/v1/instances").json() == []
    code, log = server.stop()
    assert code == 0, log


def test_a_browser_gets_an_html_404_page_and_scripts_keep_json(kit: Any, tmp_path: Path) -> None:
    home = kit.make_home(tmp_path, {})
    server = kit.Server(home)
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    with server.client(server.admin_token) as client:
        page = client.get("/no/such/page", headers=html)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "There is no page at /no/such/page." in page.text and "Log out" in page.text
        for path in ("/no/such/page", "/api/v1/nothing"):
            response = client.get(path, headers=html if path.startswith("/api/") else {})
            assert response.status_code == 404
            assert response.json() == {"error": {"message": "no such route", "code": "not_found"}}
    code, log = server.stop()
    assert code == 0, log


def test_a_query_number_that_is_not_one_is_400_in_the_cli_style(kit: Any, tmp_path: Path) -> None:
    home = kit.make_home(tmp_path, {})
    server = kit.Server(home)
    with server.client(server.admin_token) as client:
        for path, name in (("/api/v1/instances?limit=ten", "limit"), ("/api/v1/instances?offset=x", "offset")):
            response = client.get(path)
            assert response.status_code == 400, response.text
            value = path.rsplit("=", 1)[1]
            message = f"{name}: expected an integer, got '{value}'"
            assert response.json() == {"error": {"message": message, "code": "invalid_input", "exit_code": 2,
                                                  "issues": [{"path": name, "message": f"expected an integer, got '{value}'"}]}}
    code, log = server.stop()
    assert code == 0, log


def test_a_gate_with_a_timeout_shows_on_the_run_and_approvals_pages(kit: Any, tmp_path: Path) -> None:
    gate = {"version": "2.0.0", "name": "Timed", "tasks": {"ask": {"action": "approval_gate", "parameters": {
        "approvers": ["ann"], "message": "ok?", "timeout_seconds": 3600, "on_timeout": "reject"}}}}
    home = kit.make_home(tmp_path, {"timed": gate})
    server = kit.Server(home)
    made = kit.cli(home, "--json", "token", "create", "ann", "--role", "viewer")
    with server.client(server.admin_token) as admin, server.client(json.loads(made.stdout)["token"]) as ann:
        iid = admin.post("/api/v1/instances", json={"template": "timed"}).json()["id"]
        waiting = kit.until_status(admin, iid, "waiting")["waiting_for"][0]
        due = datetime.datetime.fromtimestamp(waiting["timeout_at"], datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        for path in ("/approvals", f"/instances/{iid}"):
            page = ann.get(path, headers={"Accept": "text/html"})
            assert page.status_code == 200, page.text
            assert f"times out {due} UTC (reject)" in page.text
    code, log = server.stop()
    assert code == 0, log


def test_serve_on_all_interfaces_prints_an_address_a_browser_can_open(kit: Any, tmp_path: Path) -> None:
    home = kit.make_home(tmp_path, {})
    proc = subprocess.Popen([str(Path(sys.executable).with_name("workflow-cli")), "serve", "--host", "0.0.0.0", "--port", "0"],
                            env=kit.base_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        login = proc.stdout.readline().strip().rsplit(" ", 1)[1]
        serving = proc.stdout.readline().strip().rsplit(" ", 1)[1]
        assert login.startswith("http://127.0.0.1:") and serving.startswith("http://127.0.0.1:"), (login, serving)
        page = kit.httpx.get(login, follow_redirects=True, timeout=30)  # the printed address logs in as printed
        assert page.status_code == 200 and "admin" in page.text
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert proc.returncode == 0
