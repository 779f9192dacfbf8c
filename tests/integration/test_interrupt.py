"""SIGINT/SIGTERM to a runner (SPEC 6.6): stop as ``stop --force``, nothing outlives the run, resume goes on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CONSOLE_SCRIPT = Path(sys.executable).with_name("workflow-cli")

# Attempt 1 of `hang` starts two `sleep 1000` children (one in a session of its own) and waits; attempt 2
# checks that none of attempt 1's processes still runs, then succeeds.
HANG = r"""
pids="$LEDGER/hang.pids"
if [ "$WORKFLOW_ATTEMPT" = 1 ]; then
  sleep 1000 & echo $! >> "$pids"
  setsid sleep 1000 & echo $! >> "$pids"
  echo $$ >> "$pids"
  touch "$LEDGER/hang.started"
  wait
  exit 0
fi
for pid in $(cat "$pids"); do
  if kill -0 "$pid" 2>/dev/null; then echo "alive $pid" >> "$LEDGER/still-running"; fi
done
echo "attempt $WORKFLOW_ATTEMPT" >> "$LEDGER/hang.runs"
"""


def _doc(ledger: Path) -> dict[str, Any]:
    env = {"LEDGER": str(ledger)}
    return {"version": "2.0.0", "name": "interruptible", "tasks": {
        "first": {"action": "command", "parameters": {"command": 'echo ran >> "$LEDGER/first.runs"', "env": env}},
        "hang": {"action": "command", "dependencies": ["first"], "parameters": {"command": HANG, "env": env}},
        "last": {"action": "command", "dependencies": ["hang"],
                 "parameters": {"command": 'echo ran >> "$LEDGER/last.runs"', "env": env}},
    }}


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll a condition a real process must reach; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {predicate}")
        time.sleep(0.05)
    return value


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _sleepers() -> list[int]:
    """Every ``sleep 1000`` process of this machine (the test's own marker)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                continue
            if cmdline == b"sleep\x001000\x00" and _alive(int(name)):
                found.append(int(name))
    return found


def _start(sh: Any, *args: Any, cwd: Path) -> subprocess.Popen[str]:
    argv = [str(CONSOLE_SCRIPT), *(str(a) for a in args)]
    return subprocess.Popen(argv, env=sh.env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)


def _signal_when_hang_runs(proc: subprocess.Popen[str], ledger: Path, sig: int = signal.SIGTERM) -> tuple[list[int], str, str]:
    """Send ``sig`` to ``proc`` once attempt 1 of ``hang`` runs; its pids, then the command's stdout and stderr."""
    try:
        wait_for(lambda: (ledger / "hang.started").exists())
        attempt1 = [int(p) for p in (ledger / "hang.pids").read_text().split()]
        assert all(_alive(p) for p in attempt1)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return attempt1, stdout, stderr


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_run_kills_every_process_and_resume_completes(sh, write, tmp_path: Path, sig: int, code: int) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    before = set(_sleepers())
    proc = _start(sh, "--json", "run", write("flow.json", _doc(ledger)), "--grace", "2", cwd=tmp_path)
    attempt1, stdout, stderr = _signal_when_hang_runs(proc, ledger, sig)
    assert proc.returncode == code, stderr
    status = json.loads(stdout)
    assert status["status"] == "paused"
    assert status["tasks"]["first"]["status"] == "completed"
    assert status["tasks"]["hang"]["status"] == "pending" and status["tasks"]["hang"]["attempts"] == 1
    assert status["tasks"]["last"]["status"] == "pending"
    lines = [line for line in stderr.splitlines() if "interrupted" in line]
    assert len(lines) == 1 and signal.Signals(sig).name in lines[0] and f"resume {status['id']}" in lines[0]
    assert "Traceback" not in stderr
    # nothing the run started outlives it: the task's shell and both sleeps (the setsid one too) are gone
    assert not any(_alive(p) for p in attempt1)
    assert set(_sleepers()) <= before

    resumed = sh("--json", "resume", status["id"], cwd=tmp_path)
    assert resumed.exit_code == 0, resumed
    assert resumed.json()["status"] == "completed"
    assert (ledger / "first.runs").read_text().splitlines() == ["ran"]  # not run again
    assert (ledger / "hang.runs").read_text().splitlines() == ["attempt 2"]
    assert not (ledger / "still-running").exists()  # attempt 1 was gone when attempt 2 started
    assert (ledger / "last.runs").read_text().splitlines() == ["ran"]
    events = [json.loads(line) for line in (sh.home / "instances" / status["id"] / "events.jsonl").read_text().splitlines()]
    interrupted = [e for e in events if e["type"] == "task.retrying" and e["data"]["task"] == "hang"]
    assert interrupted and interrupted[0]["data"]["attempt"] == 1


def test_a_second_signal_skips_the_grace(sh, write, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    stubborn = {"version": "2.0.0", "name": "stubborn", "tasks": {"hold": {"action": "command", "parameters": {
        "command": 'trap "touch \\"$LEDGER/got-term\\"" TERM; touch "$LEDGER/held"; while :; do sleep 0.1; done',
        "env": {"LEDGER": str(ledger)}}}}}
    proc = _start(sh, "run", write("stubborn.json", stubborn), "--grace", "600", cwd=tmp_path)
    try:
        wait_for(lambda: (ledger / "held").exists())
        proc.send_signal(signal.SIGTERM)
        wait_for(lambda: (ledger / "got-term").exists())
        # the task survives SIGTERM; with a 600 s grace only a second signal ends the run now
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stderr  # the first signal decides the exit code
    assert "interrupted by SIGTERM" in stderr


def test_a_detached_runner_stops_the_same_way(sh, write, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    created = sh("--quiet", "create", write("flow.json", _doc(ledger)), cwd=tmp_path)
    instance = created.stdout.strip()
    detached = sh("start", instance, "--detach", "--grace", "1", cwd=tmp_path)
    assert detached.exit_code == 0, detached
    wait_for(lambda: (ledger / "hang.started").exists())
    attempt1 = [int(p) for p in (ledger / "hang.pids").read_text().split()]
    runner_pid = _runner_pid(instance)
    os.kill(runner_pid, signal.SIGTERM)
    wait_for(lambda: not _alive(runner_pid))
    wait_for(lambda: not any(_alive(p) for p in attempt1))
    status = sh("--json", "status", instance).json()
    assert status["status"] == "paused" and status["tasks"]["hang"]["status"] == "pending"
    log = (sh.home / "instances" / instance / "runner.log").read_text()
    assert "interrupted by SIGTERM" in log


def _runner_pid(instance: str) -> int:
    """The background runner driving ``instance`` (its command line names it)."""
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                argv = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"workflow_cli" in argv and instance.encode() in argv and b"start" in argv:
                return int(name)
    raise AssertionError(f"no runner process for {instance}")


def test_an_interrupted_child_workflow_goes_on_when_the_parent_resumes(sh, write, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    child = write("child.json", _doc(ledger))
    parent = {"version": "2.0.0", "name": "parent", "tasks": {
        "spawn": {"action": "workflow_trigger", "parameters": {"file": str(child)}}}}
    before = set(_sleepers())
    proc = _start(sh, "--json", "run", write("parent.json", parent), "--grace", "2", cwd=tmp_path)
    attempt1, stdout, stderr = _signal_when_hang_runs(proc, ledger)
    assert proc.returncode == 143, stderr
    status = json.loads(stdout)
    assert status["status"] == "paused" and status["tasks"]["spawn"]["status"] == "pending"
    [child_id] = status["children"]
    assert sh("--json", "status", child_id).json()["status"] == "paused"
    assert not any(_alive(p) for p in attempt1) and set(_sleepers()) <= before

    resumed = sh("--json", "resume", status["id"], cwd=tmp_path)
    assert resumed.exit_code == 0, resumed
    final = resumed.json()
    assert final["status"] == "completed" and final["children"] == [child_id]  # the same child went on
    assert final["tasks"]["spawn"]["outputs"]["instance_id"] == child_id
    assert (ledger / "first.runs").read_text().splitlines() == ["ran"]
    assert (ledger / "hang.runs").read_text().splitlines() == ["attempt 2"]
    assert not (ledger / "still-running").exists()


def test_a_task_that_ignores_sigterm_is_killed_after_the_grace(sh, write, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    stubborn = {"version": "2.0.0", "name": "stubborn", "tasks": {"hold": {"action": "command", "parameters": {
        "command": 'trap "" TERM; echo $$ > "$LEDGER/pid"; while :; do sleep 0.1; done', "env": {"LEDGER": str(ledger)}}}}}
    proc = _start(sh, "--json", "run", write("stubborn.json", stubborn), "--grace", "0.5", cwd=tmp_path)
    try:
        pid = int(wait_for(lambda: (ledger / "pid").exists() and (ledger / "pid").read_text().strip()))
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stderr
    assert not _alive(pid)
    assert json.loads(stdout)["tasks"]["hold"]["status"] == "pending"


def test_a_signal_to_tick_stops_the_run_it_drives_and_starts_no_other(sh, write, tmp_path: Path) -> None:
    """cron's ``timeout`` or a shutdown sends SIGTERM to ``tick`` while it drives an instance: that run
    stops as ``stop --force`` would (paused, nothing it started survives), tick starts nothing more and
    exits 143 with the resume hint; ``resume`` then completes the run."""
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    doc = _doc(ledger)
    doc["tasks"]["gate"] = {"action": "wait", "parameters": {"signal": "go"}}
    doc["tasks"]["first"]["dependencies"] = ["gate"]
    source = write("flow.json", doc)
    waiting = [sh("--json", "run", source, cwd=tmp_path).json()["id"] for _ in range(2)]
    assert all(sh("--json", "status", i).json()["status"] == "waiting" for i in waiting)
    for instance in waiting:  # recorded for tick to act on (no runner now)
        assert sh("signal", instance, "go", "--no-continue").exit_code == 0
    before = set(_sleepers())
    proc = _start(sh, "tick", cwd=tmp_path)
    attempt1, _, stderr = _signal_when_hang_runs(proc, ledger)
    assert proc.returncode == 143, stderr
    assert not any(_alive(p) for p in attempt1) and set(_sleepers()) <= before
    states = {i: sh("--json", "status", i).json()["status"] for i in waiting}
    assert sorted(states.values()) == ["paused", "waiting"]  # the other one was not started
    driven = next(i for i, s in states.items() if s == "paused")
    line = [x for x in stderr.splitlines() if "interrupted" in x]
    assert len(line) == 1 and "SIGTERM" in line[0] and f"resume {driven}" in line[0]
    resumed = sh("--json", "resume", driven, cwd=tmp_path)
    assert resumed.exit_code == 0 and resumed.json()["status"] == "completed"
    assert (ledger / "hang.runs").read_text().splitlines() == ["attempt 2"]
    assert not (ledger / "still-running").exists()
