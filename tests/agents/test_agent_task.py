"""AgentTaskAction: selection, rendering of agent ids, per-agent concurrency, stats and mailbox polling."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from workflow_cli.actions import registry
from workflow_cli.actions.agent_task import AgentTaskAction, check_waiting
from workflow_cli.agents.stats import recent_stats

MODULE = "wf_agent_task_targets"
SOURCE = '''
import threading, time
lock = threading.Lock()
active = 0
peak = 0
gate = threading.Event()

def busy(payload):
    global active, peak
    with lock:
        active += 1
        peak = max(peak, active)
    deadline = time.monotonic() + 1.0  # stay busy until a second call overlaps (or clearly cannot)
    while time.monotonic() < deadline and peak < 2:
        time.sleep(0.01)
    with lock:
        active -= 1
    return {"task": payload["task_id"]}

def blocked(payload):
    gate.wait(10)
    return {}
'''


@pytest.fixture
def targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The module of agent callables, freshly imported."""
    import importlib
    import sys

    folder = tmp_path / "mods"
    folder.mkdir()
    (folder / f"{MODULE}.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(folder))
    sys.modules.pop(MODULE, None)
    return importlib.import_module(MODULE)


def test_registered_as_agent_task():
    action = registry().get("agent_task")
    assert isinstance(action, AgentTaskAction) and action.inline is False and action.validate({"x": 1}, "p") == []


def test_runs_a_builtin_agent_and_records_stats(make_ctx, agent_home):
    ctx, lines = make_ctx({"agent_id": "builtin.worker", "parameters": {"data": "a b c"}})
    result = AgentTaskAction().run(ctx)
    assert result.ok and result.outputs["words"] == 3 and result.outputs["result"] == "A B C"
    assert lines[0] == "agent builtin.worker (builtin)" and "completed" in lines[-1]
    entry = json.loads((agent_home.root / "agents" / "stats.jsonl").read_text().splitlines()[-1])
    assert entry["agent"] == "builtin.worker" and entry["ok"] is True and entry["seconds"] >= 0
    seen = recent_stats(agent_home.root)["builtin.worker"]
    assert (seen["calls"], seen["success_rate"]) == (1, 1.0)


def test_agent_id_expression_is_rendered_from_the_scope(make_ctx):
    ctx, lines = make_ctx({"agent_id": "{{ params.worker_agent_1 }}"}, parameters={"data": "x y"},
                          scope={"params": {"worker_agent_1": "builtin.worker-3"}})
    result = AgentTaskAction().run(ctx)
    assert result.ok and lines[0] == "agent builtin.worker-3 (builtin)"


def test_selects_by_type_and_capabilities_from_document_agents(make_ctx):
    agents = {"slow-counter": {"kind": "python", "callable": "json:dumps", "type": "worker", "capabilities": ["count"]},
              "zz-checker": {"kind": "python", "callable": "json:dumps", "type": "checker"}}
    ctx, lines = make_ctx({"agent_type": "worker", "required_capabilities": ["transform", "checksum"]},
                          parameters={"data": "q"}, agents=agents)
    assert AgentTaskAction().run(ctx).ok and lines[0] == "agent builtin.worker (builtin)"
    ctx, lines = make_ctx({"agent_type": "printer", "fallback_agent": "builtin.notifier"}, parameters={}, agents=agents)
    assert AgentTaskAction().run(ctx).ok and lines[0] == "agent builtin.notifier (builtin)"


def test_unknown_agent_and_failing_agent_are_failures(make_ctx, agent_home):
    ctx, _ = make_ctx({"agent_id": "{{ params.who }}"}, scope={"params": {"who": "builtin.wroker"}})
    result = AgentTaskAction().run(ctx)
    assert not result.ok and "unknown agent 'builtin.wroker'" in result.error and "did you mean 'builtin.worker'" in result.error
    ctx, _ = make_ctx({"agent_id": "builtin.validator", "parameters": {"data": {"records": []}}})
    failed = AgentTaskAction().run(ctx)
    assert not failed.ok and "no records" in failed.error
    assert recent_stats(agent_home.root)["builtin.validator"]["success_rate"] == 0.0


def test_dependency_outputs_reach_the_payload(make_ctx, agent_home):
    code = "import json,sys; p=json.load(sys.stdin); print(json.dumps({'deps': p['dependencies'], 'name': p['name']}))"
    agents = {"echo": {"kind": "command", "command": ["python3", "-c", code]}}
    ctx, _ = make_ctx({"agent_id": "echo", "name": "Echo it", "dependencies": ["split", "other"]}, agents=agents,
                      dependencies_outputs={"split": {"partitions": ["a"]}})
    result = AgentTaskAction().run(ctx)
    assert result.ok, result
    assert result.outputs == {"deps": {"split": {"partitions": ["a"]}, "other": {}}, "name": "Echo it"}


def _run_together(ctxs: list[Any]) -> list[Any]:
    results: list[Any] = [None] * len(ctxs)

    def one(i: int) -> None:
        results[i] = AgentTaskAction().run(ctxs[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(ctxs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    return results


@pytest.mark.parametrize(("limit", "peak"), [(1, 1), (None, 2)])
def test_max_concurrent_serialises_calls(make_ctx, targets, limit, peak):
    agent: dict[str, Any] = {"kind": "python", "callable": f"{MODULE}:busy"}
    if limit:
        agent["max_concurrent"] = limit
    name = f"busy-{limit}"
    ctxs = [make_ctx({"agent_id": name}, agents={name: agent}, task_id=f"t{i}")[0] for i in range(2)]
    results = _run_together(ctxs)
    assert all(r.ok for r in results), results
    assert targets.peak == peak


def test_waiting_for_a_slot_honours_cancel(make_ctx, targets):
    agents = {"single": {"kind": "python", "callable": f"{MODULE}:blocked", "max_concurrent": 1}}
    first, first_lines = make_ctx({"agent_id": "single"}, agents=agents, task_id="first")
    second, _ = make_ctx({"agent_id": "single"}, agents=agents, task_id="second")
    holder = threading.Thread(target=AgentTaskAction().run, args=(first,))
    holder.start()
    try:
        deadline = time.monotonic() + 10
        while not first_lines and time.monotonic() < deadline:  # the first call logs once it holds the slot
            time.sleep(0.01)
        second.cancel.set()
        result = AgentTaskAction().run(second)
        assert result.kind == "cancelled" and "free slot" in result.error
    finally:
        targets.gate.set()
        holder.join(10)


def test_mailbox_task_waits_then_poll_picks_up_the_reply(make_ctx, agent_home):
    ctx, _ = make_ctx({"agent_id": "box", "parameters": {"doc": "contract.pdf"}}, agents={"box": {"kind": "mailbox"}})
    result = AgentTaskAction().run(ctx)
    assert result.ok and result.waiting["kind"] == "mailbox"
    inbox = Path(result.waiting["inbox"])
    assert json.loads(inbox.read_text())["parameters"] == {"doc": "contract.pdf"}
    assert AgentTaskAction().poll(result.waiting, agent_home) is None
    Path(result.waiting["reply"]).write_text(json.dumps({"status": "completed", "result": {"signed": True}}))
    picked = AgentTaskAction().poll(result.waiting, agent_home)
    assert picked.ok and picked.outputs == {"signed": True}
    assert check_waiting(result.waiting, ctx).outputs == {"signed": True}
    assert check_waiting(result.waiting, agent_home.root).outputs == {"signed": True}
    assert recent_stats(agent_home.root)["box"]["calls"] >= 1
    assert AgentTaskAction().poll({"kind": "approval"}, agent_home) is None
