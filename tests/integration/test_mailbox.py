"""A ``mailbox`` agent defined in the document: work handed over through files (SPEC 6.3).

The run stops with exit 3 once the payload is in the agent's inbox; an external process answers by
writing the outbox file, and ``tick`` picks the reply up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DOC: dict[str, Any] = {
    "version": "2.0.0",
    "name": "Mailbox",
    "agents": {"oracle": {"kind": "mailbox", "type": "oracle", "description": "answers questions by file"}},
    "tasks": {
        "ask": {"agent_id": "oracle", "description": "the question", "parameters": {"question": "six times seven?"}},
        "after": {"action": "condition_check", "dependencies": ["ask"],
                  "parameters": {"expression": "tasks.ask.outputs.answer"}},
    },
}


def _reply(outbox: Path, reply: dict[str, Any]) -> None:
    """Write the reply the way an agent should: a temporary file, then a rename."""
    outbox.parent.mkdir(parents=True, exist_ok=True)
    tmp = outbox.with_name(outbox.name + ".tmp")
    tmp.write_text(json.dumps(reply), encoding="utf-8")
    os.replace(tmp, outbox)


def _calls(wf: Any, iid: str) -> list[dict[str, Any]]:
    """The agent calls of ``iid`` in ``<home>/agents/stats.jsonl``."""
    path = wf.home / "agents" / "stats.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] if path.exists() else []
    return [r for r in rows if r.get("instance") == iid]


def _start(wf: Any, doc: Any) -> tuple[str, Path, Path]:
    first = wf("--json", "run", doc("mailbox.json", DOC))
    assert first.code == 3, first.why
    iid = first.json()["id"]
    assert first.json()["tasks"]["ask"]["status"] == "waiting"
    base = wf.home / "agents" / "oracle"
    inbox = base / "inbox" / f"{iid}.ask.json"
    outbox = base / "outbox" / f"{iid}.ask.json"
    assert inbox.is_file()
    payload = json.loads(inbox.read_text(encoding="utf-8"))
    assert payload["task_id"] == "ask" and payload["instance_id"] == iid
    assert payload["parameters"] == {"question": "six times seven?"}
    return iid, inbox, outbox


def test_a_mailbox_reply_completes_the_task_on_tick(wf, doc):
    iid, _, outbox = _start(wf, doc)
    idle = wf("--json", "tick")
    assert idle.code == 0 and idle.json()["resumed"] == [], idle.why
    assert wf.status(iid)["status"] == "waiting"

    _reply(outbox, {"status": "completed", "result": {"answer": 42}})
    tick = wf("--json", "tick")
    assert tick.code == 0, tick.why
    assert [row["id"] for row in tick.json()["resumed"]] == [iid]
    final = wf.status(iid)
    assert final["status"] == "completed"
    assert final["tasks"]["ask"]["outputs"]["answer"] == 42
    assert final["tasks"]["after"]["outputs"]["result"] == 42
    assert [(c["agent"], c["task"], c["ok"]) for c in _calls(wf, iid)] == [("oracle", "ask", True)]


def test_a_failed_mailbox_reply_fails_the_task(wf, doc):
    iid, _, outbox = _start(wf, doc)
    _reply(outbox, {"status": "failed", "error": "cannot compute"})
    tick = wf("--json", "tick")
    assert tick.code == 0, tick.why
    final = wf.status(iid)
    assert final["status"] == "failed"
    assert final["tasks"]["ask"]["status"] == "failed"
    assert "cannot compute" in (final["tasks"]["ask"]["error"] or "")
    assert [(c["agent"], c["ok"]) for c in _calls(wf, iid)] == [("oracle", False)]
    assert final["tasks"]["after"]["status"] in ("skipped", "pending", "cancelled")
