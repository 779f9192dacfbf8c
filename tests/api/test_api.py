"""The Python API (SPEC 10) over real instances in a temporary home."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from workflow_cli import WorkflowOrchestrator
from workflow_cli.errors import InvalidInputError, NotFoundError

DOC = {
    "version": "2.0.0",
    "name": "api demo",
    "parameters": {"word": {"type": "string", "required": True}},
    "tasks": {
        "echo": {"action": "command", "parameters": {"command": "echo {{ params.word }}"}},
        "shout": {
            "action": "python",
            "dependencies": ["echo"],
            "parameters": {"callable": "workflow_cli.examples:text_stats", "kwargs": {"text": "{{ params.word }} twice"}},
        },
    },
}


@pytest.fixture()
def orch(tmp_path: Path) -> WorkflowOrchestrator:
    return WorkflowOrchestrator(home=tmp_path / "home")


def test_create_start_status_from_a_mapping(orch: WorkflowOrchestrator) -> None:
    async def scenario() -> tuple[str, dict]:
        wid = await orch.create_workflow(DOC, params={"word": "hi"})
        assert orch.get_workflow_status(wid)["status"] == "created"
        return wid, await orch.start_workflow(wid)

    wid, final = asyncio.run(scenario())
    assert final["status"] == "completed"
    status = orch.get_workflow_status(wid)
    assert status["tasks"]["shout"]["outputs"] == {"words": 2, "chars": 8, "shout": "HI TWICE"}
    assert [row["id"] for row in orch.list_workflows()] == [wid]


def test_template_by_name_and_file(orch: WorkflowOrchestrator, tmp_path: Path) -> None:
    import json

    path = tmp_path / "doc.json"
    path.write_text(json.dumps(DOC))
    wid = asyncio.run(orch.create_workflow(str(path), params={"word": "x"}))
    assert orch.get_workflow_status(wid)["template"] == "doc"
    with pytest.raises(NotFoundError):
        asyncio.run(orch.create_workflow("no_such_template"))


def test_bad_params_raise_the_cli_errors(orch: WorkflowOrchestrator) -> None:
    with pytest.raises(InvalidInputError) as info:
        asyncio.run(orch.create_workflow(DOC, params={"wrod": "x"}))
    assert any(i.path == "params.wrod" for i in info.value.issues)


def test_cancel_and_cached_results(orch: WorkflowOrchestrator) -> None:
    wid = asyncio.run(orch.create_workflow(DOC, params={"word": "y"}))
    asyncio.run(orch.cancel_workflow(wid))
    assert orch.get_workflow_status(wid)["status"] == "cancelled"
    assert orch.get_cached_result(wid) is None
    orch.cache_workflow_result(wid, {"rows": 3})
    assert orch.get_cached_result(wid[:12]) == {"rows": 3}
