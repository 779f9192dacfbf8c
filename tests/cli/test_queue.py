"""``start --queue``, ``queue`` and ``start`` of a queued instance (SPEC 18.4), in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

GATE = {"version": "2.0.0", "name": "Gate", "tasks": {"ask": {"action": "approval_gate", "parameters": {"approvers": ["ann"]}}}}


def test_start_queue_waits_for_a_slot_and_start_jumps_the_queue(cli: Any, home: Path) -> None:
    (home / "config.yaml").write_text("max_active_runs: 1\n")
    (home / "templates" / "gate.json").write_text(json.dumps(GATE))
    blocker = cli("run", "gate")
    assert blocker.exit_code == 3, blocker  # waiting on the gate: it holds the only slot
    iid = cli("-q", "create", "hello").stdout.strip()
    queued = cli("--json", "start", iid, "--queue")
    assert queued.exit_code == 0 and queued.json()["status"] == "queued", queued
    assert queued.json()["queue"]["priority"] == 0
    assert [r["id"] for r in cli("--json", "queue").json()] == [iid]
    assert [r["id"] for r in cli("--json", "list", "--status", "queued").json()] == [iid]
    assert cli("--json", "start", iid, "--queue").exit_code == 5  # already queued
    now = cli("--json", "start", iid)  # an explicit start does not wait for the queue
    assert now.exit_code == 0 and now.json()["status"] == "completed"
    assert cli("--json", "queue").json() == []
    assert cli("start", iid, "--queue").exit_code == 5


def test_queue_with_nothing_queued(cli: Any) -> None:
    result = cli("--json", "queue")
    assert result.exit_code == 0 and result.json() == []
    assert "queue is empty" in cli("queue").stderr
