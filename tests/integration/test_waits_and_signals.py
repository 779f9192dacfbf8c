"""Durable waits, signals and approval decisions through the console script (SPEC 6.4, 6.6, 8).

A run that can only wait ends with exit 3; ``signal``, ``approve``/``reject``, ``resume`` and ``tick``
move it on. Time is moved with ``WORKFLOW_CLI_TIME_OFFSET`` rather than slept through.
"""

from __future__ import annotations

import json
from typing import Any


def _doc(tasks: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"version": "2.0.0", "name": "Waits", **top, "tasks": tasks}


SIGNAL_DOC = _doc({
    "wait_rows": {"action": "wait", "parameters": {"signal": "rows_ready"}},
    "use_rows": {"action": "condition_check", "dependencies": ["wait_rows"],
                 "parameters": {"expression": "vars.rows"}},
})


def test_signal_continues_a_waiting_run_and_its_payload_reaches_vars(wf, doc):
    first = wf("--json", "run", doc("signal.json", SIGNAL_DOC))
    assert first.code == 3, first.why
    iid = first.json()["id"]
    assert first.json()["tasks"]["wait_rows"]["status"] == "waiting"

    sent = wf("--json", "signal", iid, "rows_ready", "--data", '{"rows": 5}')
    assert sent.code == 0, sent.why
    final = wf.status(iid)
    assert final["status"] == "completed"
    assert final["vars"]["rows"] == 5
    assert final["tasks"]["use_rows"]["outputs"]["result"] == 5
    assert final["tasks"]["wait_rows"]["outputs"]["payload"] == {"rows": 5}
    received = [e for e in wf.events(iid) if e["type"] == "signal.received"]
    assert len(received) == 1 and received[0]["data"]["name"] == "rows_ready"


def test_a_signal_sent_before_the_wait_starts_is_buffered_and_consumed(wf, doc):
    document = _doc({
        "gate": {"action": "approval_gate", "parameters": {"approvers": ["ann"]}},
        "wait_go": {"action": "wait", "dependencies": ["gate"], "parameters": {"signal": "go"}},
        "after": {"action": "condition_check", "dependencies": ["wait_go"], "parameters": {"expression": "vars.speed"}},
    })
    iid = wf("--json", "run", doc("buffered.json", document)).json()["id"]
    early = wf("signal", iid, "go", "--data", '{"speed": "fast"}')
    assert early.code == 3, early.why  # the gate still waits; the signal is kept
    assert wf.status(iid)["tasks"]["wait_go"]["status"] == "pending"

    done = wf("--json", "approve", iid, "gate", "--by", "ann")
    assert done.code == 0, done.why
    final = done.json()
    assert final["status"] == "completed"
    assert final["tasks"]["wait_go"]["outputs"]["payload"] == {"speed": "fast"}
    assert final["tasks"]["after"]["outputs"]["result"] == "fast"


def test_signal_no_continue_records_only_and_resume_finishes(wf, doc):
    iid = wf("--json", "run", doc("signal.json", SIGNAL_DOC)).json()["id"]
    recorded = wf("signal", iid, "rows_ready", "--data", '{"rows": 7}', "--no-continue")
    assert recorded.code == 0, recorded.why
    assert wf.status(iid)["status"] == "waiting"
    assert "workflow.completed" not in wf.event_types(iid)

    resumed = wf("--json", "resume", iid)
    assert resumed.code == 0, resumed.why
    assert resumed.json()["status"] == "completed"
    assert resumed.json()["tasks"]["use_rows"]["outputs"]["result"] == 7


def test_tick_continues_what_a_no_continue_signal_released(wf, doc):
    """docs/document.md: after ``--no-continue``, "``resume`` or ``tick`` continues" - tick too, though no
    task waits any more (the signal completed the wait; the next task is pending and nothing holds it)."""
    iid = wf("--json", "run", doc("signal.json", SIGNAL_DOC)).json()["id"]
    assert wf("signal", iid, "rows_ready", "--data", '{"rows": 5}', "--no-continue").code == 0
    assert wf.status(iid)["status"] == "waiting"
    ticked = wf("--json", "tick")
    assert ticked.code == 0, ticked.why
    assert [(r["id"], r["status"]) for r in ticked.json()["resumed"]] == [(iid, "completed")]
    assert wf.status(iid)["tasks"]["use_rows"]["outputs"]["result"] == 5
    assert wf("--json", "tick").json()["resumed"] == []  # nothing left to do


def test_a_signal_no_wait_takes_is_refused_and_nothing_is_kept(wf, doc):
    """A typo in the signal name would otherwise be kept for ever while the run goes on waiting."""
    iid = wf("--json", "run", doc("signal.json", SIGNAL_DOC)).json()["id"]
    before = wf.event_types(iid)
    refused = wf("signal", iid, "rows_redy", "--data", '{"rows": 1}')
    assert refused.code == 2
    assert "no task of instance" in refused.why and "rows_redy" in refused.why and "rows_ready" in refused.why
    assert wf.event_types(iid) == before and wf.status(iid)["status"] == "waiting"


def test_requests_to_a_created_or_paused_instance_wait_for_start_or_resume(wf, doc):
    iid = wf.create(doc("signal.json", SIGNAL_DOC))
    kept = wf("signal", iid, "rows_ready", "--data", '{"rows": 9}')
    assert kept.code == 0, kept.why
    assert wf.status(iid)["status"] == "created"
    started = wf("--json", "start", iid)
    assert started.code == 0, started.why
    assert started.json()["tasks"]["use_rows"]["outputs"]["result"] == 9

    gated = _doc({"gate": {"action": "approval_gate", "parameters": {"approvers": ["ann"]}},
                  "after": {"action": "noop", "dependencies": ["gate"]}})
    iid = wf("--json", "run", doc("gate.json", gated)).json()["id"]
    assert wf("stop", iid).code == 0
    assert wf.status(iid)["status"] == "paused"
    approved = wf("approve", iid, "gate", "--by", "ann")
    assert approved.code == 0, approved.why
    assert wf.status(iid)["status"] == "paused"
    resumed = wf("--json", "resume", iid)
    assert resumed.code == 0, resumed.why
    assert resumed.json()["tasks"]["after"]["status"] == "completed"


def test_a_long_timer_ends_the_run_and_tick_wakes_it_later(wf, doc):
    document = _doc({"pause": {"action": "wait", "parameters": {"seconds": 120}},
                     "after": {"action": "noop", "dependencies": ["pause"]}})
    first = wf("--json", "run", doc("timer.json", document))
    assert first.code == 3, first.why
    iid = first.json()["id"]

    early = wf("--json", "tick")
    assert early.code == 0, early.why
    assert wf.status(iid)["status"] == "waiting"

    tick = wf("--json", "tick", env={"WORKFLOW_CLI_TIME_OFFSET": "200"})
    assert tick.code == 0, tick.why
    assert [row["id"] for row in tick.json()["resumed"]] == [iid]
    final = wf.status(iid)
    assert final["status"] == "completed"
    assert final["tasks"]["after"]["status"] == "completed"


def test_a_short_timer_is_waited_for_in_place(wf, doc):
    document = _doc({"pause": {"action": "wait", "parameters": {"seconds": 1}},
                     "after": {"action": "noop", "dependencies": ["pause"]}})
    run = wf("--json", "run", doc("short.json", document))
    assert run.code == 0, run.why
    assert run.json()["status"] == "completed"


GATE_DOC = _doc({
    "gate": {"action": "approval_gate", "parameters": {
        "approvers": ["ann", "bob"], "message": "ship it?",
        "input_schema": {"type": "object", "required": ["ticket"],
                         "properties": {"ticket": {"type": "string", "pattern": "^T-[0-9]+$"}}}}},
    "after": {"action": "noop", "dependencies": ["gate"]},
})


def test_decisions_that_do_not_apply_get_their_exit_codes(wf, doc):
    iid = wf("--json", "run", doc("gate.json", GATE_DOC)).json()["id"]
    assert wf("approve", iid, "after", "--by", "ann", "--data", '{"ticket": "T-1"}').code == 5
    assert wf("approve", iid, "no_such_task", "--by", "ann").code == 4
    assert wf("approve", "00000000-nope", "gate", "--by", "ann").code == 4
    assert wf("approve", iid, "gate", "--by", "ann", "--data", "{not json").code == 2
    assert wf("signal", iid, "go", "--data", "[1, 2").code == 2
    assert wf("approve", iid, "gate", "--by", "ann", "--data", '{"ticket": "nope"}').code == 2
    assert wf("approve", iid, "gate", "--by", "ann", "--data", '{"other": 1}').code == 2
    assert wf.status(iid)["tasks"]["gate"]["status"] == "waiting"

    ok = wf("--json", "approve", iid, "gate", "--by", "ann", "--data", '{"ticket": "T-42"}')
    assert ok.code == 0, ok.why
    outputs = ok.json()["tasks"]["gate"]["outputs"]
    assert outputs["ticket"] == "T-42"
    assert wf("approve", iid, "gate", "--by", "bob", "--data", '{"ticket": "T-43"}').code == 5


def test_two_required_approvals_need_two_different_approvers(wf, doc):
    document = _doc({"gate": {"action": "approval_gate",
                              "parameters": {"approvers": ["ann", "bob", "cid"], "required_approvals": 2}},
                     "after": {"action": "noop", "dependencies": ["gate"]}})
    iid = wf("--json", "run", doc("two.json", document)).json()["id"]
    assert wf("approve", iid, "gate", "--by", "ann").code == 3
    assert wf("approve", iid, "gate", "--by", "ann").code == 3
    assert wf.status(iid)["tasks"]["gate"]["status"] == "waiting"
    assert wf("approve", iid, "gate", "--by", "dan").code == 5
    final = wf("--json", "approve", iid, "gate", "--by", "bob")
    assert final.code == 0, final.why
    assert sorted(set(final.json()["tasks"]["gate"]["outputs"]["approved_by"])) == ["ann", "bob"]


def test_reject_fails_the_gate_with_kind_rejected(wf, doc):
    document = _doc({"gate": {"action": "approval_gate", "parameters": {"approvers": ["ann"]}},
                     "after": {"action": "noop", "dependencies": ["gate"]}})
    iid = wf("--json", "run", doc("reject.json", document)).json()["id"]
    run = wf("reject", iid, "gate", "--by", "ann", "--comment", "no")
    assert run.code == 1, run.why
    final = wf.status(iid)
    assert final["status"] == "failed"
    assert final["tasks"]["gate"]["error_kind"] == "rejected"
    assert final["tasks"]["after"]["status"] == "skipped"


def test_two_ticks_at_once_are_safe(wf, doc):
    document = _doc({"pause": {"action": "wait", "parameters": {"seconds": 120}},
                     "step": {"action": "command", "dependencies": ["pause"], "parameters": {"command": "sleep 0.3"}},
                     "after": {"action": "noop", "dependencies": ["step"]}})
    path = doc("ticks.json", document)
    ids = []
    for _ in range(3):
        first = wf("--json", "run", path)
        assert first.code == 3, first.why
        ids.append(first.json()["id"])

    offset = {"WORKFLOW_CLI_TIME_OFFSET": "200"}
    procs = [wf.popen("--json", "tick", env=offset) for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    for proc, (stdout, stderr) in zip(procs, outs):
        assert proc.returncode == 0, (stdout, stderr)
        assert "Traceback" not in stderr
    for iid in ids:
        assert wf.status(iid)["status"] == "completed"
        types = wf.event_types(iid)
        assert types.count("workflow.completed") == 1, types
        assert types.count("task.completed") == 3, types


def test_a_signal_sent_before_the_wait_starts_is_consumed_when_it_starts(sh, write) -> None:
    """SPEC 16: create, ``signal ID go --no-continue`` (no data), ``start``: the buffered signal wakes the wait."""
    doc = {"version": "2.0.0", "name": "early signal", "tasks": {
        "w": {"action": "wait", "parameters": {"signal": "go"}},
        "after": {"action": "noop", "dependencies": ["w"]}}}
    instance = sh("--quiet", "create", write("early.json", doc)).stdout.strip()
    sent = sh("signal", instance, "go", "--no-continue")
    assert sent.exit_code == 0, sent
    started = sh("--json", "start", instance)
    assert started.exit_code == 0, started
    final = started.json()
    assert final["status"] == "completed"
    assert final["tasks"]["w"]["outputs"] == {"signal": "go", "payload": None}
    events = [json.loads(line)["type"] for line in (sh.home / "instances" / instance / "events.jsonl").read_text().splitlines()]
    assert "signal.buffered" in events and "signal.consumed" in events
