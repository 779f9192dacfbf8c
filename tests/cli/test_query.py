"""``list``, ``status``, id prefixes and ``graph`` (SPEC 5, 8)."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

LIST_FIELDS = {"id", "name", "template", "status", "progress", "created_at", "finished_at"}
STATUS_FIELDS = {"id", "name", "template", "status", "progress", "created_at", "started_at", "finished_at",
                 "params", "vars", "tasks", "checkpoints"}
TASK_FIELDS = {"status", "attempts", "started_at", "finished_at", "duration_seconds", "error", "outputs"}


def _iso_utc(text: str) -> datetime:
    assert re.search(r"(Z|\+00:00)$", text), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def three_instances(cli, small_doc, write):
    """Three instances: two of template 'alpha' and one of 'beta', created in that order."""
    alpha = write("alpha.json", small_doc(name="Alpha"))
    beta = write("beta.json", small_doc(name="Beta"))
    ids = [cli("create", src, "-q").stdout.strip() for src in (alpha, beta, alpha)]
    assert all(ids) and len(set(ids)) == 3
    return ids


def test_list_newest_first_and_shape(cli, three_instances):
    result = cli("list", "--json")
    assert result.exit_code == 0, result
    rows = result.json()
    assert [r["id"] for r in rows] == list(reversed(three_instances))
    for row in rows:
        assert LIST_FIELDS <= set(row)
        assert row["status"] == "created"
        assert row["progress"] == 0
        assert row["finished_at"] is None
        _iso_utc(row["created_at"])
    assert sorted(three_instances) == three_instances, "ids sort by creation time"


def test_list_filters(cli, three_instances):
    alpha = cli("list", "--template", "alpha", "--json").json()
    assert [r["id"] for r in alpha] == [three_instances[2], three_instances[0]]
    assert cli("list", "--template", "gamma", "--json").json() == []
    assert len(cli("list", "--status", "created", "--json").json()) == 3
    assert cli("list", "--status", "completed", "--json").json() == []
    limited = cli("list", "--limit", "2", "--json").json()
    assert [r["id"] for r in limited] == [three_instances[2], three_instances[1]]
    by_name = cli("list", "--sort", "name", "--json").json()
    assert [r["name"] for r in by_name] == ["Alpha", "Alpha", "Beta"]


def test_list_human_and_quiet(cli, three_instances):
    human = cli("list")
    assert human.exit_code == 0
    for instance_id in three_instances:
        assert instance_id in human.stdout
    quiet = cli("list", "-q")
    assert quiet.stdout.split() == list(reversed(three_instances))


def test_list_empty_home(cli):
    result = cli("list", "--json")
    assert result.exit_code == 0
    assert result.json() == []


def test_list_console_script(sh, three_instances):
    result = sh("list", "--json", "--limit", "1")
    assert result.exit_code == 0, result
    assert [r["id"] for r in result.json()] == [three_instances[-1]]


def test_status_json_shape(cli, small_doc, write):
    doc = small_doc(variables={"counter": 1})
    instance_id = cli("create", write("flow.json", doc), "-q").stdout.strip()
    result = cli("status", instance_id, "--json")
    assert result.exit_code == 0, result
    status = result.json()
    assert STATUS_FIELDS <= set(status)
    assert status["id"] == instance_id
    assert status["name"] == "Small"
    assert status["template"] == "flow"
    assert status["status"] == "created"
    assert status["progress"] == 0
    _iso_utc(status["created_at"])
    assert status["started_at"] is None and status["finished_at"] is None
    assert status["params"] == {}
    assert status["vars"] == {"counter": 1}
    assert status["checkpoints"] == []
    assert set(status["tasks"]) == {"first", "second"}
    for task in status["tasks"].values():
        assert TASK_FIELDS <= set(task)
        assert task["status"] == "pending"
        assert task["attempts"] == 0
        assert task["error"] is None


def test_status_after_run(cli, small_doc, write):
    result = cli("run", write("flow.json", small_doc()), "--json")
    assert result.exit_code == 0, result
    status = cli("status", result.json()["id"], "--json").json()
    assert status["status"] == "completed"
    assert status["progress"] == 100
    assert _iso_utc(status["started_at"]) <= _iso_utc(status["finished_at"])
    for task in status["tasks"].values():
        assert task["status"] == "completed"
        assert task["attempts"] == 1
        assert task["duration_seconds"] >= 0
    assert isinstance(status["checkpoints"], list)
    listed = cli("list", "--status", "completed", "--json").json()
    assert [r["id"] for r in listed] == [status["id"]]
    assert listed[0]["finished_at"]


def test_status_human(cli, small_doc, write):
    instance_id = cli("create", write("flow.json", small_doc()), "-q").stdout.strip()
    result = cli("status", instance_id)
    assert result.exit_code == 0
    assert instance_id in result.stdout
    assert "first" in result.stdout and "second" in result.stdout


def test_unique_prefix_accepted(cli, three_instances):
    target = three_instances[1]
    others = [i for i in three_instances if i != target]
    length = next(n for n in range(1, len(target) + 1) if not any(o.startswith(target[:n]) for o in others))
    result = cli("status", target[:length], "--json")
    assert result.exit_code == 0, result
    assert result.json()["id"] == target


def test_ambiguous_prefix_is_exit_2(cli, home, three_instances):
    common = three_instances[0][:4]
    assert all(i.startswith(common) for i in three_instances)
    result = cli("status", common)
    assert result.exit_code == 2
    assert common in result.stderr
    for command in ("graph",):
        assert cli(command, common).exit_code == 2


def test_unknown_id_is_exit_4(cli, three_instances):
    result = cli("status", "19990101-000000", "--json")
    assert result.exit_code == 4
    assert "19990101-000000" in result.stderr
    assert "error" in result.json()


def test_status_console_script_prefix(sh, three_instances):
    result = sh("status", three_instances[0], "--json")
    assert result.exit_code == 0, result
    assert result.json()["id"] == three_instances[0]
    missing = sh("status", "19990101")
    assert missing.exit_code == 4
    assert "19990101" in missing.stderr


# ---- graph ---------------------------------------------------------------------------------------

DIAMOND = {
    "version": "2.0.0",
    "name": "Diamond",
    "tasks": {
        "start": {"name": "Start", "action": "noop"},
        "left": {"name": "Left", "action": "noop", "dependencies": ["start"]},
        "right": {"name": "Right", "action": "command", "parameters": {"command": "true"}, "dependencies": ["start"]},
        "join": {"name": "Join", "action": "noop", "dependencies": ["left", "right"]},
    },
}
DIAMOND_EDGES = {("start", "left"), ("start", "right"), ("left", "join"), ("right", "join")}


@pytest.fixture(params=["template", "file", "instance"])
def graph_source(request, cli, home_template, write):
    """The diamond document as a home template, a file, or a created instance."""
    if request.param == "template":
        home_template("diamond.json", DIAMOND)
        return "diamond"
    path = write("diamond.json", DIAMOND)
    if request.param == "file":
        return str(path)
    return cli("create", path, "-q").stdout.strip()


def test_graph_json(cli, graph_source):
    result = cli("graph", graph_source, "--format", "json")
    assert result.exit_code == 0, result
    graph = result.json()
    assert {n["id"] for n in graph["nodes"]} == set(DIAMOND["tasks"])
    for node in graph["nodes"]:
        assert node["name"] == DIAMOND["tasks"][node["id"]]["name"]
        assert node["action"] == DIAMOND["tasks"][node["id"]]["action"]
    assert {tuple(e) for e in graph["edges"]} == DIAMOND_EDGES
    assert all(isinstance(e, list) and len(e) == 2 for e in graph["edges"])
    assert cli("graph", graph_source, "--json").json()["edges"] == graph["edges"]


def test_graph_text_formats(cli, graph_source):
    ascii_out = cli("graph", graph_source)
    assert ascii_out.exit_code == 0, ascii_out
    for tid in DIAMOND["tasks"]:
        assert tid in ascii_out.stdout
    mermaid = cli("graph", graph_source, "--format", "mermaid").stdout
    assert mermaid.lstrip().startswith(("flowchart", "graph"))
    assert all(re.search(rf"\b{a}\b.*-->.*\b{b}\b", mermaid) for a, b in DIAMOND_EDGES)
    dot = cli("graph", graph_source, "--format", "dot").stdout
    assert dot.lstrip().startswith(("digraph", "strict digraph"))
    for a, b in DIAMOND_EDGES:
        assert f'"{a}" -> "{b}"' in dot or f"{a} -> {b}" in dot


def test_graph_console_script(sh, write):
    path = write("diamond.yaml", json.dumps(DIAMOND))
    result = sh("graph", path, "--format", "json")
    assert result.exit_code == 0, result
    assert {tuple(e) for e in result.json()["edges"]} == DIAMOND_EDGES
    mermaid = sh("graph", "parallel_processing", "-f", "mermaid")
    assert mermaid.exit_code == 0 and "-->" in mermaid.stdout


@pytest.mark.parametrize("name", ["approval_chain", "parallel_processing", "sequential_pipeline", "conditional_workflow"])
def test_graph_builtins(cli, name):
    result = cli("graph", name, "--format", "json")
    assert result.exit_code == 0, result
    ids = {n["id"] for n in result.json()["nodes"]}
    assert all(a in ids and b in ids for a, b in result.json()["edges"])
