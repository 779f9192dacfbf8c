"""Property: the document of any builder is valid, and goes through a file and ``validate`` unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflow_cli import Workflow
from workflow_cli.builder import TaskHandle
from workflow_cli.model.loader import load_document
from workflow_cli.ops.validation import validate_source
from workflow_cli.store.home import Home

KINDS = ("noop", "command", "argv", "python", "when", "cases", "foreach", "wait", "approval", "http", "file", "agent",
         "trigger")
words = st.text(alphabet="abcdefghij klm-_.é", min_size=1, max_size=12).filter(str.strip)  # a name needs a non-space


def add_task(wf: Workflow, kind: str, tid: str, before: list[TaskHandle], fields: dict[str, Any]) -> TaskHandle:
    """One task of ``kind``; expressions read the parameter and earlier tasks."""
    source = before[-1] if before else None
    value = source.outputs["value"] if source else wf.param("word")
    if kind == "noop":
        return wf.noop(tid, **fields)
    if kind == "command":
        return wf.command(tid, f"echo {value} {wf.param('word')}", **fields)
    if kind == "argv":
        return wf.command(tid, ["echo", value, "--flag"], env={"WORD": wf.param("word")}, **fields)
    if kind == "python":
        return wf.python(tid, "json:dumps", args=[value], kwargs={"indent": 2}, **fields)
    if kind == "when":
        return wf.when(tid, (wf.param("count") > 2) | (value == "x"), **fields)
    if kind == "cases":
        return wf.when(tid, cases=[(value == "a", 1), ("params.count > 3", [2])], default=None, **fields)
    if kind == "foreach":
        over = source if source else wf.param("items")
        return wf.foreach(over, max_parallel=2).command(tid, ["echo", wf.item, wf.index], **fields)
    if kind == "wait":
        fields.pop("timeout_seconds", None)
        return wf.wait(tid, seconds=5, **fields)
    if kind == "approval":
        fields.pop("timeout_seconds", None)
        return wf.approval(tid, approvers=["ann"], message=f"ok {value}?", **fields)
    if kind == "http":
        return wf.http(tid, "https://example.org/api", method="POST", json={"v": value}, **fields)
    if kind == "file":
        return wf.file(tid, "write", "out.txt", content=value, **fields)
    if kind == "agent":
        return wf.agent(tid, agent_id="builtin.worker", parameters={"text": value}, **fields)
    return wf.trigger(tid, "sequential_pipeline", {"source": "in.csv", "destination": "out.json"}, **fields)


@st.composite
def builders(draw: st.DrawFn) -> Workflow:
    top: dict[str, Any] = {"description": draw(st.none() | words), "max_parallel": draw(st.none() | st.integers(1, 8))}
    wf = Workflow(draw(words), params={"word": str, "count": {"type": "integer", "default": 1}, "items": list}, **top)
    handles: list[TaskHandle] = []
    for i in range(draw(st.integers(1, 7))):
        fields: dict[str, Any] = {}
        if handles:
            fields["after"] = draw(st.lists(st.sampled_from(handles), max_size=3, unique_by=lambda h: h.id))
        if draw(st.booleans()):
            fields["retry"] = draw(st.integers(0, 3) | st.fixed_dictionaries({"max_attempts": st.integers(1, 4),
                                                                             "delay_seconds": st.integers(0, 5)}))
        if draw(st.booleans()):
            fields["timeout_seconds"] = draw(st.integers(1, 600))
        if draw(st.booleans()):
            fields["priority"] = draw(st.integers(-5, 5))
        if draw(st.booleans()):
            fields["name"] = draw(words)
        if draw(st.booleans()) and handles:
            watched: TaskHandle = draw(st.sampled_from(handles))
            fields["conditions"] = [watched.status != "failed"]
        if draw(st.booleans()):
            fields["on_failure"] = draw(st.sampled_from(["fail", "skip", "continue"]))
        kind = draw(st.sampled_from(KINDS))
        handles.append(add_task(wf, kind, f"t{i}_{kind}", handles, fields))
    return wf


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("roundtrip")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(wf=builders(), suffix=st.sampled_from([".json", ".yaml"]))
def test_document_round_trips_through_validate(wf: Workflow, suffix: str, folder: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKFLOW_HOME", str(folder / "home"))
    doc = wf.document()  # valid: raises otherwise
    json.dumps(doc, allow_nan=False)  # plain JSON data only
    path = wf.save(folder / f"flow{suffix}")
    assert load_document(path) == doc
    result = validate_source(Home(folder / "home"), str(path))
    assert result.errors == [] and result.tasks == len(doc["tasks"])
    doc["tasks"].clear()
    assert wf.document() != doc  # a fresh copy each time
    for tid, task in wf.document()["tasks"].items():
        assert all(dep in wf.task_ids[: wf.task_ids.index(tid)] for dep in task.get("dependencies", []))
