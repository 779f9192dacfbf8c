"""The Workflow builder (SPEC 10): each kind of task, task fields, expressions, and the errors a user meets."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from workflow_cli import Workflow
from workflow_cli.errors import InvalidInputError
from workflow_cli.ops.validation import validate_source
from workflow_cli.store.home import Home


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """document() validates against the default home, as ``validate`` does: keep it in tmp_path."""
    monkeypatch.setenv("WORKFLOW_HOME", str(tmp_path / "home"))


def task_of(wf: Workflow, task_id: str) -> dict[str, Any]:
    return wf.document()["tasks"][task_id]  # type: ignore[no-any-return]


def test_command_argv_and_string_with_parameters() -> None:
    wf = Workflow("nightly", params={"day": str}, description="ETL", max_parallel=2, tags=["etl"])
    wf.command("extract", ["./extract.sh", wf.param("day")], cwd="data", env={"MODE": "fast"}, success_exit_codes=[0, 3])
    wf.command("shell", f"echo {wf.param('day')} | wc -c", shell=True, stdin="x")
    doc = wf.document()
    assert doc["version"] == "2.0.0" and doc["name"] == "nightly"
    assert doc["description"] == "ETL" and doc["max_parallel"] == 2 and doc["tags"] == ["etl"]
    assert doc["parameters"] == {"day": {"type": "string", "required": True}}
    assert doc["tasks"]["extract"] == {"action": "command", "parameters": {
        "command": ["./extract.sh", "{{ params.day }}"], "cwd": "data", "env": {"MODE": "fast"}, "success_exit_codes": [0, 3]}}
    assert doc["tasks"]["shell"]["parameters"] == {"command": "echo {{ params.day }} | wc -c", "shell": True, "stdin": "x"}


def test_python_by_name_and_by_function() -> None:
    wf = Workflow("w")
    wf.python("a", "etl:transform", args=[1, "two"], kwargs={"unit": "kg"}, isolated=True)
    wf.python("b", json.dumps, args=[[1]])
    doc = wf.document()
    assert doc["tasks"]["a"]["parameters"] == {"callable": "etl:transform", "args": [1, "two"], "kwargs": {"unit": "kg"}, "isolated": True}
    assert doc["tasks"]["b"]["parameters"]["callable"] == "json:dumps"
    with pytest.raises(TypeError, match="module level"):
        wf.python("c", lambda: 1)


def test_agent_http_approval_wait_trigger_when_file_noop() -> None:
    wf = Workflow("every kind", params={"amount": int})
    wf.agent("count", agent_id="builtin.worker", parameters={"text": "a b"})
    wf.agent("pick", agent_type="analyzer", required_capabilities=["count"])
    wf.http("hook", "https://example.org/hook", method="POST", json={"ok": True}, expected_status=201, timeout_seconds=5)
    wf.approval("gate", approvers=["ann", "bob"], message="ship?", required_approvals=2, timeout_seconds=60, on_timeout="reject")
    wf.wait("nap", seconds=5)
    wf.wait("noon", until=dt.datetime(2030, 1, 1, 12, tzinfo=dt.timezone.utc))
    wf.wait("paid", signal="payment", timeout_seconds=3600, on_timeout="approve")
    wf.trigger("child", "sequential_pipeline", {"source": "in.csv", "destination": "out.json"}, wait=True)
    wf.when("big", wf.param("amount") > 1000)
    wf.when("tier", cases=[(wf.param("amount") > 100, "gold")], default="basic")
    wf.file("save", "write", "out.txt", content="done")
    wf.noop("join")
    tasks = wf.document()["tasks"]
    assert tasks["count"] == {"action": "agent_task", "agent_id": "builtin.worker", "parameters": {"text": "a b"}}
    assert tasks["pick"] == {"action": "agent_task", "agent_type": "analyzer", "required_capabilities": ["count"]}
    # a keyword naming both a task field and an action input goes to the task for http...
    assert tasks["hook"]["timeout_seconds"] == 5
    assert tasks["hook"]["parameters"] == {"method": "POST", "url": "https://example.org/hook", "json": {"ok": True}, "expected_status": 201}
    # ... and to the gate's own deadline for approval and wait
    assert tasks["gate"] == {"action": "approval_gate", "parameters": {
        "approvers": ["ann", "bob"], "message": "ship?", "required_approvals": 2, "timeout_seconds": 60, "on_timeout": "reject"}}
    assert tasks["nap"]["parameters"] == {"seconds": 5}
    assert tasks["noon"]["parameters"] == {"until": "2030-01-01T12:00:00+00:00"}
    assert tasks["paid"]["parameters"] == {"signal": "payment", "timeout_seconds": 3600, "on_timeout": "approve"}
    assert tasks["child"]["action"] == "workflow_trigger"
    assert tasks["child"]["parameters"] == {"template": "sequential_pipeline", "params": {"source": "in.csv", "destination": "out.json"}, "wait": True}
    assert tasks["big"]["parameters"] == {"expression": "{{ (params.amount > 1000) }}"}
    assert tasks["tier"]["parameters"] == {"cases": [{"when": "{{ (params.amount > 100) }}", "value": "gold"}], "default": "basic"}
    assert tasks["save"]["parameters"] == {"operation": "write", "path": "out.txt", "content": "done"}
    assert tasks["join"] == {"action": "noop"}


def test_generic_task_for_any_action() -> None:
    wf = Workflow("w")
    wf.task("read", "file_operation", {"operation": "read", "path": "in.txt"}, timeout_seconds=3)
    assert task_of(wf, "read") == {"action": "file_operation", "parameters": {"operation": "read", "path": "in.txt"}, "timeout_seconds": 3}


def test_task_fields_with_the_documents_names() -> None:
    wf = Workflow("w", params={"env": str}, on_failure="rollback", variables={"n": 0})
    a = wf.command("a", "true", name="A", description="first", priority=5, pool="db", checkpoint=False,
                   on_interrupt="pause", outputs=["x"], retry=3, retry_delay=2, timeout_seconds=10.5,
                   compensate={"action": "command", "parameters": {"command": "undo"}})
    wf.noop("b", after=[a], retry={"max_attempts": 4, "delay_seconds": 1}, on_failure="continue",
            trigger_rule="all_done", conditions=wf.param("env") == "prod", set_vars={"seen": a.outputs["x"]},
            cache={"key": wf.param("env"), "ttl_seconds": 60}, loop={"until": "vars.n > 2", "max_iterations": 3})
    wf.noop("c", after=a, cache=wf.param("env"), trigger_rule={"min_success": 1})
    doc = wf.document()
    assert doc["on_failure"] == "rollback" and doc["variables"] == {"n": 0}
    assert doc["tasks"]["a"] == {
        "action": "command", "parameters": {"command": "true"}, "name": "A", "description": "first", "priority": 5,
        "pool": "db", "checkpoint": False, "on_interrupt": "pause", "outputs": ["x"], "retry_count": 3, "retry_delay": 2,
        "timeout_seconds": 10.5, "compensate": {"action": "command", "parameters": {"command": "undo"}}}
    b = doc["tasks"]["b"]
    assert b["dependencies"] == ["a"]
    assert b["retry"] == {"max_attempts": 4, "delay_seconds": 1}
    assert b["conditions"] == ['{{ (params.env == "prod") }}']
    assert b["set_vars"] == {"seen": "{{ tasks.a.outputs.x }}"}
    assert b["cache"] == {"key": "{{ params.env }}", "ttl_seconds": 60}
    assert doc["tasks"]["c"]["cache"] == {"key": "{{ params.env }}"}
    assert doc["tasks"]["c"]["trigger_rule"] == {"min_success": 1}


def test_unknown_keyword_is_a_type_error_naming_it() -> None:
    wf = Workflow("w")
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'retyr' \(did you mean 'retry'\?\)"):
        wf.command("a", "true", retyr=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'colour'"):
        Workflow("w", colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="params="):
        Workflow("w", parameters={"x": {"type": "string"}})  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="sets 'action' itself"):
        wf.noop("b", action="command")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="set by foreach"):
        wf.foreach(["a"]).noop("c", foreach="params.x")
    assert wf.task_ids == ()  # nothing half-added


def test_unknown_dependency_raises_at_once_with_did_you_mean() -> None:
    wf = Workflow("w")
    wf.noop("build")
    with pytest.raises(InvalidInputError) as err:
        wf.noop("deploy", after=["biuld"])
    assert str(err.value) == "tasks.deploy.dependencies[0]: unknown task 'biuld' (did you mean 'build'?)"
    other = Workflow("other").noop("x")
    with pytest.raises(ValueError, match="another Workflow"):
        wf.noop("y", after=[other])


def test_ids_and_parameters_are_checked_when_added() -> None:
    wf = Workflow("w", params={"day": str, "count": {"type": "integer", "default": 1}, "flags": list})
    wf.noop("a")
    with pytest.raises(InvalidInputError, match="duplicate task id 'a'"):
        wf.noop("a")
    with pytest.raises(InvalidInputError, match="invalid task id '1x'"):
        wf.noop("1x")
    with pytest.raises(InvalidInputError, match=r"unknown parameter 'params.dya' \(did you mean 'day'\?\)"):
        wf.param("dya")
    assert wf.document()["parameters"]["flags"] == {"type": "array", "required": True}
    with pytest.raises(TypeError, match="not a parameter type"):
        Workflow("w", params={"x": object})
    with pytest.raises(TypeError, match="exactly one of agent_id and agent_type"):
        wf.agent("ag")
    with pytest.raises(TypeError, match="exactly one of seconds, until and signal"):
        wf.wait("wt", seconds=1, signal="go")


def test_handles_render_as_expressions() -> None:
    wf = Workflow("w")
    t = wf.command("fetch-data", "true")
    u = wf.command("u", "true")
    assert str(u.outputs["path"]) == "{{ tasks.u.outputs.path }}"
    assert str(u.outputs["odd key"]) == '{{ tasks.u.outputs["odd key"] }}'
    assert str(u.outputs["items"]) == '{{ tasks.u.outputs["items"] }}'  # a dict method name: subscript, not dot
    assert str(u.outputs[0]["file"]) == "{{ tasks.u.outputs[0].file }}"
    assert str(t.status) == '{{ tasks["fetch-data"].status }}'
    assert str(u.result) == "{{ tasks.u.outputs.result }}"
    assert f"n={u.outputs['n']}" == "n={{ tasks.u.outputs.n }}"
    assert ((u.status == "failed") | ~wf.var("ok")).source == '((tasks.u.status == "failed") or (not vars.ok))'
    with pytest.raises(TypeError, match="&, | and ~"):
        bool(u.status == "completed")
    assert wf["u"] is u
    with pytest.raises(KeyError, match="did you mean 'u'"):
        wf["uu"]


def test_reading_a_tasks_outputs_makes_it_a_dependency() -> None:
    wf = Workflow("w")
    a = wf.command("a", "true")
    b = wf.command("b-2", "true")
    wf.command("c", ["echo", a.outputs["x"]], conditions=[b.status == "completed"])
    wf.command("d", "echo {{ tasks.a.outputs.x }}", after=[b])  # written by hand, too
    tasks = wf.document()["tasks"]
    assert tasks["c"]["dependencies"] == ["a", "b-2"]  # implied ones in the order the tasks were added
    assert tasks["d"]["dependencies"] == ["b-2", "a"]
    assert "dependencies" not in tasks["a"]


def test_foreach_over_a_list_a_handle_or_an_expression() -> None:
    wf = Workflow("thumbs", params={"images": list})
    listing = wf.python("list", "etl:list_files")
    each = wf.foreach(listing, max_parallel=4, tolerated_failures="10%")
    each.command("resize", ["convert", each.item, f"small-{each.index}.png"])
    wf.command("direct", ["echo", wf.item], foreach=wf.param("images"), foreach_max_parallel=2)
    wf.noop("publish", after=[wf["resize"]])
    tasks = wf.document()["tasks"]
    assert tasks["resize"] == {
        "action": "command", "parameters": {"command": ["convert", "{{ item }}", "small-{{ index }}.png"]},
        "dependencies": ["list"], "foreach": "{{ tasks.list.outputs.result }}", "foreach_max_parallel": 4,
        "foreach_tolerated_failures": "10%"}
    assert tasks["direct"]["foreach"] == "{{ params.images }}"
    assert tasks["direct"]["foreach_max_parallel"] == 2


def test_document_is_validated_with_the_same_messages_as_validate(tmp_path: Path) -> None:
    wf = Workflow("w")
    wf.command("a", "echo {{ tasks.nope.outputs }}", on_failure="explode")
    wf.agent("b", agent_id="no_such_agent")
    plain = wf.document(validate=False)
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(plain))
    expected = validate_source(Home(tmp_path / "home"), str(path)).errors
    assert expected
    with pytest.raises(InvalidInputError) as err:
        wf.document()
    assert err.value.issues == expected
    with pytest.raises(InvalidInputError):
        wf.save(tmp_path / "out.json")
    assert not (tmp_path / "out.json").exists()


def test_save_json_and_yaml_load_back_equal(tmp_path: Path) -> None:
    from workflow_cli.model.loader import load_document

    wf = Workflow("saved", params={"who": {"type": "string", "default": "world"}})
    wf.command("hello", ["echo", "héllo", wf.param("who")], retry=1)
    for name in ("t.json", "t.yaml", "t.yml"):
        path = wf.save(tmp_path / name)
        assert load_document(path) == wf.document()
    with pytest.raises(ValueError, match=".json, .yaml or .yml"):
        wf.save(tmp_path / "t.txt")


def test_non_json_values_are_refused_with_their_path() -> None:
    wf = Workflow("w")
    with pytest.raises(TypeError, match=r"tasks.a.parameters.env.X: a set cannot go into a workflow document"):
        wf.command("a", "true", env={"X": {1}})
    with pytest.raises(ValueError, match="not a JSON number"):
        wf.command("b", "true", timeout_seconds=float("nan"))
