"""The agent registry: merge order, validation of agents.yaml, selection, and create-time agent checks."""

from __future__ import annotations

import pytest

from workflow_cli.agents.registry import AgentSpec, agent_issues, known_agent_ids, load_agents, select_agent
from workflow_cli.errors import InvalidInputError, NotFoundError

BUILTIN_IDS = {
    "builtin.splitter", "builtin.worker", "builtin.worker-2", "builtin.worker-3", "builtin.checker", "builtin.aggregator",
    "builtin.extractor", "builtin.transformer", "builtin.validator", "builtin.assessor", "builtin.notifier", "builtin.recorder",
}


def test_builtins_only_without_agents_file(agent_home):
    agents = load_agents(agent_home, None)
    assert set(agents) == BUILTIN_IDS
    assert all(a.kind == "builtin" and a.source == "builtin" for a in agents.values())
    assert {agents[i].type for i in ("builtin.worker", "builtin.worker-2", "builtin.worker-3")} == {"worker"}


def test_precedence_builtin_home_workflow(agent_home, write_agents):
    write_agents("""
        agents:
          builtin.worker: {kind: command, command: "cat", type: worker, capabilities: [count]}
          shared: {kind: python, callable: "mod:fn", type: home-type}
          home-only: {kind: http, url: "http://127.0.0.1:1/x", headers: {Authorization: "Bearer s3cret"}}
    """)
    agents = load_agents(agent_home.root, {"shared": {"kind": "command", "command": ["echo", "{}"], "max_concurrent": 2}})
    assert agents["builtin.worker"].source == "home" and agents["builtin.worker"].kind == "command"
    assert agents["builtin.checker"].source == "builtin"
    shared = agents["shared"]
    assert (shared.source, shared.kind, shared.command, shared.max_concurrent, shared.type) == ("workflow", "command", ("echo", "{}"), 2, None)
    assert agents["home-only"].headers == {"Authorization": "Bearer s3cret"}
    assert "Bearer" not in str(agents["home-only"].summary())


@pytest.mark.parametrize(
    ("text", "path_suffix", "words"),
    [
        ("agents:\n  a: {kind: command}\n", "agents.a.command", "missing required field"),
        ("agents:\n  a: {kind: telepathy}\n", "agents.a.kind", "must be one of"),
        ("agents:\n  a: {kind: python, callable: m:f, max_concurent: 2}\n", "agents.a.max_concurent", "unknown field"),
        ("agents:\n  a: {kind: python, callable: m:f, max_concurrent: 0}\n", "agents.a.max_concurrent", ">= 1"),
        ("agents:\n  ../evil: {kind: python, callable: m:f}\n", "agents.../evil", "invalid agent id"),
        ("workers: {}\n", "workers", "unknown field"),
        ("agents:\n  a: {kind: python, callable: m:f}\n  a: {kind: python, callable: m:g}\n", "agents.a", "duplicate"),
    ],
)
def test_bad_agents_file_is_reported_with_its_path(agent_home, write_agents, text, path_suffix, words):
    path = write_agents(text)
    with pytest.raises(InvalidInputError) as info:
        load_agents(agent_home, None)
    issue = info.value.issues[0]
    assert issue.path == f"{path}:{path_suffix}", info.value.issues
    assert words in issue.message.lower() or words in (issue.hint or ""), issue


def test_empty_or_comment_only_agents_file_means_no_home_agents(agent_home, write_agents):
    write_agents("# nothing yet\n")
    assert set(load_agents(agent_home, None)) == BUILTIN_IDS
    write_agents("")
    assert set(load_agents(agent_home, None)) == BUILTIN_IDS


def test_bad_document_agents_block(agent_home):
    with pytest.raises(InvalidInputError) as info:
        load_agents(agent_home, {"x": {"kind": "http"}})
    assert info.value.issues[0].path == "agents.x.url"


def _spec(agent_id: str, **kw) -> AgentSpec:
    return AgentSpec(id=agent_id, kind="builtin", **kw)


AGENTS = {
    "a": _spec("a", type="worker", capabilities=("gpu", "count")),
    "b": _spec("b", type="worker", capabilities=("count",)),
    "c": _spec("c", type="worker", capabilities=("gpu", "count", "fast")),
    "z": _spec("z", type="checker"),
}


def test_select_by_id_type_capabilities_and_load():
    assert select_agent(AGENTS, agent_id="z").id == "z"
    assert select_agent(AGENTS, agent_type="worker", load={}).id == "a"  # ties by id
    assert select_agent(AGENTS, agent_type="worker", load={"a": 2, "b": 1, "c": 1}).id == "b"
    assert select_agent(AGENTS, agent_type="worker", capabilities=["gpu"], load={"a": 1}).id == "c"
    assert select_agent(AGENTS, capabilities=["fast"]).id == "c"


def test_select_fallback_and_errors():
    assert select_agent(AGENTS, agent_type="worker", capabilities=["quantum"], fallback="z").id == "z"
    assert select_agent(AGENTS, agent_type="printer", fallback="b").id == "b"
    with pytest.raises(NotFoundError, match="no agent of type 'printer'"):
        select_agent(AGENTS, agent_type="printer")
    with pytest.raises(NotFoundError) as info:
        select_agent(AGENTS, agent_id="bb")
    assert "unknown agent 'bb'" in str(info.value) and "known agents: a, b, c, z" in str(info.value)
    with pytest.raises(NotFoundError, match="unknown fallback agent 'nope'"):
        select_agent(AGENTS, agent_type="printer", fallback="nope")
    with pytest.raises(NotFoundError, match="names no agent"):
        select_agent(AGENTS)


def test_agent_issues_reports_literal_unknown_ids_only(agent_home, write_agents):
    write_agents("agents:\n  mine: {kind: python, callable: 'm:f'}\n")
    doc = {
        "version": "2.0.0", "name": "t",
        "agents": {"local": {"kind": "command", "command": "cat"}},
        "defaults": {"agent_id": "ghost"},
        "tasks": {
            "ok1": {"agent_id": "builtin.worker"},
            "ok2": {"agent_id": "mine"},
            "ok3": {"agent_id": "local"},
            "expr": {"agent_id": "{{ params.worker }}"},
            "bad": {"agent_id": "builtin.workr"},
            "fb": {"agent_type": "x", "fallback_agent": "nobody"},
        },
    }
    issues = agent_issues(agent_home, doc)
    assert [(i.path, i.message) for i in issues] == [
        ("defaults.agent_id", "unknown agent 'ghost'"),
        ("tasks.bad.agent_id", "unknown agent 'builtin.workr'"),
        ("tasks.fb.fallback_agent", "unknown agent 'nobody'"),
    ]
    assert "did you mean 'builtin.worker'?" in issues[1].hint and "known agents: " in issues[1].hint
    assert {"mine", "local", "builtin.worker"} <= known_agent_ids(agent_home, doc)


def test_agent_issues_surfaces_a_broken_agents_file(agent_home, write_agents):
    path = write_agents("agents:\n  a: {kind: command}\n")
    issues = agent_issues(agent_home, {"tasks": {"t": {"agent_id": "a"}}})
    assert issues and issues[0].path == f"{path}:agents.a.command"
