"""The shipped JSON Schemas and the Issues schema_issues derives from their errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from workflow_cli.model.schema import load_schema, render_path, schema_issues

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
BUILTIN = ("approval_chain", "parallel_processing", "sequential_pipeline", "conditional_workflow")

MINIMAL: dict[str, Any] = {"version": "2.0.0", "name": "demo", "tasks": {"build": {"action": "noop"}}}


def _doc(**changes: Any) -> dict[str, Any]:
    """A copy of the minimal document with top-level fields replaced."""
    doc = copy.deepcopy(MINIMAL)
    doc.update(changes)
    return doc


def _task(**fields: Any) -> dict[str, Any]:
    """The minimal document whose single task ``build`` has ``fields``."""
    return _doc(tasks={"build": {"action": "noop", **fields}})


def _by_path(doc: object, name: str = "workflow-2.0.0") -> dict[str, Any]:
    return {issue.path: issue for issue in schema_issues(doc, name)}


def test_minimal_document_is_valid() -> None:
    assert schema_issues(MINIMAL) == []


def test_full_featured_document_is_valid() -> None:
    doc = _doc(
        **{"$schema": "https://example.invalid/workflow-2.0.0.json"},
        id="wf",
        description="d",
        category="c",
        tags=["a"],
        parameters={"n": {"type": "integer", "default": 1, "minimum": 0, "secret": False}},
        variables={"x": [1, 2]},
        defaults={"timeout_seconds": 5, "retry": {"max_attempts": 2}, "on_failure": "continue"},
        execution_mode="sequential",
        max_parallel=4,
        on_failure="rollback",
        hooks={"task.failed": [{"action": "command", "parameters": {"command": "true"}}]},
        agents={"a": {"kind": "command", "command": ["cat"], "capabilities": ["x"], "max_concurrent": 2}},
        schedule={"cron": "0 9 * * 1", "timezone": "Europe/Paris", "catchup": "latest", "overlap": "skip"},
        env_allow=["HOME"],
        tasks={
            "a": {"action": "command", "parameters": {"command": "echo hi"}, "retry_count": 2, "retry_delay": 0.5},
            "b-2": {
                "agent_type": "worker",
                "required_capabilities": ["count"],
                "dependencies": ["a"],
                "trigger_rule": {"min_success": 1, "cancel_remaining": True},
                "foreach": "params.items",
                "foreach_tolerated_failures": "12.5%",
                "loop": {"until": "loop.iteration > 2", "max_iterations": 3},
                "set_vars": {"y": "tasks.a.outputs.x"},
                "cache": {"key": "params.n", "ttl_seconds": 60},
                "compensate": {"action": "noop"},
                "on_interrupt": "pause",
                "retry": {"jitter": 0.5, "retry_on": ["timeout"], "exit_codes": [75]},
            },
        },
    )
    assert schema_issues(doc) == []


BAD_DOCUMENTS = [
    pytest.param(_doc(nmae="x"), "nmae", "unknown field 'nmae'", id="unknown-top-level-field"),
    pytest.param(
        _task(retyr={"max_attempts": 2}),
        "tasks.build.retyr",
        "did you mean 'retry'",
        id="unknown-task-field",
    ),
    pytest.param(_task(priority="high"), "tasks.build.priority", "expected integer, got string", id="wrong-type"),
    pytest.param(_task(on_failure="retry"), "tasks.build.on_failure", "must be one of", id="bad-enum"),
    pytest.param(
        _task(trigger_rule="all_sucess"),
        "tasks.build.trigger_rule",
        "did you mean 'all_success'",
        id="bad-trigger-rule",
    ),
    pytest.param(
        _task(trigger_rule={"min_success": 0}),
        "tasks.build.trigger_rule.min_success",
        ">= 1",
        id="min-success-zero",
    ),
    pytest.param(_doc(tasks={"bad id": {}}), "tasks.bad id", "invalid task id 'bad id'", id="bad-task-id"),
    pytest.param(_doc(tasks={}), "tasks", "empty", id="no-tasks"),
    pytest.param({"version": "2.0.0", "tasks": {"a": {}}}, "name", "missing required field 'name'", id="missing-name"),
    pytest.param(
        _task(loop={"max_iterations": 3}),
        "tasks.build.loop.until",
        "missing required field 'until'",
        id="loop-no-until",
    ),
    pytest.param(
        _task(foreach_tolerated_failures="10"),
        "tasks.build.foreach_tolerated_failures",
        "percentage",
        id="tolerated-pattern",
    ),
    pytest.param(_task(dependencies=["a", "a"]), "tasks.build.dependencies", "duplicates", id="duplicate-dependency"),
    pytest.param(_task(retry={"jitter": 2}), "tasks.build.retry.jitter", "<= 1", id="jitter-range"),
    pytest.param(
        _task(compensate={"action": "noop", "params": {}}),
        "tasks.build.compensate.params",
        "unknown field",
        id="compensate-field",
    ),
    pytest.param(_doc(agents={"a": {"kind": "shell"}}), "agents.a.kind", "must be one of", id="agent-unknown-kind"),
    pytest.param(
        _doc(agents={"a": {"kind": "python"}}),
        "agents.a.callable",
        "missing required field",
        id="agent-no-callable",
    ),
    pytest.param(
        _doc(schedule={"timezone": "UTC"}),
        "schedule.cron",
        "missing required field 'cron'",
        id="schedule-no-cron",
    ),
    pytest.param(_doc(hooks={"task.faild": []}), "hooks.task.faild", "unknown event", id="hook-unknown-event"),
    pytest.param(
        _doc(parameters={"n": {"default": 1}}),
        "parameters.n.type",
        "missing required field 'type'",
        id="param-no-type",
    ),
    pytest.param(_doc(version="1.0.0"), "version", "unsupported schema version '1.0.0'", id="old-version"),
    pytest.param(
        _doc(defaults={"dependencies": ["x"]}),
        "defaults.dependencies",
        "unknown field",
        id="defaults-no-deps",
    ),
    pytest.param(_task(timeout_seconds=0), "tasks.build.timeout_seconds", "> 0", id="zero-timeout"),
]


@pytest.mark.parametrize(("doc", "path", "fragment"), BAD_DOCUMENTS)
def test_bad_document_reports_path_and_message(doc: dict[str, Any], path: str, fragment: str) -> None:
    issues = _by_path(doc)
    assert path in issues, [str(i) for i in issues.values()]
    assert fragment in str(issues[path])


def test_unknown_field_hint_and_all_errors_at_once() -> None:
    doc = _doc(nmae="x", tasks={"build": {"retyr": 1, "priority": "x"}, "test": {"dependecies": []}})
    issues = schema_issues(doc)
    assert [i.path for i in issues] == ["nmae", "tasks.build.priority", "tasks.build.retyr", "tasks.test.dependecies"]
    assert issues[2].hint == "did you mean 'retry'?"
    assert issues[3].hint == "did you mean 'dependencies'?"


def test_wrong_type_for_a_union_names_both_types() -> None:
    issue = _by_path(_task(trigger_rule=5))["tasks.build.trigger_rule"]
    assert issue.message == "expected string or object, got integer"


def test_root_that_is_not_an_object() -> None:
    assert [(i.path, i.message) for i in schema_issues([1])] == [("", "expected object, got array")]


def test_one_issue_per_path() -> None:
    paths = [i.path for i in schema_issues(_doc(agents={"a": {"kind": "command"}, "b": {"kind": "http"}}))]
    assert paths == sorted(set(paths)) == ["agents.a.command", "agents.b.url"]


def test_render_path() -> None:
    assert render_path(("tasks", "deploy", "dependencies", 0)) == "tasks.deploy.dependencies[0]"
    assert render_path(()) == ""


def test_load_schema_is_draft_2020_12_and_cached() -> None:
    from jsonschema import Draft202012Validator

    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["version"]["const"] == "2.0.0"
    assert load_schema() is schema


@pytest.mark.parametrize("name", ["config", "agents"])
def test_home_schemas_are_valid_schemas(name: str) -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(load_schema(name))


def test_config_schema() -> None:
    good = {
        "max_parallel": 4,
        "allow_hosts": ["api.example.com", "*.internal"],
        "allow_metadata_hosts": False,
        "file_roots": ["/srv/data"],
        "pools": {"db": 2},
        "retention": {"older_than": "30d", "status": ["completed", "cancelled"]},
    }
    assert schema_issues(good, "config") == []
    issues = _by_path({"max_paralel": 2, "pools": {"db": 0}}, "config")
    assert issues["max_paralel"].hint == "did you mean 'max_parallel'?"
    assert ">= 1" in issues["pools.db"].message
    assert "retention.olderthan" in _by_path({"retention": {"olderthan": "1d"}}, "config")


def test_agents_schema() -> None:
    good = {
        "agents": {
            "summariser": {"kind": "command", "command": "python summarise.py", "type": "worker", "env": {"A": "1"}},
            "scorer": {"kind": "python", "callable": "pkg.mod:score", "capabilities": ["score"]},
            "remote": {"kind": "http", "url": "https://agents.example.com/run", "headers": {"X-Key": "k"}},
            "human": {"kind": "mailbox", "timeout_seconds": 3600, "description": "a person"},
        }
    }
    assert schema_issues(good, "agents") == []
    issues = _by_path({"agents": {"a": {"kind": "python", "callable": "m:f", "capabilites": ["x"]}}}, "agents")
    assert issues["agents.a.capabilites"].hint == "did you mean 'capabilities'?"
    assert "agnets" in _by_path({"agnets": {}}, "agents")


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_templates_pass_the_schema(name: str) -> None:
    doc = json.loads((TEMPLATES / f"{name}.json").read_text(encoding="utf-8"))
    assert schema_issues(doc) == []
    assert doc["version"] == "2.0.0"
    assert all(spec.get("description") for spec in doc["parameters"].values())
    assert all(spec.get("description") for spec in doc["tasks"].values())


def test_builtin_template_parameters_follow_the_spec() -> None:
    expected = {
        "approval_chain": {"level1_approver", "level2_approver", "request_title", "request_details",
                           "escalation_approver", "approval_timeout_seconds"},
        "parallel_processing": {"worker_agent_1", "worker_agent_2", "worker_agent_3", "input"},
        "sequential_pipeline": {"extraction_agent", "transformation_agent", "source", "destination"},
        "conditional_workflow": {"assessment_agent", "priority_agent", "request"},
    }
    for name, params in expected.items():
        doc = json.loads((TEMPLATES / f"{name}.json").read_text(encoding="utf-8"))
        assert set(doc["parameters"]) == params
        for pname, spec in doc["parameters"].items():
            if pname.endswith("_agent") or pname.startswith("worker_agent"):
                assert spec["default"].startswith("builtin."), pname


def test_compiling_the_fast_validator_leaves_the_full_validator_working(tmp_path, monkeypatch) -> None:
    """A cold schema cache: a valid document compiles the fast check, then an invalid one needs the full validator,
    and the shared schema is intact for both (the compiler must not rewrite it in place)."""
    from workflow_cli.model import schema as schema_module

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    caches = (schema_module.load_schema, schema_module._validator, schema_module._fast_validator)
    for cached in caches:
        cached.cache_clear()
    try:
        big = {"version": "2.0.0", "name": "big", "tasks": {f"t{i}": {"action": "noop"} for i in range(400)}}
        assert schema_module.schema_issues(big) == []
        small = {"version": "2.0.0", "name": "small", "tasks": {"a": {"action": "noop", "retyr": 1}}}
        assert [i.path for i in schema_module.schema_issues(small)] == ["tasks.a.retyr"]
        assert schema_module.schema_issues(big) == []
    finally:
        for cached in caches:
            cached.cache_clear()
