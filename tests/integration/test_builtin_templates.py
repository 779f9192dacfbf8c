"""The four built-in templates, end to end with only their required parameters (SPEC 13, 6.3, 6.6).

Each runs on a fresh home through the console script; approvals are given with ``approve``/``reject``
and a timeout is reached by moving the clock with ``WORKFLOW_CLI_TIME_OFFSET`` instead of sleeping.
"""

from __future__ import annotations

import json
import sys
from typing import Any

APPROVAL_PARAMS = ("level1_approver=ann", "level2_approver=bob", "request_title=New laptop")
WORKERS = ("builtin.worker", "builtin.worker-2", "builtin.worker-3")


def _tasks(status: dict[str, Any]) -> dict[str, str]:
    return {tid: t["status"] for tid, t in status["tasks"].items()}


def _stats(wf: Any, iid: str) -> list[dict[str, Any]]:
    path = wf.home / "agents" / "stats.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("instance") == iid]


# -- approval_chain ------------------------------------------------------------------------------------

def test_approval_chain_approved_at_both_levels(wf):
    first = wf("--json", "run", "approval_chain", *sum((["--param", p] for p in APPROVAL_PARAMS), []))
    assert first.code == 3, first.why
    iid = first.json()["id"]
    assert _tasks(first.json())["level1_approval"] == "waiting"
    required = [e for e in wf.events(iid) if e["type"] == "approval.required"]
    assert required and required[0]["data"]["task"] == "level1_approval" and required[0]["data"]["approvers"] == ["ann"]

    level1 = wf("--json", "approve", iid, "level1_approval", "--by", "ann")
    assert level1.code == 3, level1.why
    assert _tasks(level1.json())["level2_approval"] == "waiting"

    level2 = wf("--json", "approve", iid, "level2_approval", "--by", "bob", "--comment", "fine")
    assert level2.code == 0, level2.why
    final = level2.json()
    assert final["status"] == "completed"
    assert final["vars"]["decision"] == "approved"
    assert set(_tasks(final).values()) == {"completed"}
    assert final["tasks"]["record_decision"]["outputs"]["record"]["data"]["decision"] == "approved"
    assert final["tasks"]["level2_approval"]["outputs"]["approved_by"] == ["bob"]
    assert wf.status(iid)["status"] == "completed"
    assert wf.event_types(iid).count("approval.decided") == 2


def test_approval_chain_rejected_at_level_two_records_the_rejection(wf):
    iid = wf.create("approval_chain", *APPROVAL_PARAMS)
    assert wf("start", iid).code == 3
    assert wf("approve", iid, "level1_approval", "--by", "ann").code == 3
    rejected = wf("--json", "reject", iid, "level2_approval", "--by", "bob", "--comment", "over budget")
    final = wf.status(iid)
    assert final["status"] in ("completed", "failed")
    assert rejected.code == (0 if final["status"] == "completed" else 1), rejected.why
    tasks = final["tasks"]
    assert tasks["level1_approval"]["status"] == "completed"
    assert tasks["level2_approval"]["status"] == "failed"
    assert tasks["level2_approval"]["error_kind"] == "rejected"
    assert tasks["record_decision"]["status"] == "completed"
    assert tasks["record_decision"]["outputs"]["record"]["data"]["decision"] == "rejected"
    assert final["vars"]["decision"] == "rejected"
    decisions = (wf.instance_dir(iid) / "workspace" / "decisions.jsonl").read_text(encoding="utf-8")
    assert [json.loads(line)["data"].get("decision") for line in decisions.splitlines()][-1] == "rejected"
    decided = [e for e in wf.events(iid) if e["type"] == "approval.decided"]
    assert decided[-1]["data"]["decision"] == "rejected" and decided[-1]["data"]["by"] == "bob"


def test_approval_chain_escalates_after_a_level_one_timeout(wf):
    iid = wf.create("approval_chain", *APPROVAL_PARAMS, "approval_timeout_seconds=60")
    assert wf("start", iid).code == 3

    tick = wf("--json", "tick", env={"WORKFLOW_CLI_TIME_OFFSET": "120"})
    assert tick.code == 0, tick.why
    assert iid in [row["id"] for row in tick.json()["resumed"]]
    state = wf.status(iid)
    assert state["status"] == "waiting"
    gate = state["tasks"]["level1_approval"]
    assert gate["status"] == "waiting"
    escalated = [e for e in wf.events(iid) if e["type"] == "approval.required" and e["data"].get("escalated")]
    assert escalated and escalated[-1]["data"]["approvers"] == ["escalation-manager"]

    refused = wf("approve", iid, "level1_approval", "--by", "ann")
    assert refused.code == 5, refused.why
    assert wf.status(iid)["tasks"]["level1_approval"]["status"] == "waiting"

    approved = wf("approve", iid, "level1_approval", "--by", "escalation-manager")
    assert approved.code == 3, approved.why
    state = wf.status(iid)
    assert state["tasks"]["level1_approval"]["status"] == "completed"
    assert state["tasks"]["level2_approval"]["status"] == "waiting"
    done = wf("approve", iid, "level2_approval", "--by", "bob")
    assert done.code == 0, done.why
    assert wf.status(iid)["vars"]["decision"] == "approved"


# -- parallel_processing -------------------------------------------------------------------------------

def test_parallel_processing_spreads_partitions_over_three_builtin_workers(wf):
    run = wf("--json", "run", "parallel_processing", "--param", "input=one two three four five six seven")
    assert run.code == 0, run.why
    final = run.json()
    iid = final["id"]
    assert set(_tasks(final).values()) == {"completed"}
    results = [final["tasks"][f"process_partition_{n}"]["outputs"] for n in (1, 2, 3)]
    assert [r["partition"] for r in results] == [1, 2, 3]
    assert sum(r["words"] for r in results) == 7
    assert " ".join(r["result"] for r in results) == "ONE TWO THREE FOUR FIVE SIX SEVEN"
    assert final["tasks"]["aggregate"]["outputs"]["total_words"] == 7
    for n, agent in enumerate(WORKERS, 1):
        assert f"agent {agent} " in wf.log(iid, f"process_partition_{n}")
    calls = {r["task"]: r["agent"] for r in _stats(wf, iid) if r["task"].startswith("process_partition_")}
    assert calls == {f"process_partition_{n}": agent for n, agent in enumerate(WORKERS, 1)}


def test_parallel_processing_with_a_home_command_agent(wf, tmp_path):
    script = tmp_path / "shouter.py"
    script.write_text(
        "import json, sys\n"
        "payload = json.load(sys.stdin)\n"
        "text = str(payload['parameters'].get('data', ''))\n"
        "print(json.dumps({'partition': payload['parameters'].get('partition'), 'words': len(text.split()),\n"
        "                  'chars': len(text), 'result': text.upper(), 'agent': 'home-shouter'}))\n",
        encoding="utf-8")
    wf.write_agents({"home-shouter": {"kind": "command", "type": "worker", "command": [sys.executable, str(script)]}})
    run = wf("--json", "run", "parallel_processing", "--param", "input=a b c d e f", "--param", "worker_agent_2=home-shouter")
    assert run.code == 0, run.why
    final = run.json()
    iid = final["id"]
    assert final["status"] == "completed"
    assert final["tasks"]["process_partition_2"]["outputs"]["agent"] == "home-shouter"
    assert final["tasks"]["process_partition_2"]["outputs"]["result"] == "C D"
    assert "agent home-shouter " in wf.log(iid, "process_partition_2")
    calls = {r["task"]: r["agent"] for r in _stats(wf, iid) if r["task"].startswith("process_partition_")}
    assert calls == {"process_partition_1": "builtin.worker", "process_partition_2": "home-shouter",
                     "process_partition_3": "builtin.worker-3"}


# -- sequential_pipeline -------------------------------------------------------------------------------

FLAKY = """\
import json, sys
from pathlib import Path
counter = Path(sys.argv[1])
calls = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(calls))
if calls == 1:
    print("transient failure: source not reachable yet", file=sys.stderr)
    sys.exit(1)
payload = json.load(sys.stdin)
records = [{"id": i, "name": f"{payload['parameters']['source']} row {i}"} for i in (1, 2, 3)]
print(json.dumps({"source": payload["parameters"]["source"], "records": records, "count": len(records)}))
"""


def test_sequential_pipeline_survives_a_transient_failure_through_its_retry(wf, tmp_path):
    state_dir = tmp_path / "flaky"
    state_dir.mkdir()
    script = state_dir / "extract.py"
    script.write_text(FLAKY, encoding="utf-8")
    counter = state_dir / "calls"
    wf.write_agents({"flaky-extractor": {"kind": "command", "type": "extractor",
                                         "command": [sys.executable, str(script), str(counter)]}})
    run = wf("--json", "run", "sequential_pipeline", "--param", "source=orders.csv", "--param", "destination=out.json",
             "--param", "extraction_agent=flaky-extractor")
    assert run.code == 0, run.why
    final = run.json()
    iid = final["id"]
    assert final["status"] == "completed"
    assert final["tasks"]["extract"]["attempts"] == 2
    assert final["tasks"]["extract"]["outputs"]["count"] == 3
    assert counter.read_text() == "2"
    retrying = [e for e in wf.events(iid) if e["type"] == "task.retrying"]
    assert [e["data"]["task"] for e in retrying] == ["extract"]
    loaded = json.loads((wf.instance_dir(iid) / "workspace" / "out.json").read_text(encoding="utf-8"))
    assert [r["name"] for r in loaded["records"]] == ["orders.csv row 1", "orders.csv row 2", "orders.csv row 3"]
    assert len(final["checkpoints"]) == 4


# -- conditional_workflow ------------------------------------------------------------------------------

def test_conditional_workflow_urgent_branch(wf):
    run = wf("--json", "run", "conditional_workflow", "--param", "request=urgent outage in the payment service")
    assert run.code == 0, run.why
    tasks = run.json()["tasks"]
    assert tasks["assess"]["outputs"]["priority"] == "high"
    assert tasks["urgent_path"]["status"] == "completed"
    assert tasks["standard_path"]["status"] == "skipped"
    assert tasks["report"]["status"] == "completed"
    assert tasks["report"]["outputs"]["fields"]["path"] == "urgent"


def test_conditional_workflow_standard_branch(wf):
    run = wf("--json", "run", "conditional_workflow", "--param", "request=please update the office plant schedule")
    assert run.code == 0, run.why
    tasks = run.json()["tasks"]
    assert tasks["assess"]["outputs"]["priority"] == "normal"
    assert tasks["urgent_path"]["status"] == "skipped"
    assert tasks["standard_path"]["status"] == "completed"
    assert tasks["report"]["status"] == "completed"
    assert tasks["report"]["outputs"]["fields"]["path"] == "standard"


def test_every_builtin_template_is_listed(wf):
    names = {t["name"] for t in wf.json("templates")}
    assert {"approval_chain", "parallel_processing", "sequential_pipeline", "conditional_workflow"} <= names
