"""``emit`` (SPEC 6.4 ``wait.key``, 8): an event reaches exactly the instances waiting for it, once each."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

CONSOLE = Path(sys.executable).with_name("workflow-cli")


def _wait_then_ship(name: str, signal: str, key: str = "{{ params.order_id }}", gate: bool = False) -> dict[str, Any]:
    tasks: dict[str, Any] = {
        "pay": {"action": "wait", "parameters": {"signal": signal, "key": key}},
        "ship": {"action": "command", "dependencies": ["pay"],
                 "parameters": {"command": ["echo", "shipped {{ params.order_id }}"]}},
    }
    if gate:  # the wait starts only after a person approves: an event may come before it
        tasks["ok"] = {"action": "approval_gate", "parameters": {"approvers": ["ann"]}}
        tasks["pay"]["dependencies"] = ["ok"]
    return {"version": "2.0.0", "name": name, "parameters": {"order_id": {"type": "string"}}, "tasks": tasks}


@pytest.fixture
def shop(home: Path, sh) -> dict[str, str]:
    """Instances of several templates and keys; returns label -> instance id."""
    folder = home / "templates"
    folder.mkdir(exist_ok=True)
    for name, doc in {"order": _wait_then_ship("order", "payment_received"),
                      "invoice": _wait_then_ship("invoice", "payment_received"),
                      "shipping": _wait_then_ship("shipping", "shipment"),
                      "gated": _wait_then_ship("gated", "payment_received", gate=True)}.items():
        (folder / f"{name}.json").write_text(json.dumps(doc))
    ids = {}
    for label, template, key, verb in [("order_a", "order", "A", "run"), ("order_b", "order", "B", "run"),
                                       ("invoice_a", "invoice", "A", "run"), ("shipping_a", "shipping", "A", "run"),
                                       ("gated_a", "gated", "A", "run"), ("created_a", "order", "A", "create")]:
        result = sh(verb, template, "--param", f"order_id={key}", "--json")
        assert result.exit_code == (3 if verb == "run" else 0), result
        ids[label] = result.json()["id"]
    return ids


def _events(home: Path, iid: str) -> list[dict[str, Any]]:
    lines = (home / "instances" / iid / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if isinstance(e, dict) and "type" in e]


def test_emit_reaches_exactly_the_waits_with_that_key(sh, cli, home, shop):
    reached = sh("emit", "payment_received", "--key", "A", "--data", '{"amount": 12}', "--no-continue", "--json")
    assert reached.exit_code == 0, reached
    assert sorted(reached.json()) == sorted([shop["order_a"], shop["invoice_a"], shop["gated_a"], shop["created_a"]])

    status = {label: cli("status", iid, "--json").json() for label, iid in shop.items()}
    assert status["order_a"]["tasks"]["pay"]["status"] == "completed"  # --no-continue: the wait took it, ship waits for a runner
    assert status["order_a"]["tasks"]["pay"]["outputs"]["payload"] == {"amount": 12}
    assert status["order_b"]["tasks"]["pay"]["status"] == "waiting"  # another key
    assert status["shipping_a"]["tasks"]["pay"]["status"] == "waiting"  # another event
    assert status["gated_a"]["tasks"]["pay"]["status"] == "pending"  # kept until its wait starts
    assert status["created_a"]["status"] == "created"

    assert cli("approve", shop["gated_a"], "ok", "--by", "ann").exit_code == 0  # the wait starts and takes the kept event
    gated = cli("status", shop["gated_a"], "--json").json()
    assert gated["status"] == "completed" and gated["vars"]["amount"] == 12
    assert cli("start", shop["created_a"]).exit_code == 0
    assert cli("resume", shop["order_a"]).exit_code == 0

    again = sh("emit", "payment_received", "--key", "A", "--json")
    assert again.exit_code == 0 and again.json() == []  # nobody waits any more: still exit 0
    human = sh("emit", "payment_received", "--key", "B")
    assert human.exit_code == 0 and shop["order_b"] in human.stdout
    assert cli("status", shop["order_b"], "--json").json()["status"] == "completed"  # continued here


def test_emit_without_key_and_with_template(sh, shop):
    only_order = sh("emit", "payment_received", "--template", "order", "--no-continue", "--json")
    assert sorted(only_order.json()) == sorted([shop["order_a"], shop["order_b"], shop["created_a"]])
    rest = sh("emit", "payment_received", "--no-continue", "--json")
    # the waiting orders took the first event; the created one has not started its wait: it gets this one too
    assert sorted(rest.json()) == sorted([shop["invoice_a"], shop["gated_a"], shop["created_a"]])


@pytest.mark.parametrize("args, message", [(("emit", ""), "NAME"), (("emit", "x", "--data", "{no"), "--data")])
def test_bad_input_is_one_line_and_exit_2(sh, home, snapshot_tree, args, message):
    before = snapshot_tree(home)
    result = sh(*args)
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert snapshot_tree(home) == before


def test_concurrent_emits_never_deliver_one_event_twice(sh, home, shop):
    procs = [subprocess.Popen([str(CONSOLE), "emit", "payment_received", *(["--key", "A"] if n % 2 else []), "--json"],
                              env=sh.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outs
    assert sh("tick").exit_code == 0  # a request posted just as a runner ended is taken by the next one

    waiting_for_payment = ["order_a", "order_b", "invoice_a", "gated_a", "created_a"]
    for label in [*waiting_for_payment, "shipping_a"]:
        events = _events(home, shop[label])
        received = Counter(e["data"].get("event") for e in events if e["type"] == "signal.received")
        assert all(n == 1 for n in received.values()), (label, received)  # one event, at most once per instance
        completed = [e for e in events if e["type"] == "task.completed" and e["data"]["task"] == "pay"]
        assert len(completed) <= 1, label
        if label == "shipping_a":
            assert not received
        elif label in ("order_a", "invoice_a", "order_b"):
            assert len(completed) == 1, label  # they were waiting: the first event woke them
    reached = Counter(i for out, _ in outs for i in json.loads(out))
    # only events without a key reach B (two were sent; the second may find it finished already)
    assert 1 <= reached[shop["order_b"]] <= 2
    # every event that reached an instance still waiting for it was taken (one that finished meanwhile needs none)
    taken = [e for e in _events(home, shop["gated_a"]) if e["type"] == "signal.received"]
    assert len(taken) == reached[shop["gated_a"]] == 4


def test_one_event_read_twice_is_taken_once(sh, cli, home, shop):
    """A request read again (a crash between recording it and removing it) carries the same event id: ignored."""
    from workflow_cli.store.requests import post_request

    instance_dir = home / "instances" / shop["order_b"]
    event = {"name": "payment_received", "payload": {"n": 1}, "key": "B", "event": "ev-test-1"}
    post_request(instance_dir, "signal", event)
    post_request(instance_dir, "signal", event)
    assert cli("resume", shop["order_b"]).exit_code == 0
    events = _events(home, shop["order_b"])
    assert [e["data"]["event"] for e in events if e["type"] == "signal.received"] == ["ev-test-1"]
    ignored = [e["data"] for e in events if e["type"] == "request.ignored"]
    assert ignored and ignored[0]["reason"] == "this event was already taken"


def test_the_index_and_a_folder_scan_find_the_same_instances(home, shop, monkeypatch):
    from workflow_cli.ops.events import candidates
    from workflow_cli.store.home import Home

    def found(key: str | None, template: str | None = None) -> list[str]:
        return [c.paths.id for c in candidates(Home(home), "payment_received", key, template)]

    with_index = [found("A"), found(None), found(None, "order"), found("B", "invoice")]
    monkeypatch.setenv("WORKFLOW_CLI_INDEX", "off")
    assert [found("A"), found(None), found(None, "order"), found("B", "invoice")] == with_index
    assert sorted(with_index[0]) == sorted([shop["order_a"], shop["invoice_a"], shop["gated_a"], shop["created_a"]])
    assert with_index[3] == []
