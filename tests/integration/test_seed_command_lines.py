"""The seed document's own command lines, the built-in templates with only their required parameters,
user-defined agents that return other fields, and agent ids given through parameters (SPEC 13, 6.3).
"""

from __future__ import annotations

import json
import sys
from typing import Any

# A command agent that answers with fields of its own: none of the ones the built-in agents return.
def _agent(reply: dict[str, Any]) -> dict[str, Any]:
    code = "import json,sys; p=json.load(sys.stdin); r=" + repr(reply) + "; r['task']=p['task_id']; print(json.dumps(r))"
    return {"kind": "command", "command": [sys.executable, "-c", code]}


def _tasks(status: dict[str, Any]) -> dict[str, str]:
    return {tid: t["status"] for tid, t in status["tasks"].items()}


def test_seed_parallel_processing_line_with_home_agents(wf):
    wf.write_agents({"CA": _agent({"handled": "a"}), "CB": _agent({"handled": "b"}), "CC": _agent({})})
    created = wf("create", "parallel_processing", "--param", "worker_agent_1=CA", "--param", "worker_agent_2=CB",
                 "--param", "worker_agent_3=CC")
    assert created.code == 0, created.why
    assert "home" in created.stderr and str(wf.home) in created.stderr
    final = wf.json("start", created.last_line)
    assert final["status"] == "completed", final
    assert final["tasks"]["process_partition_1"]["outputs"]["handled"] == "a"
    assert final["tasks"]["aggregate"]["outputs"]["count"] == 3


def test_seed_sequential_pipeline_line_with_home_agents(wf):
    wf.write_agents({"data_agent": _agent({"rows": 2}), "process_agent": _agent({"rows": 2, "clean": True})})
    created = wf("create", "sequential_pipeline", "--param", "extraction_agent=data_agent",
                 "--param", "transformation_agent=process_agent")
    assert created.code == 0, created.why
    iid = created.last_line
    final = wf.json("start", iid)
    assert final["status"] == "completed", final
    # the validator took the transformation agent's object as one record, and says so
    assert "one record" in final["tasks"]["validate"]["outputs"]["note"]
    loaded = json.loads((wf.instance_dir(iid) / "workspace" / "output.json").read_text())
    assert loaded["clean"] is True


def test_sequential_pipeline_defaults_read_the_shipped_sample(wf):
    final = wf.json("run", "sequential_pipeline")
    assert final["status"] == "completed", final
    assert final["params"]["source"] == "orders.csv" and final["params"]["destination"] == "output.json"
    extract = final["tasks"]["extract"]["outputs"]
    assert extract["origin"] == "shipped sample" and extract["count"] == 6
    loaded = json.loads((wf.instance_dir(final["id"]) / "workspace" / "output.json").read_text())
    assert loaded["records"][0]["customer"] == "Ada Lovelace"


def test_every_builtin_template_runs_with_only_its_required_parameters(wf):
    for name in ("parallel_processing", "sequential_pipeline", "conditional_workflow"):
        final = wf.json("run", name)
        assert final["status"] == "completed", (name, final)
        assert set(_tasks(final).values()) <= {"completed", "skipped"}
    required = wf.json("templates", "show", "approval_chain")
    names = [n for n, p in required["parameters"].items() if p.get("required")] if isinstance(required, dict) else []
    assert sorted(names) == ["level1_approver", "level2_approver", "request_title"]
    first = wf("--json", "run", "approval_chain", "--param", "level1_approver=ann", "--param", "level2_approver=bob",
               "--param", "request_title=Laptop")
    assert first.code == 3, first.why
    iid = first.json()["id"]
    assert wf("approve", iid, "level1_approval", "--by", "ann").code == 3
    assert wf("approve", iid, "level2_approval", "--by", "bob").code == 0
    assert wf.status(iid)["status"] == "completed"


def test_conditional_workflow_with_an_assessor_that_returns_no_priority(wf, tmp_path):
    wf.write_agents({"my_assessor": _agent({"verdict": "looks fine"})})
    final = wf.json("run", "conditional_workflow", "--param", "assessment_agent=my_assessor")
    assert final["status"] == "completed", final
    tasks = _tasks(final)
    assert tasks["standard_path"] == "completed" and tasks["urgent_path"] == "skipped"
    report = final["tasks"]["report"]["outputs"]
    assert report["fields"]["path"] == "standard"
    assert report["fields"]["priority"] == "normal"
    assert "returned no priority" in report["fields"]["priority_source"]
    html = tmp_path / "r.html"
    run = wf("report", final["id"], "--output", html)
    assert run.code == 0, run.why
    assert "Standard path" in html.read_text()


def test_agent_id_through_a_parameter_is_checked_at_validate_and_create(wf):
    for command in ("validate", "create"):
        run = wf(command, "parallel_processing", "--param", "worker_agent_2=builtin.workr")
        assert run.code == 2, run.why
        assert "tasks.process_partition_2.agent_id: unknown agent 'builtin.workr'" in run.stderr
        assert "from {{ params.worker_agent_2 }}" in run.stderr and "did you mean" in run.stderr
    assert wf.instance_ids() == []
    checked = wf.json("validate", "parallel_processing", "--param", "worker_agent_2=nobody", code=2)
    assert checked["valid"] is False and checked["errors"][0]["path"] == "tasks.process_partition_2.agent_id"


def test_agent_removed_after_create_fails_with_kind_config_without_retry(wf):
    wf.write_agents({"CA": _agent({"x": 1})})
    iid = wf.create("parallel_processing", "worker_agent_1=CA")
    wf.write_agents({})
    run = wf("--json", "start", iid)
    assert run.code == 1, run.why
    task = run.json()["tasks"]["process_partition_1"]
    assert task["status"] == "failed" and task["attempts"] == 1  # the template allows 2 attempts
    assert "unknown agent 'CA'" in task["error"]
    failed = [e for e in wf.events(iid) if e["type"] == "task.failed" and e["data"].get("task") == "process_partition_1"]
    assert failed and failed[-1]["data"]["kind"] == "config"
