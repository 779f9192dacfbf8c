"""``run --dry-run``: the plan, and nothing written (SPEC 8)."""

from __future__ import annotations

import json

PLAN_DOC = {
    "version": "2.0.0",
    "name": "Plan",
    "parameters": {"target": {"type": "string", "default": "prod"}, "go": {"type": "boolean", "default": True}},
    "tasks": {
        "build": {"action": "command", "parameters": {"command": "echo build {{ params.target }}"}, "priority": 1},
        "lint": {"action": "noop", "priority": 5},
        "deploy": {"action": "command", "parameters": {"command": "echo deploy {{ params.target }}"},
                   "dependencies": ["build", "lint"], "conditions": ["params.go"]},
    },
}


def test_dry_run_json_lists_steps_and_writes_nothing(cli, home, write, snapshot_tree):
    src = write("plan.json", PLAN_DOC)
    before = snapshot_tree(home)
    result = cli("run", src, "--dry-run", "--param", "target=staging", "--json")
    assert result.exit_code == 0, result
    assert snapshot_tree(home) == before
    plan = result.json()
    steps = plan["steps"]
    order = [s["task"] for s in steps]
    assert set(order) == {"build", "lint", "deploy"}
    assert order.index("deploy") > order.index("build")
    assert order.index("deploy") > order.index("lint")
    assert order.index("lint") < order.index("build"), "higher priority first among ready tasks"
    by_id = {s["task"]: s for s in steps}
    assert by_id["build"]["parameters"]["command"].endswith("staging")
    assert by_id["deploy"]["conditions"] == ["params.go"]
    assert plan["params"]["target"] == "staging"


def test_dry_run_human(cli, home, write, snapshot_tree):
    src = write("plan.json", PLAN_DOC)
    before = snapshot_tree(home)
    result = cli("run", src, "--dry-run")
    assert result.exit_code == 0, result
    assert snapshot_tree(home) == before
    text = result.stdout + result.stderr
    for tid in ("build", "lint", "deploy"):
        assert tid in text


def test_dry_run_builtin_template(cli, home, snapshot_tree):
    before = snapshot_tree(home)
    result = cli("run", "sequential_pipeline", "--dry-run", "--param", "source=in.csv", "--param", "destination=out.json", "--json")
    assert result.exit_code == 0, result
    assert len(result.json()["steps"]) >= 4
    assert snapshot_tree(home) == before


def test_dry_run_invalid_params(cli, home, snapshot_tree):
    before = snapshot_tree(home)
    result = cli("run", "approval_chain", "--dry-run", "--json")
    assert result.exit_code == 2
    assert "params.level1_approver" in result.stderr
    assert snapshot_tree(home) == before


def test_dry_run_console_script(sh, home, write, snapshot_tree):
    src = write("plan.yaml", json.dumps(PLAN_DOC))
    before = snapshot_tree(home)
    result = sh("run", src, "--dry-run", "--json")
    assert result.exit_code == 0, result
    assert [s["task"] for s in result.json()["steps"]][-1] == "deploy"
    assert snapshot_tree(home) == before
    assert list((home / "instances").iterdir()) == []
