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


UPSTREAM_DOC = {
    "version": "2.0.0",
    "name": "Upstream values",
    "variables": {"stage": "prod"},
    "parameters": {"who": {"type": "string", "default": "ann"}},
    "tasks": {
        "split": {"action": "noop", "parameters": {"outputs": {"partitions": ["a b", "c"]}}, "set_vars": {"n": "2"}},
        "use": {"action": "noop", "dependencies": ["split"], "parameters": {
            "first": "{{ tasks.split.outputs.partitions[0] }}",
            "all": "{{ tasks.split.outputs }}",
            "mixed": "to {{ params.who }}: {{ tasks.split.outputs.partitions | length }} parts in {{ vars.stage }}",
            "later_var": "{{ vars.n }}",
            "status": ["{{ tasks.split.status }}", 3],
        }},
    },
}


def test_dry_run_shows_where_upstream_values_come_from(sh, write):
    result = sh("run", write("up.json", UPSTREAM_DOC), "--dry-run", "--json")
    assert result.exit_code == 0, result
    params = {s["task"]: s for s in result.json()["steps"]}["use"]["parameters"]
    assert params["first"] == "<from split.outputs.partitions>"  # not "<", the first character of a placeholder
    assert params["all"] == "<from split.outputs>"
    assert params["mixed"] == "to ann: <from split.outputs.partitions> parts in prod"
    assert params["later_var"] == "<from vars.n>"  # set by a task: known only at run time
    assert params["status"] == ["<from split.status>", 3]
    human = sh("run", write("up.json", UPSTREAM_DOC), "--dry-run")
    assert "<from split.outputs.partitions>" in human.stdout + human.stderr


def test_dry_run_of_parallel_processing_has_no_garbage(cli):
    result = cli("run", "parallel_processing", "--dry-run", "--json")
    assert result.exit_code == 0, result
    steps = {s["task"]: s["parameters"] for s in result.json()["steps"]}
    assert steps["process_partition_2"]["data"] == "<from split.outputs.partitions>"
    assert steps["aggregate"]["results"][0] == "<from process_partition_1.outputs>"
