"""Concurrency pools (SPEC 3 ``pool``, 6.5): slots shared by every runner of a home, lock files, no leaks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

Engine = Any  # the ``engine`` fixture of conftest.py
CONSOLE_SCRIPT = Path(sys.executable).with_name("workflow-cli")


def sh(command: str, **task: Any) -> dict[str, Any]:
    """A ``command`` task."""
    return {"action": "command", "parameters": {"command": command}, **task}


def set_pools(engine: Engine, **pools: int) -> None:
    body = "".join(f"  {name}: {slots}\n" for name, slots in pools.items())
    (engine.home.root / "config.yaml").write_text("pools:\n" + body)


def stamp(ledger: Path, seconds: float) -> str:
    """A command that logs its start and end (with nanosecond times) around a sleep."""
    who = "$WORKFLOW_INSTANCE_ID:$WORKFLOW_TASK_ID$WORKFLOW_ITEM_INDEX"
    return f'echo "$(date +%s.%N) start {who}" >> {ledger}; sleep {seconds}; echo "$(date +%s.%N) end {who}" >> {ledger}'


def intervals(ledger: Path) -> list[tuple[float, float, str]]:
    """(start, end, who) of each run in the ledger, by start time."""
    starts: dict[str, float] = {}
    out = []
    for line in ledger.read_text().splitlines():
        at, what, who = line.split()
        if what == "start":
            starts[who] = float(at)
        else:
            out.append((starts.pop(who), float(at), who))
    assert not starts, f"runs that never ended: {starts}"
    return sorted(out)


def assert_never_more_than(runs: list[tuple[float, float, str]], slots: int) -> None:
    for start, _end, who in runs:
        overlapping = [w for s, e, w in runs if s <= start < e]
        assert len(overlapping) <= slots, f"{who} started while {overlapping} ran"


def test_a_one_slot_pool_serialises_tasks_and_records_each_wait_once(engine: Engine) -> None:
    set_pools(engine, db=1)
    ledger = engine.tmp / "ledger.txt"
    iid = engine.create({"a": sh(stamp(ledger, 0.4), pool="db"), "b": sh(stamp(ledger, 0.4), pool="db"),
                         "free": sh("true")}, max_parallel=4)
    thread, box = engine.start_in_thread(iid)
    engine.wait_for(lambda: any(ts.get("waiting_for_pool") == "db" for ts in engine.state(iid)["tasks"].values()), timeout=10)
    from workflow_cli.ops.query import get_status

    waiting = [t for t, entry in get_status(engine.home, iid)["tasks"].items() if entry["waiting_for_pool"] == "db"]
    assert len(waiting) == 1 and engine.statuses(iid)[waiting[0]] == "pending"
    thread.join(30)
    assert box["result"].exit_code == 0
    runs = intervals(ledger)
    assert len(runs) == 2 and runs[0][1] <= runs[1][0]
    waits = engine.events(iid, "task.pool_wait")
    assert [(e["data"]["task"], e["data"]["pool"]) for e in waits] == [(waiting[0], "db")]  # once per wait, not per retry
    assert all(entry["waiting_for_pool"] is None for entry in get_status(engine.home, iid)["tasks"].values())
    assert sorted(p.name for p in (engine.home.root / "pools" / "db").iterdir()) == ["slot-0.lock"]


def test_foreach_items_each_take_a_slot(engine: Engine) -> None:
    set_pools(engine, gpu=2)
    ledger = engine.tmp / "ledger.txt"
    _, result = engine.run({"t": sh(stamp(ledger, 0.15), foreach="range(6) | list", pool="gpu")}, max_parallel=6)
    assert result.exit_code == 0
    runs = intervals(ledger)
    assert len(runs) == 6
    assert_never_more_than(runs, 2)


def test_an_unknown_pool_fails_the_task_when_the_run_starts(engine: Engine) -> None:
    set_pools(engine, db=1)
    ledger = engine.tmp / "ledger.txt"
    iid, result = engine.run({"slow_upstream": sh(f"echo ran >> {ledger}; sleep 5"),
                              "t": sh("true", pool="dbb", dependencies=["slow_upstream"])})
    assert result.exit_code == 1
    t = result.status["tasks"]["t"]
    assert t["status"] == "failed" and t["error_kind"] == "config"
    assert "pool 'dbb' is not defined in" in t["error"] and "config.yaml" in t["error"] and "did you mean 'db'" in t["error"].lower()
    assert not ledger.exists()  # it failed at once, before its upstream ran
    assert result.status["tasks"]["slow_upstream"]["status"] == "skipped"


def _spawn(engine: Engine, *args: str) -> subprocess.Popen[str]:
    env = {**engine.env, "WORKFLOW_HOME": str(engine.home.root)}
    return subprocess.Popen([str(CONSOLE_SCRIPT), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def test_two_instances_contending_for_a_one_slot_pool_never_overlap(engine: Engine) -> None:
    set_pools(engine, db=1)
    ledger = engine.tmp / "ledger.txt"
    doc = {"version": "2.0.0", "name": "contend", "max_parallel": 3,
           "tasks": {f"t{i}": sh(stamp(ledger, 0.15), pool="db") for i in range(3)}}
    path = engine.tmp / "contend.json"
    path.write_text(json.dumps(doc))
    procs = [_spawn(engine, "--json", "run", str(path)) for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    runs = intervals(ledger)
    assert len(runs) == 6 and len({who.split(":")[0] for _, _, who in runs}) == 2
    assert_never_more_than(runs, 1)
    waited = [json.loads(out)["id"] for out, _ in outs]
    assert any(engine.events(iid, "task.pool_wait") for iid in waited)


def test_a_killed_runner_does_not_leak_its_slot(engine: Engine) -> None:
    set_pools(engine, db=1)
    holder = engine.create({"hold": sh("echo $$ > pid; exec sleep 30", pool="db")})
    procs = [_spawn(engine, "start", holder)]
    try:
        engine.wait_for(lambda: (engine.workspace(holder) / "pid").exists(), timeout=20)
        other = engine.create({"next": sh("true", pool="db")})
        procs.append(_spawn(engine, "start", other))
        engine.wait_for(lambda: engine.events(other, "task.pool_wait"), timeout=20)
        began = time.monotonic()
        os.killpg(procs[0].pid, signal.SIGKILL)
        procs[0].wait()
        procs[1].communicate(timeout=30)
        assert procs[1].returncode == 0
        assert time.monotonic() - began < 5
    finally:
        pid_file = engine.workspace(holder) / "pid"
        if pid_file.exists():  # the task process lives in a session of its own: end it too
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except ProcessLookupError:
                pass
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
