"""``foreach`` (SPEC 3): one run per item, per-item state, retries, tolerance, retry of failed items, crash and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

Engine = Any  # the ``engine`` fixture of conftest.py
CONSOLE_SCRIPT = Path(sys.executable).with_name("workflow-cli")


def sh(command: str, **task: Any) -> dict[str, Any]:
    """A ``command`` task."""
    return {"action": "command", "parameters": {"command": command}, **task}


LIST = {"action": "noop", "parameters": {"outputs": {"xs": [3, 1, 4, 1, 5]}}}


def test_items_run_with_item_and_index_and_outputs_are_a_list_in_item_order(engine: Engine) -> None:
    iid, result = engine.run({
        "list": LIST,
        "sq": sh('sleep 0.0{{ 5 - index }}; i={{ item }}; printf \'{"sq": %s, "at": %s}\\n\' "$((i * i))" {{ index }}',
                 dependencies=["list"], foreach="tasks.list.outputs.xs"),
        "use": {"action": "noop", "dependencies": ["sq"], "parameters": {"outputs": {
            "first": "{{ tasks.sq.outputs[0].sq }}", "n": "{{ tasks.sq.outputs | length }}"}}},
    })
    assert result.exit_code == 0, result.status
    sq = result.status["tasks"]["sq"]
    assert sq["outputs"] == [{"sq": 9, "at": 0}, {"sq": 1, "at": 1}, {"sq": 16, "at": 2}, {"sq": 1, "at": 3}, {"sq": 25, "at": 4}]
    assert result.status["tasks"]["use"]["outputs"] == {"first": 9, "n": 5}
    items = sq["items"]
    assert [it["item"] for it in items] == [3, 1, 4, 1, 5]
    assert all(it["status"] == "completed" and it["attempts"] == 1 and it["started_at"] and it["finished_at"] for it in items)
    assert items[2]["outputs"] == {"sq": 16, "at": 2}
    started = [e["data"] for e in engine.events(iid, "item.started")]
    assert sorted(d["index"] for d in started) == [0, 1, 2, 3, 4] and all(d["task"] == "sq" and d["attempt"] == 1 for d in started)
    assert len(engine.events(iid, "item.completed")) == 5


def test_each_item_has_its_own_log_and_environment(engine: Engine) -> None:
    from workflow_cli.ops.logs import log_files

    iid, result = engine.run({"t": sh('echo item={{ item }} "idx=$WORKFLOW_ITEM_INDEX key=$WORKFLOW_IDEMPOTENCY_KEY"',
                                      foreach='["a", "b"]')})
    assert result.exit_code == 0
    log = (engine.paths(iid).logs / "t[1].log").read_text()
    assert log.startswith("=== t[1] attempt 1 started")
    assert f"item=b idx=1 key={iid}:t[1]" in log
    _, files = log_files(engine.home, iid, "t")
    assert [label for label, _ in files] == ["t[0]", "t[1]"]


def test_foreach_max_parallel_caps_items_running_at_once(engine: Engine) -> None:
    iid, result = engine.run({"t": sh("mkdir lock.{{ index }}; ls -d lock.* | wc -l >> counts.txt; sleep 0.1; rmdir lock.{{ index }}",
                                      foreach="range(8) | list", foreach_max_parallel=2)}, max_parallel=6)
    assert result.exit_code == 0
    counts = [int(c) for c in (engine.workspace(iid) / "counts.txt").read_text().split()]
    assert len(counts) == 8 and max(counts) <= 2


def test_an_empty_list_completes_at_once_and_a_non_list_fails_clearly(engine: Engine) -> None:
    iid, result = engine.run({"empty": sh("exit 1", foreach="[]"), "after": sh("true", dependencies=["empty"])})
    assert result.exit_code == 0
    assert result.status["tasks"]["empty"]["outputs"] == [] and result.status["tasks"]["empty"]["items"] == []
    _, result = engine.run({"bad": sh("true", foreach="params | length", retry_count=2)})
    assert result.exit_code == 1
    bad = result.status["tasks"]["bad"]
    assert bad["status"] == "failed" and "foreach must give a list, not int" in bad["error"]
    assert bad["attempts"] == 1  # retries apply per item, not to the evaluation of the list


def test_retry_applies_per_item(engine: Engine) -> None:
    counter = 'n=$(cat c{{ index }} 2>/dev/null || echo 0); n=$((n+1)); echo $n > c{{ index }}; '
    iid, result = engine.run({"t": sh(counter + '[ {{ item }} -eq 0 ] || [ $n -gt 1 ] || exit 3; echo "{\\"n\\": $n}"',
                                      foreach="[0, 1, 0, 1]", retry={"max_attempts": 2, "delay_seconds": 0.05})})
    assert result.exit_code == 0, result.status["tasks"]["t"]
    items = result.status["tasks"]["t"]["items"]
    assert [it["attempts"] for it in items] == [1, 2, 1, 2]
    assert result.status["tasks"]["t"]["outputs"] == [{"n": 1}, {"n": 2}, {"n": 1}, {"n": 2}]
    retrying = engine.events(iid, "item.retrying")
    assert sorted(e["data"]["index"] for e in retrying) == [1, 3] and all(e["data"]["due"] for e in retrying)


def test_tolerated_failures_as_a_count_and_as_a_percentage(engine: Engine) -> None:
    fail_odd = "i={{ item }}; [ $((i % 2)) -eq 0 ] || exit 1"
    _, result = engine.run({"t": sh(fail_odd, foreach="range(6) | list", foreach_tolerated_failures=3),
                            "after": sh("true", dependencies=["t"])})
    assert result.exit_code == 0
    t = result.status["tasks"]["t"]
    assert t["status"] == "completed" and t["outputs"] == [{}, None, {}, None, {}, None]
    assert [it["status"] for it in t["items"]] == ["completed", "failed"] * 3
    _, result = engine.run({"t": sh(fail_odd, foreach="range(6) | list", foreach_tolerated_failures="50%")})
    assert result.exit_code == 0
    _, result = engine.run({"t": sh(fail_odd, foreach="range(10) | list", foreach_tolerated_failures="10%", foreach_max_parallel=1),
                            "after": sh("true", dependencies=["t"])}, max_parallel=1)
    assert result.exit_code == 1
    t = result.status["tasks"]["t"]
    assert t["status"] == "failed" and t["error"].startswith("2 of 10 items failed (tolerated: 1); item 1:")
    assert [it["status"] for it in t["items"]][:4] == ["completed", "failed", "completed", "failed"]
    assert {it["status"] for it in t["items"][4:]} == {"cancelled"}  # no new item starts once too many failed
    assert result.status["tasks"]["after"]["status"] == "skipped"


def test_retry_of_the_task_reruns_only_the_failed_items(engine: Engine) -> None:
    ledger = engine.tmp / "ledger.txt"
    flag = engine.tmp / "fixed"
    iid, result = engine.run({"t": sh(f'echo {{{{ index }}}} >> {ledger}; [ {{{{ item }}}} = ok ] || [ -e {flag} ] || exit 1; '
                                      'printf \'{"i": %s}\\n\' {{ index }}', foreach='["ok", "bad", "ok", "bad"]')}, max_parallel=4)
    assert result.exit_code == 1
    assert sorted(ledger.read_text().split()) == ["0", "1", "2", "3"]
    flag.touch()
    ledger.write_text("")
    result = engine.retry(iid, tasks=["t"])
    assert result.exit_code == 0, result.status["tasks"]["t"]
    assert sorted(ledger.read_text().split()) == ["1", "3"]  # completed items kept their outputs
    t = result.status["tasks"]["t"]
    assert t["outputs"] == [{"i": 0}, {"i": 1}, {"i": 2}, {"i": 3}] and t["attempts"] == 2
    assert [it["attempts"] for it in t["items"]] == [1, 2, 1, 2]


def test_conditions_on_item_skip_items_and_the_others_gate_the_task(engine: Engine) -> None:
    _, result = engine.run({"t": sh('printf \'{"v": %s}\\n\' {{ item }}', foreach="[1, 5, 2, 7]", conditions=["item > 2", "params | length == 0"])})
    assert result.exit_code == 0
    t = result.status["tasks"]["t"]
    assert [it["status"] for it in t["items"]] == ["skipped", "completed", "skipped", "completed"]
    assert t["outputs"] == [None, {"v": 5}, None, {"v": 7}]
    _, result = engine.run({"t": sh("true", foreach="[1, 2]", conditions=["item > 0", "params | length > 0"])})
    assert result.status["tasks"]["t"]["status"] == "skipped"


def test_the_outputs_cap_applies_to_the_whole_list(engine: Engine) -> None:
    big = "python3 -c 'import json; print(json.dumps({\"s\": \"x\" * 300000}))'"
    _, result = engine.run({"t": sh(big, foreach="range(4) | list")})
    assert result.exit_code == 1
    t = result.status["tasks"]["t"]
    assert t["error_kind"] == "output" and "the limit is 1 MiB" in t["error"] and "4 items" in t["error"]


def test_noop_items_run_inline_and_status_json_lists_them(engine: Engine) -> None:
    iid, result = engine.run({"t": {"action": "noop", "foreach": "range(3) | list", "parameters": {"outputs": {"i": "{{ index }}"}}}})
    assert result.exit_code == 0
    out = engine.cli("--json", "status", iid)
    doc = json.loads(out.stdout)
    assert doc["tasks"]["t"]["outputs"] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert [it["status"] for it in doc["tasks"]["t"]["items"]] == ["completed"] * 3
    assert doc["tasks"]["t"]["cached"] is False


# -- a crash in the middle of a foreach, through the console script ---------------------------------------------

def _events(home: Path, iid: str) -> list[dict[str, Any]]:
    from workflow_cli.store.events import read_events

    return read_events(home / "instances" / iid / "events.jsonl")


def test_sigkill_during_a_foreach_then_resume_runs_only_unfinished_items(engine: Engine) -> None:
    ledger = engine.tmp / "ledger.txt"
    item = f'echo {{{{ index }}}} "$WORKFLOW_ATTEMPT" >> {ledger}; sleep 0.4; printf \'{{"i": %s}}\\n\' {{{{ index }}}}'
    iid = engine.create({"prep": sh("true"), "t": sh(item, dependencies=["prep"], foreach="range(10) | list", foreach_max_parallel=3),
                         "after": sh("true", dependencies=["t"])}, max_parallel=4)
    env = {**engine.env, "WORKFLOW_HOME": str(engine.home.root)}
    runner = subprocess.Popen([str(CONSOLE_SCRIPT), "start", iid], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        engine.wait_for(lambda: sum(1 for e in _events(engine.home.root, iid) if e["type"] == "item.completed") >= 4, timeout=30)
        engine.wait_for(lambda: any(e["type"] == "item.started" and e["data"]["index"] >= 6 for e in _events(engine.home.root, iid)), timeout=30)
    finally:
        os.killpg(runner.pid, signal.SIGKILL)
        runner.wait()
        runner.stderr.close()  # type: ignore[union-attr]
    events = _events(engine.home.root, iid)
    done_before = {e["data"]["index"] for e in events if e["type"] == "item.completed"}
    offset = ledger.stat().st_size
    assert 4 <= len(done_before) < 10
    out = subprocess.run([str(CONSOLE_SCRIPT), "--json", "resume", iid], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["tasks"]["t"]["outputs"] == [{"i": i} for i in range(10)]
    assert doc["tasks"]["after"]["status"] == "completed"
    rerun = [int(line.split()[0]) for line in ledger.read_bytes()[offset:].decode().splitlines()]
    assert not set(rerun) & done_before, f"completed items ran again: {sorted(set(rerun) & done_before)}"
    assert set(rerun) == set(range(10)) - done_before
    completions = Counter(e["data"]["index"] for e in _events(engine.home.root, iid) if e["type"] == "item.completed")
    assert completions == Counter({i: 1 for i in range(10)})
    assert doc["tasks"]["t"]["attempts"] == 1  # the task itself went on; only its items started again


def test_stop_lets_running_items_finish_and_resume_runs_the_rest(engine: Engine) -> None:
    from workflow_cli.ops.control import stop

    ledger = engine.tmp / "ledger.txt"
    iid = engine.create({"t": sh(f"echo {{{{ index }}}} >> {ledger}; sleep 0.3", foreach="range(6) | list", foreach_max_parallel=2)},
                        max_parallel=2)
    thread, box = engine.start_in_thread(iid)
    engine.wait_for(lambda: len(engine.events(iid, "item.started")) >= 2)
    assert stop(engine.home, iid)["handed_to_runner"] is True
    thread.join(30)
    assert box["result"].exit_code == 6
    state = engine.state(iid)
    assert state["status"] == "paused" and state["tasks"]["t"]["status"] == "running"
    done = {i for i, it in enumerate(state["tasks"]["t"]["items"]) if it["status"] == "completed"}
    assert done and all(it["status"] == "pending" for i, it in enumerate(state["tasks"]["t"]["items"]) if i not in done)
    result = engine.resume(iid)
    assert result.exit_code == 0
    assert sorted(int(x) for x in ledger.read_text().split()) == list(range(6))  # each item ran once


def test_cancel_cancels_running_items_and_the_task(engine: Engine) -> None:
    from workflow_cli.ops.control import cancel

    iid = engine.create({"t": sh("sleep 20", foreach="range(4) | list")}, max_parallel=2)
    thread, box = engine.start_in_thread(iid)
    engine.wait_for(lambda: len(engine.events(iid, "item.started")) >= 2)
    cancel(engine.home, iid)
    thread.join(30)
    assert box["result"].exit_code == 7
    t = engine.state(iid)["tasks"]["t"]
    assert t["status"] == "cancelled" and {it["status"] for it in t["items"]} == {"cancelled"}
