"""``wf.run_sync`` and ``await wf.run``: a built workflow created and run in a home, end to end."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from workflow_cli import Workflow, WorkflowOrchestrator
from workflow_cli.errors import InvalidInputError

STEPS = """\
def count(text):
    return {"words": len(text.split())}


def shout(words, who):
    return f"{who.upper()} HAS {words} WORDS"
"""


@pytest.fixture
def steps_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A module of the user's, importable by the runner (as it would be in their project)."""
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "wf_steps.py").write_text(STEPS)
    monkeypatch.syspath_prepend(str(folder))
    return "wf_steps"


def build(module: str) -> Workflow:
    wf = Workflow("exchange", params={"who": str, "text": {"type": "string", "default": "one two three"}})
    emit = wf.command("emit", ["sh", "-c", 'printf "text=%s\\n" "$1" >> "$WORKFLOW_OUTPUT"', "sh", wf.param("text")])
    counted = wf.python("count", f"{module}:count", kwargs={"text": emit.outputs["text"]})
    said = wf.python("shout", f"{module}:shout", kwargs={"words": counted.outputs["words"], "who": wf.param("who")})
    wf.command("echo", ["sh", "-c", 'echo "{\\"heard\\": \\"$1\\"}"', "sh", said.result],
               conditions=[counted.outputs["words"] > 1])
    return wf


def test_run_sync_command_and_python_tasks_exchange_outputs(tmp_path: Path, steps_module: str) -> None:
    final = build(steps_module).run_sync(params={"who": "ann"}, home=tmp_path / "home")
    assert final["status"] == "completed", final
    tasks = final["tasks"]
    assert tasks["emit"]["outputs"] == {"text": "one two three"}
    assert tasks["count"]["outputs"] == {"words": 3}
    assert tasks["shout"]["outputs"] == {"result": "ANN HAS 3 WORDS"}
    assert tasks["echo"]["outputs"] == {"heard": "ANN HAS 3 WORDS"}
    # the instance is an ordinary one of that home
    orch = WorkflowOrchestrator(home=tmp_path / "home")
    assert orch.get_workflow_status(final["id"])["status"] == "completed"
    assert [i["id"] for i in orch.list_workflows()] == [final["id"]]


def test_await_run_and_a_skipped_condition(tmp_path: Path, steps_module: str) -> None:
    wf = build(steps_module)
    final = asyncio.run(wf.run(params={"who": "bo", "text": "single"}, home=tmp_path / "home", name="short"))
    assert final["status"] == "completed" and final["name"] == "short"
    assert final["tasks"]["count"]["outputs"] == {"words": 1}
    assert final["tasks"]["echo"]["status"] == "skipped"


def test_bad_params_raise_and_write_nothing(tmp_path: Path, steps_module: str) -> None:
    home = tmp_path / "home"
    with pytest.raises(InvalidInputError) as err:
        build(steps_module).run_sync(params={"whom": "x"}, home=home)
    assert {i.path for i in err.value.issues} >= {"params.whom", "params.who"}
    assert not list((home / "instances").glob("*"))


def test_a_run_that_waits_for_approval_returns_waiting(tmp_path: Path) -> None:
    wf = Workflow("gated")
    gate = wf.approval("sign_off", approvers=["ann"])
    wf.command("ship", "echo shipped", after=[gate])
    final = wf.run_sync(home=tmp_path / "home")
    assert final["status"] == "waiting"
    assert final["tasks"]["sign_off"]["status"] == "waiting" and final["tasks"]["ship"]["status"] == "pending"
