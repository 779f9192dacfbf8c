"""The dask executor on a real cluster (SPEC 17), driven through the installed console script.

Tasks record the pid of their parent process (a command) or their own (a python task), so the tests
can tell a worker process from the runner; a worker killed with SIGKILL is a real process killed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from workflow_cli.store.events import read_events

BARRIER = ('touch "$DIR/started.$WORKFLOW_TASK_ID"; n=0; '
           'while [ "$(ls "$DIR" | grep -c ^started)" -lt 4 ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done; '
           'echo "{\\"ppid\\": $PPID, \\"seen\\": $(ls "$DIR" | grep -c ^started)}"')


def _doc(tasks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"version": "2.0.0", "name": "dask-test", "tasks": tasks, **extra}


def _cmd(command: str, **extra: Any) -> dict[str, Any]:
    return {"action": "command", "parameters": {"command": command}, **extra}


def _dask(cluster: Any) -> list[str]:
    return ["--executor", "dask", "--scheduler-address", cluster.address]


def _events(home: Path, instance: str) -> list[dict[str, Any]]:
    return read_events(home / "instances" / instance / "events.jsonl")


def _instance(result: Any) -> str:
    return str(result.json()["id"])


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def _spawn(sh: Any, tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    """The console script in a session of its own, running in the background."""
    log = open(tmp_path / f"runner-{time.monotonic_ns()}.log", "wb")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen([*_script(), *args], env={**sh.env},
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        log.close()


def _script() -> list[str]:
    import sys

    return [str(Path(sys.executable).with_name("workflow-cli"))]


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_tasks_run_in_worker_processes_spread_over_the_workers(dask_cluster: Any, sh: Any, write: Any, tmp_path: Path) -> None:
    meet = tmp_path / "meet"
    meet.mkdir()
    tasks: dict[str, Any] = {f"c{i}": _cmd(BARRIER, parameters={"command": BARRIER, "env": {"DIR": str(meet)}}) for i in range(4)}
    tasks["py"] = {"action": "python", "parameters": {"callable": "wf_dask_probe:where", "args": ["remote"]}}
    tasks["out"] = _cmd('echo "made on a worker"; echo "greeting=hello from $PPID" > "$WORKFLOW_OUTPUT"; echo token {{ params.token }}')
    tasks["save"] = {"action": "file_operation", "dependencies": ["out"],
                     "parameters": {"operation": "write", "path": "saved.txt", "content": "{{ tasks.out.outputs.greeting }}"}}
    doc = write("spread.json", _doc(tasks, parameters={"token": {"type": "string", "secret": True}}))
    result = sh("run", doc, "--json", "--max-parallel", "6", "--param", "token=s3cr3t-value", *_dask(dask_cluster))
    assert result.exit_code == 0, result
    status = result.json()
    workers = dask_cluster.worker_pids()
    ppids = {status["tasks"][f"c{i}"]["outputs"]["ppid"] for i in range(4)}
    assert all(status["tasks"][f"c{i}"]["outputs"]["seen"] == 4 for i in range(4))  # all four ran at once
    assert ppids == workers  # two threads per worker: four at once needs both workers
    assert status["tasks"]["py"]["outputs"] == {"pid": status["tasks"]["py"]["outputs"]["pid"], "tag": "remote"}
    assert status["tasks"]["py"]["outputs"]["pid"] in workers
    # outputs and the log come home; the file_operation ran in the runner, in the home's workspace
    instance = sh.home / "instances" / status["id"]
    greeting = status["tasks"]["out"]["outputs"]["greeting"]
    assert int(greeting.rsplit(" ", 1)[1]) in workers
    assert (instance / "workspace" / "saved.txt").read_text() == greeting
    log = (instance / "logs" / "out.log").read_text()
    assert "made on a worker" in log and "token ***" in log and "s3cr3t-value" not in log
    shown = sh("logs", status["id"], "out")
    assert shown.exit_code == 0 and "made on a worker" in shown.stdout


def test_a_task_marked_local_and_a_foreach_stay_correct(dask_cluster: Any, sh: Any, write: Any) -> None:
    doc = write("local.json", _doc({
        "home": _cmd('echo "{\\"ppid\\": $PPID}"', executor="local"),
        "items": {**_cmd('echo "{\\"ppid\\": $PPID, \\"item\\": $WORKFLOW_ITEM_INDEX}"'), "foreach": "{{ [1, 2, 3] }}"},
    }))
    result = sh("run", doc, "--json", *_dask(dask_cluster))
    assert result.exit_code == 0, result
    tasks = result.json()["tasks"]
    assert tasks["home"]["outputs"]["ppid"] not in dask_cluster.worker_pids()  # the runner's own child
    items = tasks["items"]["outputs"]
    found = items["results"] if isinstance(items, dict) and "results" in items else items
    assert {json.dumps(r, sort_keys=True) for r in found} and all(r["ppid"] in dask_cluster.worker_pids() for r in found)


def test_a_worker_killed_mid_attempt_is_worker_lost_and_the_retry_completes(dask_cluster: Any, sh: Any, write: Any,
                                                                            tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    script = ('echo "$PPID $$" > "$DIR/attempt.$WORKFLOW_ATTEMPT"; '
              'if [ "$WORKFLOW_ATTEMPT" = 1 ]; then n=0; while [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done; fi')
    doc = write("victim.json", _doc({"victim": {"action": "command", "parameters": {"command": script, "env": {"DIR": str(marks)}},
                                                "retry": {"max_attempts": 2}}}))
    runner = _spawn(sh, tmp_path, "run", str(doc), "--json", *_dask(dask_cluster))
    shell_pid = 0
    try:
        _wait_for(lambda: (marks / "attempt.1").exists() and (marks / "attempt.1").read_text().strip() != "", "attempt 1 to start")
        worker_pid, shell_pid = (int(x) for x in (marks / "attempt.1").read_text().split())
        assert worker_pid in dask_cluster.worker_pids()
        os.kill(worker_pid, signal.SIGKILL)
        assert runner.wait(timeout=60) == 0
    finally:
        _kill_group(runner.pid)
        if shell_pid:
            _kill_group(shell_pid)  # the orphan of the killed worker
    instance = next((sh.home / "instances").iterdir()).name
    events = _events(sh.home, instance)
    failed = [e for e in events if e["type"] in ("task.retrying", "task.failed") and e["data"].get("task") == "victim"]
    assert failed and failed[0]["data"].get("kind", failed[0]["data"].get("error_kind")) == "worker_lost", failed
    second = (marks / "attempt.2").read_text().split()
    assert int(second[0]) in dask_cluster.worker_pids() and int(second[0]) != worker_pid


def test_a_killed_runner_resumes_without_rerunning_completed_tasks(dask_cluster: Any, sh: Any, write: Any, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {"DIR": str(marks)}
    doc = write("resume.json", _doc({
        "a": {"action": "command", "parameters": {"command": 'echo run >> "$DIR/a.runs"', "env": env}},
        "b": {"action": "command", "dependencies": ["a"], "parameters": {"env": env, "command":
              'echo run >> "$DIR/b.runs"; n=0; while [ ! -f "$DIR/go" ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done'}},
        "c": {"action": "command", "dependencies": ["b"], "parameters": {"command": 'echo run >> "$DIR/c.runs"', "env": env}},
    }))
    created = sh("create", "--quiet", doc)
    instance = created.stdout.strip().splitlines()[-1]
    runner = _spawn(sh, tmp_path, "start", instance, *_dask(dask_cluster))
    try:
        _wait_for(lambda: (marks / "b.runs").exists(), "task b to start on a worker")
    finally:
        _kill_group(runner.pid)
        runner.wait()
    (marks / "go").touch()  # the first attempt of b ends on its worker, its result unclaimed
    result = sh("resume", instance, "--json", *_dask(dask_cluster))
    assert result.exit_code == 0, result
    assert (marks / "a.runs").read_text().count("run") == 1
    assert (marks / "b.runs").read_text().count("run") == 2  # interrupted: run again (at least once)
    assert (marks / "c.runs").read_text().count("run") == 1
    assert result.json()["tasks"]["b"]["attempts"] == 2


def test_cancel_kills_the_process_tree_on_the_worker(dask_cluster: Any, sh: Any, write: Any, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    doc = write("cancel.json", _doc({"long": {"action": "command", "parameters": {
        "env": {"DIR": str(marks)}, "command": 'sleep 120 & echo "$!" > "$DIR/child"; wait'}}}))
    created = sh("create", "--quiet", doc)
    instance = created.stdout.strip().splitlines()[-1]
    runner = _spawn(sh, tmp_path, "start", instance, *_dask(dask_cluster))
    try:
        _wait_for(lambda: (marks / "child").exists() and (marks / "child").read_text().strip() != "", "the task's child process")
        child = int((marks / "child").read_text())
        assert sh("cancel", instance).exit_code == 0
        assert runner.wait(timeout=60) == 7  # cancelled
    finally:
        _kill_group(runner.pid)

    def gone() -> bool:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        return False

    _wait_for(gone, "the sleep on the worker to be killed", timeout=30)


def test_a_timeout_is_enforced_on_the_worker(dask_cluster: Any, sh: Any, write: Any) -> None:
    doc = write("timeout.json", _doc({"slow": _cmd("sleep 60", timeout_seconds=0.5)}))
    result = sh("run", doc, "--json", *_dask(dask_cluster))
    assert result.exit_code == 1, result
    assert result.json()["tasks"]["slow"]["error_kind"] == "timeout"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_scheduler_is_exit_5_and_leaves_the_home_unchanged(sh: Any, write: Any, snapshot_tree: Any) -> None:
    (sh.home / "config.yaml").write_text(f"executor:\n  kind: dask\n  scheduler_address: tcp://127.0.0.1:{_closed_port()}\n"
                                         "  connect_timeout_seconds: 1\n")
    doc = write("one.json", _doc({"a": _cmd("true")}))
    before = snapshot_tree(sh.home)
    result = sh("run", doc)
    assert result.exit_code == 5, result
    assert "tcp://127.0.0.1:" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert snapshot_tree(sh.home) == before
    assert sh("run", doc, "--executor", "local").exit_code == 0  # the command line overrides config.yaml


def test_bad_executor_settings_are_exit_2(sh: Any, write: Any) -> None:
    doc = write("one.json", _doc({"a": _cmd("true")}))
    assert sh("run", doc, "--executor", "spark").exit_code == 2
    assert sh("run", doc, "--executor", "local", "--scheduler-address", "tcp://127.0.0.1:1").exit_code == 2
    assert sh("run", doc, "--executor", "dask", env={"DASK_SCHEDULER_ADDRESS": ""}).exit_code == 2
    misplaced = write("bad-task.json", _doc({"a": _cmd("true", executor="remote", resources={"GPU": -1})}))
    invalid = sh("validate", misplaced)
    assert invalid.exit_code == 2 and "tasks.a.executor" in invalid.stderr + invalid.stdout
    (sh.home / "config.yaml").write_text("executor:\n  kind: dask\n  sheduler_address: tcp://x:1\n")
    bad = sh("run", doc)
    assert bad.exit_code == 2 and "sheduler_address" in bad.stderr


AGENT = ('import json, os, sys, time\n'
         'p = json.load(sys.stdin)\n'
         'lock = os.path.join(os.environ["DIR"], "lock")\n'
         'os.mkdir(lock)  # fails if another call of this agent runs now\n'
         'time.sleep(0.3)\n'
         'os.rmdir(lock)\n'
         'print(json.dumps({"ppid": os.getppid(), "deps": p["dependencies"], "ws": p["workspace"]}))\n')


def test_agent_tasks_run_on_workers_within_the_agents_limit(dask_cluster: Any, sh: Any, write: Any, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    agents = {"probe": {"kind": "command", "command": ["python3", "-c", AGENT], "max_concurrent": 1, "env": {"DIR": str(marks)}}}
    tasks: dict[str, Any] = {"first": _cmd('echo \'{"n": 1}\'')}
    tasks.update({f"ask{i}": {"agent_id": "probe", "dependencies": ["first"]} for i in range(3)})
    doc = write("agents.json", _doc(tasks, agents=agents))
    result = sh("run", doc, "--json", "--max-parallel", "4", *_dask(dask_cluster))
    assert result.exit_code == 0, result
    status = result.json()
    for i in range(3):
        outputs = status["tasks"][f"ask{i}"]["outputs"]
        assert outputs["ppid"] in dask_cluster.worker_pids()  # the agent's process is a worker's child
        assert outputs["deps"] == {"first": {"n": 1}}  # the payload was built in the runner
        assert not outputs["ws"].startswith(str(sh.home))  # the workspace is the worker's scratch folder
    stats = (sh.home / "agents" / "stats.jsonl").read_text().splitlines()
    assert sum(json.loads(line)["agent"] == "probe" for line in stats) == 3
    log = (sh.home / "instances" / status["id"] / "logs" / "ask0.log").read_text()
    assert "agent probe (command)" in log


def test_config_yaml_chooses_dask_in_process_and_detached(dask_cluster: Any, cli: Any, sh: Any, write: Any) -> None:
    (cli.home / "config.yaml").write_text(f"executor:\n  kind: dask\n  scheduler_address: {dask_cluster.address}\n")
    doc = write("where.json", _doc({"a": _cmd('echo "{\\"ppid\\": $PPID}"')}))
    result = cli("run", doc, "--json")  # the CLI in this process: no flag, config.yaml's executor
    assert result.exit_code == 0, result
    assert result.json()["tasks"]["a"]["outputs"]["ppid"] in dask_cluster.worker_pids()
    local = cli("run", doc, "--json", "--executor", "local")
    assert local.exit_code == 0 and local.json()["tasks"]["a"]["outputs"]["ppid"] == os.getpid()
    created = sh("create", "--quiet", doc)
    instance = created.stdout.strip().splitlines()[-1]
    assert sh("start", instance, "--detach").exit_code == 0
    _wait_for(lambda: sh("status", instance, "--json").json()["status"] == "completed", "the detached run to complete")
    assert sh("status", instance, "--json").json()["tasks"]["a"]["outputs"]["ppid"] in dask_cluster.worker_pids()


def test_task_resources_pick_the_worker_that_has_them(dask_cluster: Any, sh: Any, write: Any) -> None:
    gpu = dask_cluster.spawn("worker-gpu", [
        dask_cluster.dask, "worker", dask_cluster.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
        "--host", "127.0.0.1", "--resources", "GPU=1", "--local-directory", str(dask_cluster.root / "scratch")])
    try:
        _wait_for(lambda: gpu.pid in set(dask_cluster.client.run(os.getpid).values()), "the GPU worker to register")
        doc = write("gpu.json", _doc({f"g{i}": _cmd('echo "{\\"ppid\\": $PPID}"', resources={"GPU": 1}) for i in range(3)}))
        result = sh("run", doc, "--json", *_dask(dask_cluster))
        assert result.exit_code == 0, result
        assert {t["outputs"]["ppid"] for t in result.json()["tasks"].values()} == {gpu.pid}
    finally:
        gpu.terminate()
        gpu.wait(timeout=30)


def test_a_shared_workspace_and_a_long_log_cut_on_the_worker(dask_cluster: Any, sh: Any, write: Any, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (sh.home / "config.yaml").write_text(f"executor:\n  kind: dask\n  scheduler_address: {dask_cluster.address}\n"
                                         f"  workspace: {shared}\n")
    chatty = "python3 -c \"import sys; [sys.stdout.write('x' * 1023 + '\\n') for _ in range(9 * 1024)]\""
    doc = write("shared.json", _doc({"here": _cmd('pwd; echo "{\\"ws\\": \\"$WORKFLOW_WORKSPACE\\"}" > "$WORKFLOW_OUTPUT"'),
                                     "chatty": _cmd(chatty)}))
    result = sh("run", doc, "--json")
    assert result.exit_code == 0, result
    status = result.json()
    assert status["tasks"]["here"]["outputs"]["ws"] == str(shared / status["id"])
    assert (shared / status["id"]).is_dir()
    log = sh.home / "instances" / status["id"] / "logs" / "chatty.log"
    text = log.read_text()
    assert "log cut on the worker" in text
    assert 8 * 1024 * 1024 <= log.stat().st_size < 8 * 1024 * 1024 + 4096  # 9 MiB written, 8 MiB kept
    assert text.rstrip().endswith("not parsed as outputs (write them to $WORKFLOW_OUTPUT)")  # the end is kept


def test_cpu_time_and_peak_memory_are_measured_on_the_worker(dask_cluster: Any, sh: Any, write: Any) -> None:
    hungry = f"{sys.executable} -c 'b = bytearray(200 * 2**20)'"
    doc = write("usage.json", _doc({"hungry": _cmd(hungry)}))
    result = sh("run", doc, "--json", *_dask(dask_cluster))
    assert result.exit_code == 0, result
    task = result.json()["tasks"]["hungry"]
    assert task["max_rss_mb"] >= 150 and task["cpu_seconds"] > 0
    done = [e for e in _events(sh.home, result.json()["id"]) if e["type"] == "task.completed"]
    assert done[0]["data"]["max_rss_mb"] == task["max_rss_mb"]
