"""SPEC 14: a secret's value, and any rendered string holding it, is masked before it is stored or shown.

One run tries every path a value can take out of a task (set_vars, outputs, an approval message,
error messages, conditions, checkpoints, hooks' payloads, logs, ``--events``, reports), then the
whole home and everything the commands printed are searched for the value: no hit anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

SECRET = "hunter2-Zq7-Secret"

DOC = {
    "version": "2.0.0",
    "name": "leaky",
    "parameters": {"token": {"type": "string", "secret": True, "required": True},
                   "pin": {"type": "string", "secret": True, "default": "", "required": False, "pattern": "^[0-9]*$"}},
    "hooks": {"task.completed": [{"action": "command", "parameters": {"command": "cat >> hook-payloads.jsonl; echo >> hook-payloads.jsonl"}}]},
    "tasks": {
        "leak_vars": {"action": "noop", "checkpoint": True,
                      "set_vars": {"leak": "{{ params.token }}", "wrapped": "{{ 'Bearer ' ~ params.token }}",
                                   "listed": "{{ [params.token, 'x'] }}"}},
        "print": {"action": "command", "dependencies": ["leak_vars"],
                  "parameters": {"command": "echo token={{ params.token }}; echo v={{ vars.wrapped }} > \"$WORKFLOW_OUTPUT\""}},
        "gate": {"action": "approval_gate", "dependencies": ["print"],
                 "parameters": {"message": "deploy with {{ params.token }}? ({{ vars.leak }})"}},
        "fail": {"action": "command", "dependencies": ["gate"], "on_failure": "continue",
                 "parameters": {"command": "echo failing with {{ params.token }} >&2; exit 3"}},
        "skip": {"action": "noop", "dependencies": ["gate"], "conditions": ["{{ params.token == 'nope' ~ params.token }}"]},
        "each": {"action": "noop", "dependencies": ["gate"], "foreach": "{{ [params.token, 'b'] }}"},
        "bad_expr": {"action": "noop", "dependencies": ["gate"], "on_failure": "continue",
                     "parameters": {"x": "{{ vars[params.token].x }}"}},
    },
}


def _hits(root: Path, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and not p.is_symlink() and needle in p.read_bytes()]


def test_a_secret_is_found_nowhere_after_a_run_that_tries_every_path(sh, write, home, tmp_path):
    doc = write("leaky.yaml", yaml.safe_dump(DOC))
    events = tmp_path / "events.jsonl"
    shown = []
    run = sh("--json", "run", doc, "--param", f"token={SECRET}", "--events", events, cwd=tmp_path)
    shown.append(run)
    assert run.exit_code == 3, run  # the gate waits
    iid = run.json()["id"]
    approved = sh("--json", "approve", iid, "gate", "--data", json.dumps({"note": "ok"}), cwd=tmp_path)
    shown.append(approved)
    assert approved.exit_code in (0, 1), approved
    human = sh("run", doc, "--param", f"token={SECRET}", cwd=tmp_path)  # progress lines, human summary
    shown.append(human)
    assert human.exit_code == 3, human
    report = tmp_path / "report.html"
    for args in (("status", iid), ("audit", iid), ("logs", iid), ("debug", iid), ("checkpoints", iid), ("list",),
                 ("report", iid, "--output", report)):
        shown += [sh("--json", *args, cwd=tmp_path), sh(*args, cwd=tmp_path)]
    for result in shown:
        assert SECRET not in result.stdout + result.stderr, result

    status = json.loads(sh("--json", "status", iid).stdout)
    assert status["tasks"]["print"]["outputs"]["v"] == "Bearer ***"
    state = json.loads((home / "instances" / iid / "state.json").read_text())
    assert state["vars"]["leak"] == "***" and state["vars"]["wrapped"] == "Bearer ***" and state["vars"]["listed"] == ["***", "x"]
    gate = [e for e in map(json.loads, events.read_text().splitlines()) if e["type"] == "approval.required"]
    assert gate and gate[0]["data"]["message"] == "deploy with ***? (***)", gate
    index = (home / "checkpoints" / iid / "checkpoints.jsonl").read_text()
    assert '"leak":"***"' in index.replace(" ", ""), index
    payloads = (tmp_path / "hook-payloads.jsonl").read_text()  # hooks' commands run in the base directory (SPEC 6.2)
    assert "task.completed" in payloads and "***" in payloads
    assert "***" in (home / "instances" / iid / "logs" / "print.log").read_text()

    assert (home / "instances" / iid / "secrets.json").exists()  # encrypted: not even there in clear
    assert _hits(tmp_path, SECRET.encode()) == []


def test_a_pattern_mismatch_of_a_secret_names_the_parameter_not_the_value(sh, cli, write, tmp_path):
    doc = write("leaky.json", DOC)
    for result in (sh("validate", doc, "--param", "token=x1", "--param", "pin=hunter2"),
                   cli("--json", "validate", doc, "--param", "token=x1", "--param", "pin=hunter2"),
                   cli("create", doc, "--param", "token=x1", "--param", "pin=hunter2")):
        assert result.exit_code == 2, result
        assert "hunter2" not in result.stdout + result.stderr, result
        assert "pin" in result.stdout + result.stderr
