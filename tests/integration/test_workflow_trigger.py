"""``workflow_trigger``: child instances linked both ways, depth cap, cancellation (SPEC 6.4, 8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _child_doc() -> dict[str, Any]:
    return {"version": "2.0.0", "name": "Child", "tasks": {
        "hello": {"action": "command",
                  "parameters": {"command": "echo greeting=hi-from-child > \"$WORKFLOW_OUTPUT\"; echo child-says-hello"}},
    }}


def _parent_doc(child: Path, **extra: Any) -> dict[str, Any]:
    return {"version": "2.0.0", "name": "Parent", "tasks": {
        "spawn": {"action": "workflow_trigger", "parameters": {"file": str(child), "wait": True, **extra}},
        "after": {"action": "condition_check", "dependencies": ["spawn"],
                  "parameters": {"expression": "tasks.spawn.outputs.outputs.hello.greeting"}},
    }}


def test_a_child_workflow_runs_and_its_results_reach_the_parent(wf, doc):
    child = doc("child.json", _child_doc())
    run = wf("--json", "run", doc("parent.json", _parent_doc(child)))
    assert run.code == 0, run.why
    final = run.json()
    parent_id = final["id"]
    outputs = final["tasks"]["spawn"]["outputs"]
    child_id = outputs["child"]
    assert child_id != parent_id and child_id in wf.instance_ids()
    assert outputs["outputs"]["hello"]["greeting"] == "hi-from-child"
    assert final["tasks"]["after"]["outputs"]["result"] == "hi-from-child"

    header = wf.header(child_id)
    assert header["parent"]["instance"] == parent_id
    assert header["parent"]["task"] == "spawn"
    assert wf.status(child_id)["status"] == "completed"
    assert "child-says-hello" in wf.log(parent_id, "spawn")


def test_a_waiting_child_leaves_the_parent_waiting_until_tick(wf, doc):
    child = doc("gated-child.json", {"version": "2.0.0", "name": "Gated child", "tasks": {
        "gate": {"action": "approval_gate", "parameters": {"approvers": ["ann"]}},
        "hello": {"action": "command", "dependencies": ["gate"],
                  "parameters": {"command": "echo greeting=after-approval > \"$WORKFLOW_OUTPUT\""}}}})
    first = wf("--json", "run", doc("parent.json", _parent_doc(child)))
    assert first.code == 3, first.why
    parent_id = first.json()["id"]
    assert first.json()["tasks"]["spawn"]["status"] == "waiting"
    [child_id] = [i for i in wf.instance_ids() if i != parent_id]
    assert wf.header(child_id)["parent"]["instance"] == parent_id

    approved = wf("approve", child_id, "gate", "--by", "ann")
    assert approved.code == 0, approved.why
    tick = wf("--json", "tick")
    assert tick.code == 0, tick.why
    assert parent_id in [row["id"] for row in tick.json()["resumed"]]
    final = wf.status(parent_id)
    assert final["status"] == "completed"
    assert final["tasks"]["spawn"]["outputs"]["child"] == child_id
    assert final["tasks"]["after"]["outputs"]["result"] == "after-approval"


def test_nesting_deeper_than_max_depth_fails_cleanly(wf, tmp_path):
    path = tmp_path / "docs" / "recursive.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"version": "2.0.0", "name": "Recursive", "tasks": {
        "again": {"action": "workflow_trigger", "parameters": {"file": str(path), "wait": True, "max_depth": 3}},
    }}), encoding="utf-8")
    run = wf("--json", "run", path)
    assert run.code == 1, run.why
    top = run.json()
    assert top["status"] == "failed"
    ids = wf.instance_ids()
    assert len(ids) == 4, ids  # the top instance and three nested levels
    depths = sorted((wf.header(i).get("parent") or {}).get("depth", 0) for i in ids)
    assert depths == [0, 1, 2, 3]
    deepest = next(i for i in ids if (wf.header(i).get("parent") or {}).get("depth") == 3)
    deep = wf.status(deepest)
    assert deep["status"] == "failed"
    assert "3" in (deep["tasks"]["again"]["error"] or "")
    for iid in ids:
        assert wf.status(iid)["status"] == "failed"


def test_cancelling_the_parent_cancels_the_running_child(wf, doc, wait_for):
    child = doc("slow-child.json", {"version": "2.0.0", "name": "Slow child", "tasks": {
        "nap": {"action": "command", "parameters": {"command": "sleep 30"}}}})
    parent = wf.popen("--json", "run", doc("parent.json", _parent_doc(child)))
    try:
        def child_running() -> str | None:
            for iid in wf.instance_ids():
                header = wf.header(iid)
                if header.get("parent"):
                    tasks = wf.status(iid)["tasks"]
                    if tasks["nap"]["status"] == "running":
                        return iid
            return None

        child_id = wait_for(child_running, timeout=20, what="the child's sleep task to run")
        parent_id = wf.header(child_id)["parent"]["instance"]
        cancel = wf("cancel", parent_id)
        assert cancel.code == 0, cancel.why  # handed to the live runner
        stdout, stderr = parent.communicate(timeout=15)
        assert "Traceback" not in stderr
        assert parent.returncode == 7, (stdout, stderr)
        wait_for(lambda: wf.status(child_id)["status"] == "cancelled", timeout=10, what="the child to be cancelled")
        assert wf.status(parent_id)["status"] == "cancelled"
        assert wf.status(child_id)["tasks"]["nap"]["status"] == "cancelled"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.communicate()


def test_status_names_the_parent_of_a_child_and_the_children_of_a_parent(wf, doc):
    child = doc("child.json", _child_doc())
    run = wf("--json", "run", doc("parent.json", _parent_doc(child)))
    assert run.code == 0, run.why
    parent = run.json()
    child_id = parent["tasks"]["spawn"]["outputs"]["instance_id"]
    assert parent["children"] == [child_id] and parent["parent"] is None
    assert wf.status(parent["id"])["children"] == [child_id]
    child_status = wf.status(child_id)
    assert child_status["parent"] == {"id": parent["id"], "task": "spawn"}
    assert child_status["children"] == []
    assert child_status["base_dir"] == parent["base_dir"]
