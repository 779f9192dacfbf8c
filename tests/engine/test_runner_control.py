"""Acting on runs (SPEC 6.6, 7, 8): crash recovery, stop, cancel, retry, rollback, locks, and the CLI exit codes."""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import Any

import pytest

from workflow_cli.errors import ConflictError, NotFoundError

Engine = Any  # the ``engine`` fixture of conftest.py

FIRST_ATTEMPT_HANGS = 'if [ "$WORKFLOW_ATTEMPT" = 1 ]; then echo $$ > hang.pid; exec sleep 30; fi; echo "$WORKFLOW_ATTEMPT" >> ran.txt'


def sh(command: str | list[str], **task: Any) -> dict[str, Any]:
    """A ``command`` task."""
    return {"action": "command", "parameters": {"command": command}, **task}


def kill_pidfile(path: Any) -> None:
    try:
        os.kill(int(path.read_text()), signal.SIGKILL)
    except (OSError, ValueError):
        pass


def fake_crash(engine: Engine, tasks: dict[str, Any], running: str, **top: Any) -> str:
    """An instance whose runner 'died' while ``running`` ran: the events say so, no lock is held."""
    from workflow_cli.clock import SystemClock
    from workflow_cli.engine.journal import Journal

    iid = engine.create(tasks, **top)
    paths = engine.paths(iid)
    journal = Journal(paths, engine.home.checkpoints / iid, engine.state(iid), SystemClock())
    journal.record("workflow.started", {})
    journal.record("task.started", {"task": running, "attempt": 1})
    journal.close()
    return iid


# -- crash recovery ------------------------------------------------------------------------------------------

def test_sigkill_of_the_runner_then_resume_reruns_the_interrupted_task(engine: Engine) -> None:
    from workflow_cli.ops.query import get_status

    iid = engine.create({
        "first": sh("echo once >> first.txt"),
        "hang": sh(FIRST_ATTEMPT_HANGS, dependencies=["first"]),
        "after": sh("true", dependencies=["hang"]),
    })
    proc = engine.cli_popen("start", iid)
    ws = engine.workspace(iid)
    try:
        engine.wait_for(lambda: (ws / "hang.pid").exists() and engine.statuses(iid)["hang"] == "running")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        status = get_status(engine.home, iid)
        assert status["status"] == "running"
        assert status["display_status"] == "running (no runner)"
        shown = json.loads(engine.cli("--json", "status", iid).stdout)
        assert shown["display_status"] == "running (no runner)"
        result = engine.resume(iid)
    finally:
        kill_pidfile(ws / "hang.pid")  # the orphaned first attempt (a session of its own)
    assert result.exit_code == 0
    state = engine.state(iid)
    assert state["tasks"]["hang"]["attempts"] == 2
    assert (ws / "ran.txt").read_text().split() == ["2"]
    assert (ws / "first.txt").read_text().split() == ["once"]  # a logged completion is never redone
    retry = [e for e in engine.events(iid, "task.retrying") if e["data"]["task"] == "hang"]
    assert retry and retry[0]["data"]["kind"] == "interrupted"


def test_on_interrupt_rerun_is_the_default(engine: Engine) -> None:
    iid = fake_crash(engine, {"t": sh("echo $WORKFLOW_ATTEMPT > attempt.txt")}, "t")
    assert engine.resume(iid).exit_code == 0
    assert (engine.workspace(iid) / "attempt.txt").read_text().strip() == "2"


def test_on_interrupt_fail_fails_the_task_without_running_it_again(engine: Engine) -> None:
    iid = fake_crash(engine, {
        "t": sh("touch ran.txt", on_interrupt="fail"),
        "after": sh("true", dependencies=["t"]),
        "cleanup": sh("true", dependencies=["t"], trigger_rule="all_done"),
    }, "t")
    result = engine.resume(iid)
    assert result.exit_code == 1
    state = engine.state(iid)
    assert state["status"] == "failed"
    assert state["tasks"]["t"]["status"] == "failed" and state["tasks"]["t"]["error_kind"] == "interrupted"
    assert state["tasks"]["after"]["status"] == "skipped"
    assert state["tasks"]["cleanup"]["status"] == "completed"
    assert not (engine.workspace(iid) / "ran.txt").exists()


def test_on_interrupt_fail_with_on_failure_continue_lets_the_run_complete(engine: Engine) -> None:
    iid = fake_crash(engine, {"t": sh("touch ran.txt", on_interrupt="fail", on_failure="continue"),
                              "other": sh("true")}, "t")
    result = engine.resume(iid)
    assert result.exit_code == 0
    assert engine.statuses(iid) == {"t": "failed", "other": "completed"}


def test_on_interrupt_pause_asks_a_person_then_resume_runs_it(engine: Engine) -> None:
    iid = fake_crash(engine, {"t": sh("echo $WORKFLOW_ATTEMPT > attempt.txt", on_interrupt="pause"),
                              "after": sh("true", dependencies=["t"])}, "t")
    result = engine.resume(iid)
    assert result.exit_code == 6
    state = engine.state(iid)
    assert state["status"] == "paused"
    assert state["tasks"]["t"]["status"] == "failed" and state["tasks"]["after"]["status"] == "pending"
    assert not (engine.workspace(iid) / "attempt.txt").exists()
    result = engine.resume(iid)  # a person checked it: run it again
    assert result.exit_code == 0
    assert (engine.workspace(iid) / "attempt.txt").read_text().strip() == "2"


def test_stop_of_a_dead_runners_instance_keeps_on_interrupt(engine: Engine) -> None:
    from workflow_cli.ops.control import stop

    iid = fake_crash(engine, {"t": sh("touch ran.txt", on_interrupt="pause")}, "t")
    assert stop(engine.home, iid)["handed_to_runner"] is False
    assert engine.state(iid)["status"] == "paused"
    result = engine.resume(iid)
    assert result.exit_code == 6  # the interrupted attempt still needs a person's look
    assert not (engine.workspace(iid) / "ran.txt").exists()


def test_a_crash_while_failing_still_fails_on_resume(engine: Engine) -> None:
    from workflow_cli.clock import SystemClock
    from workflow_cli.engine.journal import Journal

    iid = engine.create({"bad": sh("exit 1"), "slow": sh("true"), "next": sh("touch ran.txt", dependencies=["slow"])})
    journal = Journal(engine.paths(iid), engine.home.checkpoints / iid, engine.state(iid), SystemClock())
    journal.record("workflow.started", {})
    journal.record("task.started", {"task": "bad", "attempt": 1})
    journal.record("task.started", {"task": "slow", "attempt": 1})
    journal.record("task.failed", {"task": "bad", "attempt": 1, "error": "exit 1", "kind": "error"})
    journal.close()  # the runner died before 'slow' finished
    result = engine.resume(iid)
    assert result.exit_code == 1
    assert engine.statuses(iid)["next"] == "skipped"
    assert not (engine.workspace(iid) / "ran.txt").exists()


# -- stop and cancel ------------------------------------------------------------------------------------------

def test_cli_stop_hands_the_request_to_a_live_runner_which_pauses(engine: Engine) -> None:
    iid = engine.create({"a": sh("touch started; while [ ! -f go ]; do sleep 0.02; done"), "b": sh("true", dependencies=["a"])})
    proc = engine.cli_popen("start", iid)
    ws = engine.workspace(iid)
    engine.wait_for(lambda: (ws / "started").exists())
    stopped = engine.cli("--json", "stop", iid)
    (ws / "go").touch()
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout)["handed_to_runner"] is True  # returned once the runner had taken it
    assert proc.wait(timeout=20) == 6
    assert engine.state(iid)["status"] == "paused"
    assert engine.statuses(iid) == {"a": "completed", "b": "pending"}  # running tasks finish
    assert any(e["data"].get("kind") == "stop" for e in engine.events(iid, "request.received"))
    assert engine.cli("resume", iid).returncode == 0
    assert engine.statuses(iid) == {"a": "completed", "b": "completed"}


def test_stop_force_terminates_running_tasks_which_rerun_on_resume(engine: Engine) -> None:
    from workflow_cli.ops.control import stop

    iid = engine.create({"a": sh(FIRST_ATTEMPT_HANGS), "b": sh("true", dependencies=["a"])})
    thread, box = engine.start_in_thread(iid)
    ws = engine.workspace(iid)
    engine.wait_for(lambda: (ws / "hang.pid").exists())
    assert stop(engine.home, iid, force=True)["handed_to_runner"] is True
    thread.join(20)
    assert box["result"].exit_code == 6
    assert engine.pid_gone(int((ws / "hang.pid").read_text()))
    state = engine.state(iid)
    assert state["status"] == "paused" and state["tasks"]["a"]["status"] == "pending"
    assert engine.resume(iid).exit_code == 0
    assert engine.state(iid)["tasks"]["a"]["attempts"] == 2
    assert (ws / "ran.txt").read_text().split() == ["2"]


def test_cancel_terminates_running_tasks_and_ends_cancelled_with_exit_7(engine: Engine) -> None:
    from workflow_cli.ops.control import cancel

    iid = engine.create({"a": sh(FIRST_ATTEMPT_HANGS), "b": sh("true", dependencies=["a"]), "c": sh("true", dependencies=["a"])})
    thread, box = engine.start_in_thread(iid)
    ws = engine.workspace(iid)
    engine.wait_for(lambda: (ws / "hang.pid").exists())
    assert cancel(engine.home, iid)["handed_to_runner"] is True
    thread.join(20)
    assert box["result"].exit_code == 7
    state = engine.state(iid)
    assert state["status"] == "cancelled"
    assert {t: s["status"] for t, s in state["tasks"].items()} == {"a": "cancelled", "b": "cancelled", "c": "cancelled"}
    assert engine.pid_gone(int((ws / "hang.pid").read_text()))
    with pytest.raises(ConflictError):
        engine.resume(iid)
    assert engine.cli("resume", iid).returncode == 5


def test_stop_and_cancel_without_a_runner_apply_at_once(engine: Engine) -> None:
    from workflow_cli.ops.control import cancel, stop

    iid = engine.create({"a": sh("true")})
    assert stop(engine.home, iid) == {"id": iid, "requested": "stop", "handed_to_runner": False, "status": "paused"}
    with pytest.raises(ConflictError):
        stop(engine.home, iid)  # already paused
    assert cancel(engine.home, iid)["status"] == "cancelled"
    assert engine.state(iid)["tasks"]["a"]["status"] == "cancelled"
    with pytest.raises(ConflictError):
        cancel(engine.home, iid)


def test_a_request_left_when_the_runner_ends_is_applied_by_the_command(engine: Engine) -> None:
    """A runner can end just after a request was posted: the command then applies it itself."""
    from workflow_cli.ops.control import cancel
    from workflow_cli.store.locks import InstanceLock

    iid = engine.create({"a": sh("true")})
    lock = InstanceLock(engine.paths(iid).lock)
    assert lock.acquire()  # a 'runner' that will never read its requests
    threading.Timer(0.3, lock.release).start()
    result = cancel(engine.home, iid)
    assert result["handed_to_runner"] is False and result["status"] == "cancelled"
    assert not list(engine.paths(iid).requests.iterdir())


# -- the lock ----------------------------------------------------------------------------------------------------

def test_commands_that_need_the_instance_get_exit_5_while_a_live_runner_holds_it(engine: Engine) -> None:
    from workflow_cli.ops.control import cancel, rollback

    iid = engine.create({"a": sh(FIRST_ATTEMPT_HANGS)})
    thread, box = engine.start_in_thread(iid)
    ws = engine.workspace(iid)
    engine.wait_for(lambda: (ws / "hang.pid").exists())
    try:
        with pytest.raises(ConflictError):
            engine.start(iid)
        with pytest.raises(ConflictError):
            engine.resume(iid)
        with pytest.raises(ConflictError):
            rollback(engine.home, iid)
        assert engine.cli("start", iid).returncode == 5
        assert engine.cli("resume", iid).returncode == 5
        assert engine.cli("status", iid).returncode == 0
        assert json.loads(engine.cli("--json", "status", iid).stdout)["display_status"] == "running"
    finally:
        cancel(engine.home, iid)
        thread.join(20)
    assert box["result"].exit_code == 7


# -- retry -------------------------------------------------------------------------------------------------------

def test_retry_resets_failed_tasks_and_blocked_downstream(engine: Engine) -> None:
    flag = engine.tmp / "fixed"
    iid, result = engine.run({
        "ok": sh('echo "v=1" > "$WORKFLOW_OUTPUT"'),
        "bad": sh(f"touch bad.ran; test -f {flag}", dependencies=["ok"]),
        "child": sh("true", dependencies=["bad"]),
        "grandchild": sh("true", dependencies=["child"]),
        "independent": sh("until grep '\"type\":\"task.failed\"' \"$WORKFLOW_WORKSPACE/../events.jsonl\" 2>/dev/null | grep -q '\"task\":\"bad\"'; do sleep 0.01; done"),  # runs until bad's failure is recorded
        "after_independent": sh("true", dependencies=["independent"]),
    })
    assert result.exit_code == 1
    assert engine.statuses(iid)["after_independent"] == "skipped"  # aborted by the failure
    flag.touch()
    result = engine.retry(iid)
    assert result.exit_code == 0
    state = engine.state(iid)
    assert all(ts["status"] == "completed" for ts in state["tasks"].values())
    assert state["tasks"]["bad"]["attempts"] == 2
    assert state["tasks"]["ok"]["attempts"] == 1 and state["tasks"]["ok"]["outputs"] == {"v": "1"}


def test_retry_named_task_with_downstream(engine: Engine) -> None:
    iid, result = engine.run({
        "x": sh('echo "n=$WORKFLOW_ATTEMPT" > "$WORKFLOW_OUTPUT"'),
        "y": sh('echo "n=$WORKFLOW_ATTEMPT" > "$WORKFLOW_OUTPUT"', dependencies=["x"]),
        "z": sh('echo "n=$WORKFLOW_ATTEMPT" > "$WORKFLOW_OUTPUT"', dependencies=["y"]),
        "w": sh("true", dependencies=["x"]),
    })
    assert result.exit_code == 0
    result = engine.retry(iid, tasks=["y"])
    assert result.exit_code == 0
    attempts = {t: ts["attempts"] for t, ts in engine.state(iid)["tasks"].items()}
    assert attempts == {"x": 1, "y": 2, "z": 1, "w": 1}
    result = engine.retry(iid, tasks=["y"], downstream=True)
    assert result.exit_code == 0
    state = engine.state(iid)
    assert {t: ts["attempts"] for t, ts in state["tasks"].items()} == {"x": 1, "y": 3, "z": 2, "w": 1}
    assert state["tasks"]["z"]["outputs"] == {"n": "2"} and state["tasks"]["x"]["outputs"] == {"n": "1"}


def test_retry_of_one_task_leaves_another_failure_failing(engine: Engine) -> None:
    iid, result = engine.run({"bad1": sh("exit 1"), "bad2": sh("exit 1")})
    assert result.exit_code == 1
    result = engine.retry(iid, tasks=["bad1"])
    assert result.exit_code == 1
    assert engine.state(iid)["status"] == "failed"


def test_retry_refuses_unknown_tasks_and_nothing_to_do(engine: Engine) -> None:
    iid, _ = engine.run({"a": sh("true")})
    with pytest.raises(NotFoundError):
        engine.retry(iid, tasks=["nope"])
    with pytest.raises(ConflictError):
        engine.retry(iid)
    assert engine.cli("retry", iid).returncode == 5


# -- checkpoints and rollback -----------------------------------------------------------------------------------

def chain_with_compensation() -> dict[str, Any]:
    tasks: dict[str, Any] = {}
    previous: list[str] = []
    for i, tid in enumerate(["a", "b", "c", "d"], start=1):
        tasks[tid] = sh(f'echo do-{tid} >> log.txt; echo "n={i}" > "$WORKFLOW_OUTPUT"', dependencies=previous,
                        set_vars={"step": f"{i}"},
                        compensate={"action": "command", "parameters": {"command": f"echo undo-{tid} >> log.txt"}})
        previous = [tid]
    return tasks


def test_checkpoints_are_listed_in_order(engine: Engine) -> None:
    from workflow_cli.ops.control import list_checkpoints

    iid, _ = engine.run(chain_with_compensation())
    rows = list_checkpoints(engine.home, iid)
    assert [(r["id"], r["task"]) for r in rows] == [("cp-0001", "a"), ("cp-0002", "b"), ("cp-0003", "c"), ("cp-0004", "d")]
    shown = json.loads(engine.cli("--json", "checkpoints", iid).stdout)
    assert [r["id"] for r in shown] == ["cp-0001", "cp-0002", "cp-0003", "cp-0004"]


def test_rollback_to_a_checkpoint_compensates_later_tasks_newest_first(engine: Engine) -> None:
    from workflow_cli.ops.control import list_checkpoints, rollback

    iid, _ = engine.run(chain_with_compensation(), variables={"step": 0})
    assert engine.state(iid)["vars"]["step"] == 4
    result = rollback(engine.home, iid, checkpoint="cp-0002")
    assert [c["task"] for c in result["compensated"]] == ["d", "c"]
    assert all(c["ok"] for c in result["compensated"])
    ws = engine.workspace(iid)
    assert (ws / "log.txt").read_text().split() == ["do-a", "do-b", "do-c", "do-d", "undo-d", "undo-c"]
    state = engine.state(iid)
    assert state["status"] == "paused"
    assert {t: ts["status"] for t, ts in state["tasks"].items()} == {"a": "completed", "b": "completed", "c": "pending", "d": "pending"}
    assert state["tasks"]["c"]["outputs"] == {} and state["tasks"]["b"]["outputs"] == {"n": "2"}
    assert state["vars"]["step"] == 2
    assert [cp["id"] for cp in list_checkpoints(engine.home, iid)] == ["cp-0001", "cp-0002"]
    types = [e["type"] for e in engine.events(iid)]
    assert "rollback.started" in types and "rollback.completed" in types
    result = engine.resume(iid)
    assert result.exit_code == 0
    state = engine.state(iid)
    # the rolled-back attempt of c is gone (SPEC 7.3): its run after the rollback is attempt 1 again
    assert state["tasks"]["c"]["attempts"] == 1 and state["tasks"]["a"]["attempts"] == 1
    assert state["vars"]["step"] == 4
    ids = [cp["id"] for cp in list_checkpoints(engine.home, iid)]
    assert len(ids) == len(set(ids)) == 4 and ids[:2] == ["cp-0001", "cp-0002"]


def test_rollback_cli_with_resume_continues_at_once(engine: Engine) -> None:
    iid, _ = engine.run(chain_with_compensation())
    out = engine.cli("rollback", iid, "--checkpoint", "cp-0003", "--resume")
    assert out.returncode == 0, out.stderr
    state = engine.state(iid)
    assert state["status"] == "completed" and state["tasks"]["d"]["attempts"] == 1  # its rolled-back attempt is gone
    assert (engine.workspace(iid) / "log.txt").read_text().split()[-3:] == ["do-d", "undo-d", "do-d"]


def test_rollback_default_is_the_latest_checkpoint_and_unknown_ones_are_not_found(engine: Engine) -> None:
    from workflow_cli.ops.control import rollback

    iid, _ = engine.run(chain_with_compensation())
    with pytest.raises(NotFoundError):
        rollback(engine.home, iid, checkpoint="cp-0099")
    assert engine.cli("rollback", iid, "--checkpoint", "cp-0099").returncode == 4
    result = rollback(engine.home, iid)
    assert result["checkpoint"] == "cp-0004" and result["compensated"] == []
    result = rollback(engine.home, iid, checkpoint="start")
    assert [c["task"] for c in result["compensated"]] == ["d", "c", "b", "a"]


# -- the CLI: exit codes, dry run, events ----------------------------------------------------------------------------

def write_doc(engine: Engine, name: str, tasks: dict[str, Any], **top: Any) -> str:
    path = engine.tmp / f"{name}.json"
    path.write_text(json.dumps({"version": "2.0.0", "name": name, **top, "tasks": tasks}))
    return str(path)


@pytest.mark.parametrize(
    ("tasks", "top", "code"),
    [
        ({"a": sh("true")}, {}, 0),
        ({"a": sh("exit 1")}, {}, 1),
        ({"a": sh("exit 1", on_failure="pause")}, {}, 6),
        ({"a": sh("sleep 20")}, {"timeout_seconds": 0.3}, 8),
    ],
)
def test_run_exit_codes(engine: Engine, tasks: dict[str, Any], top: dict[str, Any], code: int) -> None:
    out = engine.cli("run", write_doc(engine, "codes", tasks, **top))
    assert out.returncode == code, out.stderr
    assert "Traceback" not in out.stderr


def test_run_dry_run_runs_nothing(engine: Engine) -> None:
    marker = engine.tmp / "ran"
    path = write_doc(engine, "dry", {"a": sh(f"touch {marker}"), "b": sh("true", dependencies=["a"])})
    out = engine.cli("--json", "run", path, "--dry-run")
    assert out.returncode == 0, out.stderr
    plan = json.loads(out.stdout)
    assert [s["task"] for s in plan["steps"]] == ["a", "b"]
    assert not marker.exists()
    assert not any(engine.home.instances.iterdir())


def test_events_file_gets_json_lines_with_sequence_numbers(engine: Engine) -> None:
    events_file = engine.tmp / "events.jsonl"
    path = write_doc(engine, "ev", {"a": sh("true"), "b": sh("exit 1", dependencies=["a"])})
    out = engine.cli("run", path, "--events", str(events_file))
    assert out.returncode == 1
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    types = [e["type"] for e in events]
    # run streams every event of the new instance, its creation included
    assert types[:2] == ["workflow.created", "workflow.started"] and types[-1] == "workflow.failed"
    assert seqs[0] == 1
    assert {"task.started", "task.completed", "task.failed", "checkpoint.created"} <= set(types)


def test_json_output_of_run_is_the_final_status_document(engine: Engine) -> None:
    out = engine.cli("--json", "run", write_doc(engine, "js", {"a": sh('echo "k=v" > "$WORKFLOW_OUTPUT"')}))
    assert out.returncode == 0
    doc = json.loads(out.stdout)
    assert doc["status"] == "completed" and doc["tasks"]["a"]["outputs"] == {"k": "v"}
    assert doc["id"] in out.stderr  # the id is shown at once, before the run ends


def test_checkpoint_keeps_the_variables_of_its_moment_within_one_batch(engine: Engine) -> None:
    """Noop tasks complete inline and share one fsync: each checkpoint must still hold its own variables."""
    from workflow_cli.ops.control import rollback

    iid, _ = engine.run({
        "a": {"action": "noop", "set_vars": {"x": "1"}},
        "b": {"action": "noop", "dependencies": ["a"], "set_vars": {"x": "2"}},
        "c": {"action": "noop", "dependencies": ["b"], "set_vars": {"x": "3"}},
    }, variables={"x": 0})
    rollback(engine.home, iid, checkpoint="cp-0001")
    assert engine.state(iid)["vars"] == {"x": 1}


def test_an_interrupted_rollback_is_finished_by_running_it_again(engine: Engine) -> None:
    from workflow_cli.clock import SystemClock
    from workflow_cli.engine.journal import Journal
    from workflow_cli.ops.control import rollback

    iid, _ = engine.run(chain_with_compensation(), variables={"step": 0})
    # a rollback to cp-0002 that died after undoing d
    journal = Journal(engine.paths(iid), engine.home.checkpoints / iid, engine.state(iid), SystemClock())
    journal.record("rollback.started", {"checkpoint": "cp-0002", "tasks": ["d", "c"], "reason": "test"})
    journal.record("rollback.task", {"task": "d", "ok": True, "error": None})
    journal.record("task.reset", {"task": "d", "reason": "rollback"})
    journal.close()
    result = rollback(engine.home, iid)  # no --checkpoint: the open rollback's own one
    assert result["checkpoint"] == "cp-0002"
    assert [c["task"] for c in result["compensated"]] == ["c"]  # d is not compensated twice
    assert (engine.workspace(iid) / "log.txt").read_text().split()[-1] == "undo-c"
    state = engine.state(iid)
    assert state["vars"]["step"] == 2 and state["rollback"] is None
    assert {t: ts["status"] for t, ts in state["tasks"].items()} == {"a": "completed", "b": "completed", "c": "pending", "d": "pending"}


def test_a_failed_compensation_is_reported_and_the_rollback_goes_on(engine: Engine) -> None:
    from workflow_cli.ops.control import rollback

    tasks = chain_with_compensation()
    tasks["c"]["compensate"] = {"action": "command", "parameters": {"command": "exit 4"}}
    iid, _ = engine.run(tasks)
    result = rollback(engine.home, iid, checkpoint="cp-0001")
    assert [(c["task"], c["ok"]) for c in result["compensated"]] == [("d", True), ("c", False), ("b", True)]
    assert engine.state(iid)["status"] == "paused"


def test_an_instance_stopped_before_it_ran_gets_a_start_time_when_it_runs(engine: Engine) -> None:
    from workflow_cli.ops.control import stop

    iid = engine.create({"a": sh("true")})
    stop(engine.home, iid)
    assert engine.state(iid)["started_at"] is None
    assert engine.start(iid).exit_code == 0
    assert engine.state(iid)["started_at"]
