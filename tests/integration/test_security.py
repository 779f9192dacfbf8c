"""SPEC 14 end to end: injection, confinement, metadata addresses, env access, secrets, home permissions."""

from __future__ import annotations

import http.server
import json
import os
import stat
import sys
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

INJECTION = "$(touch PWNED); `touch PWNED2`; echo hi > PWNED3"
MARKERS = ("PWNED", "PWNED2", "PWNED3")


def _planted(*folders: Path) -> list[Path]:
    """Any marker file an injected command would have created under these folders."""
    return [p for folder in folders if folder.exists() for p in folder.rglob("PWNED*")]


# -- shell injection -------------------------------------------------------------------------------------

def test_a_parameter_cannot_inject_shell_syntax_into_a_command(wf, doc, tmp_path):
    document = doc("inject.yaml", """\
version: "2.0.0"
name: Injection
parameters:
  msg: {type: string, required: true}
tasks:
  say:
    action: command
    parameters:
      command: "echo said: {{ params.msg }}"
  said_again:
    action: command
    dependencies: [say]
    parameters:
      command: "printf '%s\\\\n' {{ params.msg }} > said.txt"
""")
    run = wf("--json", "run", document, "--param", f"msg={INJECTION}")
    assert run.code == 0, run.why
    iid = run.json()["id"]
    assert _planted(wf.home, tmp_path) == []
    assert f"said: {INJECTION}" in wf.log(iid, "say")
    assert (tmp_path / "said.txt").read_text(encoding="utf-8") == INJECTION + "\n"  # the run's base directory


AGENT = """\
import json, sys
payload = json.load(sys.stdin)
print("received", payload["parameters"]["text"], file=sys.stderr)
print(json.dumps({"echo": payload["parameters"]["text"]}))
"""


def test_an_agent_payload_cannot_inject_shell_syntax(wf, doc, tmp_path):
    script = tmp_path / "echo_agent.py"
    script.write_text(AGENT, encoding="utf-8")
    # A command string (run through /bin/sh): the payload goes on stdin, never into the command line.
    wf.write_agents({"echoer": {"kind": "command", "command": f"'{sys.executable}' '{script}'"}})
    document = doc("agent.yaml", """\
version: "2.0.0"
name: Agent injection
parameters:
  msg: {type: string, required: true}
tasks:
  relay:
    agent_id: echoer
    parameters:
      text: "{{ params.msg }}"
""")
    run = wf("--json", "run", document, "--param", f"msg={INJECTION}")
    assert run.code == 0, run.why
    final = run.json()
    assert final["tasks"]["relay"]["outputs"] == {"echo": INJECTION}
    assert _planted(wf.home, tmp_path) == []
    assert INJECTION in wf.log(final["id"], "relay")


# -- file_operation confinement ----------------------------------------------------------------------------

def test_file_operations_cannot_leave_the_workspace(wf, doc, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret", encoding="utf-8")
    cases = {"dotdot": "../../../outside/secret.txt", "absolute": str(outside / "secret.txt"),
             "via_link": "escape/secret.txt"}
    tasks: dict[str, Any] = {
        "make_link": {"action": "command", "parameters": {
            "command": ["sh", "-c", 'ln -s "$1" "$WORKFLOW_WORKSPACE/escape"', "sh", str(outside)]}},
    }
    for name, path in cases.items():
        tasks[name] = {"action": "file_operation", "dependencies": ["make_link"], "on_failure": "continue",
                       "parameters": {"operation": "read", "path": path}}
    tasks["write_via_link"] = {"action": "file_operation", "dependencies": ["make_link"], "on_failure": "continue",
                               "parameters": {"operation": "write", "path": "escape/planted.txt", "content": "x"}}
    tasks["inside"] = {"action": "file_operation", "dependencies": ["make_link"],
                       "parameters": {"operation": "write", "path": "fine/inside.txt", "content": "ok"}}
    run = wf("--json", "run", doc("files.json", {"version": "2.0.0", "name": "Files", "tasks": tasks}))
    final = wf.status(run.json()["id"])
    assert final["tasks"]["make_link"]["status"] == "completed", final["tasks"]["make_link"]
    assert final["tasks"]["inside"]["status"] == "completed"
    for name, path in {**cases, "write_via_link": "escape/planted.txt"}.items():
        task = final["tasks"][name]
        assert task["status"] == "failed", (name, task)
        assert path in (task["error"] or ""), (name, task["error"])
        assert "top secret" not in json.dumps(task)
        assert task["attempts"] == 1
    assert not (outside / "planted.txt").exists()


# -- api_call and cloud metadata addresses -------------------------------------------------------------------

class _Redirector(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        type(self).hits.append(self.path)
        self.send_response(302)
        self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def redirector() -> Iterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 that redirects every request to the metadata address."""
    hits: list[str] = []
    handler = type("Handler", (_Redirector,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_api_call_refuses_cloud_metadata_addresses(wf, doc, redirector):
    base, hits = redirector
    tasks = {
        "metadata": {"action": "api_call", "on_failure": "continue",
                     "parameters": {"url": "http://169.254.169.254/latest/meta-data/", "timeout_seconds": 2}},
        "redirected": {"action": "api_call", "on_failure": "continue",
                       "parameters": {"url": f"{base}/start", "timeout_seconds": 2}},
    }
    run = wf("--json", "run", doc("api.json", {"version": "2.0.0", "name": "Api", "tasks": tasks}), timeout=30)
    final = wf.status(run.json()["id"])
    direct = final["tasks"]["metadata"]
    assert direct["status"] == "failed" and direct["error_kind"] == "refused", direct
    assert direct["attempts"] == 1
    assert "169.254.169.254" in direct["error"]
    via = final["tasks"]["redirected"]
    assert via["status"] == "failed" and via["error_kind"] == "refused", via
    assert "169.254.169.254" in via["error"]
    assert hits == ["/start"]


# -- environment variables -------------------------------------------------------------------------------

ENV_DOC = """\
version: "2.0.0"
name: Env
{allow}tasks:
  show:
    action: command
    parameters:
      command: "echo home={{{{ env.HOME }}}} > \\"$WORKFLOW_OUTPUT\\""
"""


def test_env_is_readable_only_when_listed_in_env_allow(wf, doc, tmp_path):
    fake_home = tmp_path / "user-home"
    fake_home.mkdir()
    env = {"HOME": str(fake_home)}
    denied = wf("--json", "run", doc("env.yaml", ENV_DOC.format(allow="")), env=env)
    assert denied.code == 2, denied.why
    assert wf.instance_ids() == []
    assert wf("validate", doc("env.yaml", ENV_DOC.format(allow="")), env=env).code == 2

    allowed = wf("--json", "run", doc("env-ok.yaml", ENV_DOC.format(allow="env_allow: [HOME]\n")), env=env)
    assert allowed.code == 0, allowed.why
    assert allowed.json()["tasks"]["show"]["outputs"]["home"] == str(fake_home)


# -- secrets -----------------------------------------------------------------------------------------------

SECRET = "s3cr3t-Value-9f8e7d"
SECRET_DOC = """\
version: "2.0.0"
name: Secrets
parameters:
  token: {type: string, secret: true, required: true}
  user: {type: string, default: ann}
tasks:
  use:
    action: command
    parameters:
      command: "echo using {{ params.token }} for {{ params.user }}; echo token={{ params.token }} > \\"$WORKFLOW_OUTPUT\\""
  after:
    action: command
    dependencies: [use]
    parameters:
      command: "echo got {{ tasks.use.outputs.token }}; echo the token is {{ params.token }} >&2"
"""


def _files_holding(root: Path, needle: bytes) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


def test_secret_values_never_leave_secrets_json(wf, doc):
    run = wf("run", doc("secret.yaml", SECRET_DOC), "--param", f"token={SECRET}", "--events", "-")
    assert run.code == 0, run.why
    assert SECRET not in run.stdout + run.stderr
    streamed = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert "workflow.completed" in [e["type"] for e in streamed]
    [iid] = wf.instance_ids()

    assert _files_holding(wf.home, SECRET.encode()) == []  # secrets.json is encrypted (tests/store/test_secret_box.py)
    assert stat.S_IMODE((wf.instance_dir(iid) / "secrets.json").stat().st_mode) == 0o600
    assert "***" in wf.log(iid, "use")
    assert "***" in wf.log(iid, "after")

    status = wf.json("status", iid)
    assert status["params"]["token"] == "***"
    for args in (("status", iid), ("audit", iid), ("logs", iid), ("logs", iid, "use"), ("list",), ("debug", iid),
                 ("checkpoints", iid)):
        shown = wf("--json", *args)
        assert shown.code == 0, shown.why
        assert SECRET not in shown.stdout + shown.stderr, args
    audit = wf.json("audit", iid)
    assert "workflow.completed" in [e["type"] for e in audit]


# -- home permissions ----------------------------------------------------------------------------------------

def test_home_folders_are_private_and_a_group_writable_home_is_refused(wf, doc):
    run = wf("--json", "run", doc("small.json", {"version": "2.0.0", "name": "Small",
                                                 "tasks": {"a": {"action": "command", "parameters": {"command": "true"}}}}))
    assert run.code == 0, run.why
    folders = [wf.home, *(p for p in wf.home.rglob("*") if p.is_dir() and not p.is_symlink())]
    loose = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in folders if stat.S_IMODE(p.stat().st_mode) & 0o077}
    assert loose == {}
    assert stat.S_IMODE(wf.home.stat().st_mode) == 0o700

    os.chmod(wf.home, 0o770)
    try:
        for args in (("list",), ("run", doc("small2.json", {"version": "2.0.0", "name": "S", "tasks": {"a": {"action": "noop"}}}))):
            refused = wf("--json", *args)
            assert refused.code == 2, refused.why
        assert len(wf.instance_ids()) == 1
    finally:
        os.chmod(wf.home, 0o700)
