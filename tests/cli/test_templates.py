"""``templates [list|show]`` and ``validate`` of good documents (SPEC 4, 8, 13)."""

from __future__ import annotations

import json

import pytest
import yaml

BUILTINS = ("approval_chain", "parallel_processing", "sequential_pipeline", "conditional_workflow")
BUILTIN_PARAMS = {
    "approval_chain": {"level1_approver", "level2_approver", "request_title", "request_details",
                       "escalation_approver", "approval_timeout_seconds"},
    "parallel_processing": {"worker_agent_1", "worker_agent_2", "worker_agent_3", "input"},
    "sequential_pipeline": {"extraction_agent", "transformation_agent", "source", "destination"},
    "conditional_workflow": {"assessment_agent", "priority_agent"},
}


def test_templates_json_lists_builtins(cli):
    result = cli("templates", "--json")
    assert result.exit_code == 0, result
    rows = {row["name"]: row for row in result.json()}
    for name in BUILTINS:
        row = rows[name]
        assert {"name", "description", "category", "source", "parameters"} <= set(row)
        assert row["source"] == "builtin"
        assert row["description"]
        assert BUILTIN_PARAMS[name] <= set(row["parameters"]), name
        for decl in row["parameters"].values():
            assert decl.get("type") in ("string", "integer", "number", "boolean", "array", "object")


def test_templates_list_equals_templates(cli):
    assert cli("templates", "list", "--json").json() == cli("templates", "--json").json()


def test_templates_human_table(cli):
    result = cli("templates")
    assert result.exit_code == 0
    for name in BUILTINS:
        assert name in result.stdout


def test_home_template_shadows_builtin(cli, home_template):
    home_template("approval_chain.yaml", {
        "version": "2.0.0", "name": "My approvals", "description": "mine",
        "parameters": {"who": {"type": "string", "default": "me"}},
        "tasks": {"only": {"action": "noop"}},
    })
    rows = [row for row in cli("templates", "--json").json() if row["name"] == "approval_chain"]
    assert len(rows) == 1
    assert rows[0]["source"] == "home"
    assert set(rows[0]["parameters"]) == {"who"}
    shown = cli("templates", "show", "approval_chain", "--json").json()
    assert shown["source"] == "home"
    assert [n["id"] for n in shown["graph"]["nodes"]] == ["only"]
    created = cli("create", "approval_chain", "--json").json()
    assert created["params"] == {"who": "me"}


@pytest.mark.parametrize("name", BUILTINS)
def test_templates_show_json(cli, name):
    result = cli("templates", "show", name, "--json")
    assert result.exit_code == 0, result
    info = result.json()
    assert info["name"] == name
    assert info["source"] == "builtin"
    assert BUILTIN_PARAMS[name] <= set(info["parameters"])
    graph = info["graph"]
    ids = {node["id"] for node in graph["nodes"]}
    assert len(ids) >= 3
    for node in graph["nodes"]:
        assert {"id", "name", "action"} <= set(node)
    for src, dst in graph["edges"]:
        assert src in ids and dst in ids


def test_templates_show_human(cli):
    result = cli("templates", "show", "approval_chain")
    assert result.exit_code == 0, result
    assert "level1_approver" in result.stdout
    assert "request_title" in result.stdout


def test_templates_show_console_script(sh):
    result = sh("templates", "show", "sequential_pipeline", "--json")
    assert result.exit_code == 0, result
    assert result.json()["name"] == "sequential_pipeline"


@pytest.mark.parametrize("name", BUILTINS)
def test_validate_builtin(cli, name):
    result = cli("validate", name)
    assert result.exit_code == 0, result
    doc = cli("validate", name, "--json").json()
    assert doc["valid"] is True
    assert doc["errors"] == []


def test_validate_builtin_console_script(sh):
    result = sh("validate", "conditional_workflow", "--json")
    assert result.exit_code == 0, result
    assert result.json()["valid"] is True


def test_validate_file_json_shape(cli, small_doc, write):
    good = cli("validate", write("good.json", small_doc()), "--json")
    assert good.exit_code == 0, good
    assert good.json()["valid"] is True and good.json()["errors"] == []
    bad = cli("validate", write("bad.json", small_doc(colour="red")), "--json")
    assert bad.exit_code == 2
    doc = bad.json()
    assert doc["valid"] is False
    assert doc["errors"] and all(set(e) >= {"path", "message"} for e in doc["errors"])
    assert all(isinstance(e["path"], str) and isinstance(e["message"], str) for e in doc["errors"])


def test_validate_reports_every_problem_at_once(cli, small_doc, write):
    doc = small_doc(colour="red", execution_mode="sideways")
    doc["tasks"]["first"]["priority"] = "high"
    result = cli("validate", write("many.json", doc), "--json")
    assert result.exit_code == 2
    paths = {e["path"] for e in result.json()["errors"]}
    assert {"colour", "execution_mode", "tasks.first.priority"} <= paths


def test_validate_with_params(cli, params_template):
    ok = cli("validate", params_template, "--param", "token=t", "--param", "count=3")
    assert ok.exit_code == 0, ok
    bad = cli("validate", params_template, "--param", "count=11", "--json")
    assert bad.exit_code == 2
    paths = {e["path"] for e in bad.json()["errors"]}
    assert "params.count" in paths
    assert "params.token" in paths, "with parameters given, a missing required one is an error"


def test_yaml_document_works_like_json(cli, small_doc, write):
    doc = small_doc()
    as_json = write("flow.json", doc)
    as_yaml = write("flow.yaml", yaml.safe_dump(doc, sort_keys=False))
    for src in (as_json, as_yaml):
        assert cli("validate", src).exit_code == 0
    graphs = [cli("graph", src, "--format", "json").json() for src in (as_json, as_yaml)]
    assert graphs[0] == graphs[1]
    ids = [cli("create", src, "--quiet").stdout.strip() for src in (as_json, as_yaml)]
    docs = [json.loads((cli.home / "instances" / i / "workflow.json").read_text()) for i in ids]
    assert docs[0] == docs[1] == doc


def test_yaml_template_in_home(cli, home_template, small_doc):
    home_template("yamlflow.yml", yaml.safe_dump(small_doc(name="From YAML")))
    rows = {row["name"]: row for row in cli("templates", "--json").json()}
    assert rows["yamlflow"]["source"] == "home"
    created = cli("create", "yamlflow", "--json")
    assert created.exit_code == 0, created
    assert created.json()["template"] == "yamlflow"
