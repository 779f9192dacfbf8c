"""Real runs in a temporary home (SPEC 6.2, 6.4, 8): outputs, environment, retries, timeouts, failure policies.

Runs go through ``ops.create`` and ``ops.run`` like the CLI does; delays are tested with a FakeClock.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

Engine = Any  # the ``engine`` fixture of conftest.py


def sh(command: str | list[str], **task: Any) -> dict[str, Any]:
    """A ``command`` task."""
    return {"action": "command", "parameters": {"command": command}, **task}

COUNTER = 'n=$(cat {f} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {f}; '


def fails_first(times: int = 1, name: str = "count", code: int = 1) -> str:
    """A shell line that fails its first ``times`` runs (counted in a workspace file), then succeeds."""
    return COUNTER.format(f=name) + f'if [ $n -le {times} ]; then echo "attempt $n fails" >&2; exit {code}; fi; echo ok'


# -- outputs and expressions ----------------------------------------------------------------------------

def test_outputs_from_workflow_output_and_json_stdout_reach_downstream_expressions(engine: Engine) -> None:
    iid, result = engine.run({
        "kv": sh('echo "region=eu-west" >> "$WORKFLOW_OUTPUT"; echo "count = 3" >> "$WORKFLOW_OUTPUT"; echo noise'),
        "js": sh('echo \'{"items": [1, 2, 3], "ok": true}\''),
        "file_json": sh('echo \'{"size": 7}\' > "$WORKFLOW_OUTPUT"'),
        "use": sh('echo {{ tasks.kv.outputs.region }}-{{ tasks.js.outputs["items"] | length }}-{{ tasks.file_json.outputs.size }}'
                  ' > used.txt', dependencies=["kv", "js", "file_json"]),
        "noop_out": {"action": "noop", "parameters": {"outputs": {"n": "{{ tasks.js.outputs.items[2] }}"}},
                     "dependencies": ["js"]},
    })
    assert result.exit_code == 0
    tasks = result.status["tasks"]
    assert tasks["kv"]["outputs"] == {"region": "eu-west", "count": "3"}
    assert tasks["js"]["outputs"] == {"items": [1, 2, 3], "ok": True}
    assert tasks["file_json"]["outputs"] == {"size": 7}
    assert (engine.workspace(iid) / "used.txt").read_text().strip() == "eu-west-3-7"
    assert tasks["noop_out"]["outputs"] == {"n": 3}


def test_plain_stdout_gives_empty_outputs_and_a_non_object_json_is_wrapped(engine: Engine) -> None:
    _, result = engine.run({"text": sh("echo hello world"), "num": sh("echo 42")})
    assert result.status["tasks"]["text"]["outputs"] == {}
    assert result.status["tasks"]["num"]["outputs"] == {"result": 42}


def test_task_environment(engine: Engine) -> None:
    iid, result = engine.run({
        "env": sh('env | grep "^WORKFLOW_" | sort > env.txt; pwd > pwd.txt', parameters={
            "command": 'env | grep "^WORKFLOW_" | sort > env.txt; pwd > pwd.txt; echo "$EXTRA" > extra.txt',
            "env": {"EXTRA": "given"}}),
    })
    assert result.exit_code == 0
    ws = engine.workspace(iid)
    env = dict(line.split("=", 1) for line in (ws / "env.txt").read_text().splitlines())
    assert env["WORKFLOW_INSTANCE_ID"] == iid
    assert env["WORKFLOW_TASK_ID"] == "env"
    assert env["WORKFLOW_ATTEMPT"] == "1"
    assert iid in env["WORKFLOW_IDEMPOTENCY_KEY"] and "env" in env["WORKFLOW_IDEMPOTENCY_KEY"]
    assert Path(env["WORKFLOW_WORKSPACE"]).resolve() == engine.paths(iid).workspace.resolve()
    assert "WORKFLOW_OUTPUT" in env
    assert Path((ws / "pwd.txt").read_text().strip()).resolve() == ws.resolve()
    assert (ws / "extra.txt").read_text().strip() == "given"


def test_idempotency_key_is_stable_across_attempts(engine: Engine) -> None:
    iid, result = engine.run({"t": sh('echo "$WORKFLOW_ATTEMPT $WORKFLOW_IDEMPOTENCY_KEY" >> keys.txt; '
                                     + fails_first(1), retry_count=1)})
    assert result.exit_code == 0
    lines = (engine.workspace(iid) / "keys.txt").read_text().split("\n")
    (a1, k1), (a2, k2) = (line.split() for line in lines if line)
    assert (a1, a2) == ("1", "2") and k1 == k2


def test_outputs_over_one_mib_are_refused(engine: Engine) -> None:
    big = "head -c 1100000 /dev/zero | tr '\\0' 'x' | sed 's/^/blob=/' > \"$WORKFLOW_OUTPUT\""
    _, result = engine.run({"big": sh(big), "after": {"action": "noop", "dependencies": ["big"]}})
    assert result.exit_code == 1
    big_state = result.status["tasks"]["big"]
    assert big_state["status"] == "failed" and big_state["error_kind"] == "output"
    assert "MiB" in big_state["error"]
    assert result.status["tasks"]["after"]["status"] == "skipped"


def test_outputs_just_under_the_cap_are_kept(engine: Engine) -> None:
    ok = "head -c 1000000 /dev/zero | tr '\\0' 'x' | sed 's/^/blob=/' > \"$WORKFLOW_OUTPUT\""
    _, result = engine.run({"ok": sh(ok)})
    assert result.exit_code == 0
    assert len(result.status["tasks"]["ok"]["outputs"]["blob"]) == 1000000


# -- commands: argv, shell quoting ------------------------------------------------------------------------

def test_argv_command_never_goes_through_a_shell(engine: Engine) -> None:
    iid, result = engine.run({"argv": sh(["sh", "-c", 'printf "%s" "$1" > arg.txt', "x", "$(touch pwned); `touch pwned2` ; *"])})
    assert result.exit_code == 0
    ws = engine.workspace(iid)
    assert (ws / "arg.txt").read_text() == "$(touch pwned); `touch pwned2` ; *"
    assert not (ws / "pwned").exists() and not (ws / "pwned2").exists()


def test_parameter_with_shell_syntax_is_quoted_in_a_command_string(engine: Engine, tmp_path: Path) -> None:
    from workflow_cli.ops.create import create_instance
    from workflow_cli.ops.run import start

    path = tmp_path / "quoted.json"
    path.write_text(json.dumps({
        "version": "2.0.0", "name": "q", "parameters": {"who": {"type": "string"}},
        "tasks": {
            "a": sh("echo {{ params.who }} > who.txt"),
            "b": sh('echo "$(cat who.txt)" > out.txt; echo {{ tasks.a.status }} {{ params.who }} > b.txt', dependencies=["a"]),
        },
    }))
    evil = "$(touch pwned); rm -rf nothing `touch pwned2` 'quote\""
    created = create_instance(engine.home, str(path), cli_pairs=[f"who={evil}"])
    result = start(engine.home, created.id)
    assert result.exit_code == 0
    ws = engine.workspace(created.id)
    assert (ws / "who.txt").read_text().strip() == evil
    assert (ws / "b.txt").read_text().strip() == f"completed {evil}"
    assert not (ws / "pwned").exists() and not (ws / "pwned2").exists()


def test_shell_false_splits_without_a_shell(engine: Engine) -> None:
    iid, result = engine.run({"t": {"action": "command", "parameters": {
        "command": "touch 'a b' $(nothing)", "shell": False}}})
    assert result.exit_code == 0
    assert {p.name for p in engine.workspace(iid).iterdir()} >= {"a b", "$(nothing)"}


# -- python actions -------------------------------------------------------------------------------------

@pytest.fixture
def py_module(engine: Engine) -> str:
    (engine.tmp / "wfmod_engine.py").write_text(textwrap.dedent('''
        import os

        def add(a, b):
            return {"sum": a + b, "pid": os.getpid()}

        def with_ctx(ctx, word):
            ctx.log("hello from " + ctx.task_id)
            return [word, ctx.attempt]

        def boom():
            raise ValueError("bad input")

        def sleepy(seconds):
            import time
            time.sleep(seconds)
            return {}
    '''))
    return "wfmod_engine"


def test_python_in_process_and_isolated(engine: Engine, py_module: str) -> None:
    iid, result = engine.run({
        "inproc": {"action": "python", "parameters": {"callable": f"{py_module}:add", "args": [2, 3]}},
        "iso": {"action": "python", "parameters": {"callable": f"{py_module}:add", "kwargs": {"a": 1, "b": 1}, "isolated": True}},
        "ctx": {"action": "python", "parameters": {"callable": f"{py_module}:with_ctx", "kwargs": {"word": "{{ tasks.inproc.outputs.sum }}"}},
                "dependencies": ["inproc"]},
    })
    assert result.exit_code == 0, result.status
    tasks = result.status["tasks"]
    assert tasks["inproc"]["outputs"]["sum"] == 5
    assert tasks["inproc"]["outputs"]["pid"] == os.getpid()
    assert tasks["iso"]["outputs"]["sum"] == 2
    assert tasks["iso"]["outputs"]["pid"] != os.getpid()
    assert tasks["ctx"]["outputs"] == {"result": [5, 1]}
    assert "hello from ctx" in engine.log(iid, "ctx")


def test_python_exception_fails_the_task_with_its_message(engine: Engine, py_module: str) -> None:
    iid, result = engine.run({"bad": {"action": "python", "parameters": {"callable": f"{py_module}:boom"}}})
    assert result.exit_code == 1
    assert "bad input" in result.status["tasks"]["bad"]["error"]
    assert "Traceback" in engine.log(iid, "bad")


def test_isolated_python_times_out_as_kind_timeout(engine: Engine, py_module: str) -> None:
    _, result = engine.run({"slow": {"action": "python", "timeout_seconds": 0.3,
                                     "parameters": {"callable": f"{py_module}:sleepy", "args": [20], "isolated": True}}})
    assert result.exit_code == 1
    assert result.status["tasks"]["slow"]["error_kind"] == "timeout"


# -- retries --------------------------------------------------------------------------------------------------

def test_retries_then_success_with_retrying_events(engine: Engine) -> None:
    iid, result = engine.run({"flaky": sh(fails_first(2), retry={"max_attempts": 3, "delay_seconds": 0.05})})
    assert result.exit_code == 0
    flaky = result.status["tasks"]["flaky"]
    assert flaky["status"] == "completed" and flaky["attempts"] == 3
    retrying = engine.events(iid, "task.retrying")
    assert [e["data"]["attempt"] for e in retrying] == [1, 2]
    assert all(e["data"]["kind"] == "error" and e["data"]["exit_code"] == 1 for e in retrying)
    assert all(e["data"]["due"] for e in retrying)
    history = engine.state(iid)["tasks"]["flaky"]["history"]
    assert [h["status"] for h in history] == ["failed", "failed", "completed"]


def test_retries_exhausted_fail_the_task(engine: Engine) -> None:
    iid, result = engine.run({"bad": sh("exit 3", retry_count=2)})
    assert result.exit_code == 1
    assert result.status["tasks"]["bad"]["attempts"] == 3
    assert result.status["tasks"]["bad"]["exit_code"] == 3
    assert len(engine.events(iid, "task.retrying")) == 2
    assert len(engine.events(iid, "task.failed")) == 1


def test_exit_codes_filter_which_failures_are_retried(engine: Engine) -> None:
    _, result = engine.run({
        "retried": sh(fails_first(1, "c1", code=75), retry={"max_attempts": 3, "exit_codes": [75]}),
        "not_retried": sh(fails_first(1, "c2", code=1), retry={"max_attempts": 3, "exit_codes": [75]}),
    })
    tasks = result.status["tasks"]
    assert tasks["retried"]["status"] == "completed" and tasks["retried"]["attempts"] == 2
    assert tasks["not_retried"]["status"] == "failed" and tasks["not_retried"]["attempts"] == 1


def test_retry_on_timeout_only_does_not_retry_errors(engine: Engine) -> None:
    _, result = engine.run({"t": sh("exit 1", retry={"max_attempts": 3, "retry_on": ["timeout"]})})
    assert result.status["tasks"]["t"]["attempts"] == 1


def test_retry_delays_follow_the_backoff_on_a_fake_clock(engine: Engine) -> None:
    from workflow_cli.clock import FakeClock, parse_iso
    from workflow_cli.engine.runner import RunOptions, Runner

    iid = engine.create({"t": sh(fails_first(3), retry={"max_attempts": 4, "delay_seconds": 10, "backoff_factor": 3})})
    clock = FakeClock()
    t0 = clock.time()
    outcome = Runner(engine.home, engine.paths(iid), clock=clock, options=RunOptions(wait_threshold=600)).run()
    assert outcome.state["status"] == "completed"
    started = [parse_iso(e["time"]) - t0 for e in engine.events(iid, "task.started")]
    delays = [round(b - a) for a, b in zip(started, started[1:])]
    assert delays == [10, 30, 90]  # 10 x 3^(n-1), with no real waiting
    assert [e["data"]["delay_seconds"] for e in engine.events(iid, "task.retrying")] == [10, 30, 90]


def test_retry_delay_capped_by_max_delay_on_a_fake_clock(engine: Engine) -> None:
    from workflow_cli.clock import FakeClock
    from workflow_cli.engine.runner import Runner

    iid = engine.create({"t": sh(fails_first(3), retry={"max_attempts": 4, "delay_seconds": 10, "max_delay_seconds": 15})})
    Runner(engine.home, engine.paths(iid), clock=FakeClock()).run()
    assert [e["data"]["delay_seconds"] for e in engine.events(iid, "task.retrying")] == [10, 15, 15]


def test_a_long_retry_delay_ends_the_run_waiting_and_resume_continues(engine: Engine) -> None:
    from workflow_cli.clock import FakeClock
    from workflow_cli.engine.runner import RunOptions, Runner
    from workflow_cli.ops.run import exit_code_for

    iid = engine.create({"t": sh(fails_first(1), retry={"max_attempts": 2, "delay_seconds": 3600})})
    clock = FakeClock()
    outcome = Runner(engine.home, engine.paths(iid), clock=clock).run()
    assert outcome.state["status"] == "waiting"
    assert exit_code_for(outcome.state) == 3
    assert outcome.state["tasks"]["t"]["next_attempt_at"]
    clock.advance(3600)
    outcome = Runner(engine.home, engine.paths(iid), clock=clock, options=RunOptions()).run()
    assert outcome.state["status"] == "completed"
    assert outcome.state["tasks"]["t"]["attempts"] == 2


def test_other_tasks_run_while_one_waits_for_its_retry(engine: Engine) -> None:
    from workflow_cli.clock import FakeClock
    from workflow_cli.engine.runner import Runner

    iid = engine.create({
        "flaky": sh(fails_first(1), retry={"max_attempts": 2, "delay_seconds": 30}),
        "other": sh("echo other"),
    }, max_parallel=1)
    Runner(engine.home, engine.paths(iid), clock=FakeClock()).run()
    order = [(e["data"]["task"], e["data"]["attempt"]) for e in engine.events(iid, "task.started")]
    assert order == [("flaky", 1), ("other", 1), ("flaky", 2)]


# -- timeouts and the deadline -----------------------------------------------------------------------------

def test_attempt_timeout_kills_the_whole_process_tree(engine: Engine) -> None:
    # the task ignores SIGTERM and leaves a grandchild in a session of its own
    script = ("trap '' TERM; setsid sh -c 'echo $$ > gc.pid; trap \"\" TERM; exec sleep 30' & "
              "echo $$ > task.pid; while [ ! -s gc.pid ]; do sleep 0.01; done; sleep 30")
    iid, result = engine.run({"slow": sh(script, timeout_seconds=0.5)})
    assert result.exit_code == 1
    slow = result.status["tasks"]["slow"]
    assert slow["status"] == "failed" and slow["error_kind"] == "timeout"
    ws = engine.workspace(iid)
    assert engine.pid_gone(int((ws / "task.pid").read_text()))
    assert engine.pid_gone(int((ws / "gc.pid").read_text()))


def test_timeout_is_retried_as_kind_timeout(engine: Engine) -> None:
    iid, result = engine.run({"t": sh('if [ "$WORKFLOW_ATTEMPT" = 1 ]; then sleep 20; fi', timeout_seconds=0.3, retry_count=1)})
    assert result.exit_code == 0
    assert engine.events(iid, "task.retrying")[0]["data"]["kind"] == "timeout"


def test_workflow_deadline_fails_the_instance_with_exit_8(engine: Engine) -> None:
    iid, result = engine.run({"slow": sh("sleep 20"), "after": sh("true", dependencies=["slow"])}, timeout_seconds=0.4)
    assert result.exit_code == 8
    state = engine.state(iid)
    assert state["status"] == "failed" and state["error_kind"] == "deadline"
    assert state["tasks"]["slow"]["status"] in ("cancelled", "failed")
    assert state["tasks"]["after"]["status"] in ("cancelled", "skipped")


# -- failure policies ------------------------------------------------------------------------------------------

def test_default_fail_skips_dependents_aborts_others_and_fails_the_instance(engine: Engine) -> None:
    iid, result = engine.run({
        "bad": sh("touch bad.ran; exit 2"),
        "slow": sh("until grep '\"type\":\"task.failed\"' \"$WORKFLOW_WORKSPACE/../events.jsonl\" 2>/dev/null | grep -q '\"task\":\"bad\"'; do sleep 0.01; done"),  # runs until bad's failure is recorded
        "child": sh("true", dependencies=["bad"]),
        "later": sh("true", dependencies=["slow"]),
        "cleanup": sh("echo cleaned > cleanup.txt", dependencies=["bad", "slow"], trigger_rule="all_done"),
        "notify": sh("true", dependencies=["bad"], trigger_rule="one_failed"),
    })
    assert result.exit_code == 1
    s = engine.statuses(iid)
    assert s["bad"] == "failed" and s["slow"] == "completed"  # running tasks finish
    assert s["child"] == "skipped" and s["later"] == "skipped"
    assert s["cleanup"] == "completed" and s["notify"] == "completed"
    assert engine.state(iid)["status"] == "failed"
    assert engine.events(iid, "workflow.failed")[0]["data"]["task"] == "bad"


def test_on_failure_skip_and_continue_let_the_workflow_complete(engine: Engine) -> None:
    iid, result = engine.run({
        "skipper": sh("exit 1", on_failure="skip"),
        "after_skip": sh("true", dependencies=["skipper"]),
        "lenient": sh("true", dependencies=["skipper"], trigger_rule="none_failed"),
        "continuer": sh("exit 1", on_failure="continue"),
        "after_continue": sh("true", dependencies=["continuer"]),
        "cleanup": sh("true", dependencies=["continuer"], trigger_rule="all_done"),
        "independent": sh("true"),
    })
    s = engine.statuses(iid)
    assert s["skipper"] == "failed" and s["continuer"] == "failed"
    assert s["after_skip"] == "skipped" and s["lenient"] == "completed"
    assert s["after_continue"] == "skipped" and s["cleanup"] == "completed"
    assert s["independent"] == "completed"
    assert result.exit_code == 0 and engine.state(iid)["status"] == "completed"


def test_task_on_failure_pause_pauses_with_exit_6_and_resume_reruns_it(engine: Engine) -> None:
    iid, result = engine.run({
        "flaky": sh(fails_first(1), on_failure="pause"),
        "next": sh("true", dependencies=["flaky"]),
        "cleanup": sh("true", dependencies=["flaky"], trigger_rule="all_done"),
    })
    assert result.exit_code == 6
    assert engine.state(iid)["status"] == "paused"
    s = engine.statuses(iid)
    assert s["flaky"] == "failed" and s["next"] == "pending"
    assert s["cleanup"] == "pending"  # a paused run is not over: cleanup waits for the end
    result = engine.resume(iid)
    assert result.exit_code == 0
    assert engine.statuses(iid) == {"flaky": "completed", "next": "completed", "cleanup": "completed"}
    assert engine.state(iid)["tasks"]["flaky"]["attempts"] == 2


COMPENSATED = {"a": "a", "b": "b", "c": "c"}


def saga_tasks(fail_policy: str | None = None) -> dict[str, Any]:
    def comp(tid: str) -> dict[str, Any]:
        return {"action": "command", "parameters": {"command": f"echo undo-{tid} >> undo.txt"}}

    bad: dict[str, Any] = sh("exit 1", dependencies=["c"])
    if fail_policy:
        bad["on_failure"] = fail_policy
    return {
        "a": sh("echo do-a >> do.txt", compensate=comp("a")),
        "b": sh("echo do-b >> do.txt", dependencies=["a"], compensate=comp("b")),
        "no_comp": sh("true", dependencies=["b"]),
        "c": sh("echo do-c >> do.txt", dependencies=["no_comp"], compensate=comp("c")),
        "bad": bad,
    }


def test_task_on_failure_rollback_compensates_newest_first_then_fails(engine: Engine) -> None:
    iid, result = engine.run(saga_tasks("rollback"))
    assert result.exit_code == 1
    assert (engine.workspace(iid) / "undo.txt").read_text().split() == ["undo-c", "undo-b", "undo-a"]
    state = engine.state(iid)
    assert state["status"] == "failed"
    types = [e["type"] for e in engine.events(iid)]
    assert types.index("rollback.started") < types.index("rollback.completed") < types.index("workflow.failed")
    assert "--- compensating c ---" in engine.log(iid, "c")


def test_workflow_on_failure_rollback(engine: Engine) -> None:
    iid, result = engine.run(saga_tasks(), on_failure="rollback")
    assert result.exit_code == 1
    assert (engine.workspace(iid) / "undo.txt").read_text().split() == ["undo-c", "undo-b", "undo-a"]


def test_workflow_on_failure_fail_runs_no_compensation(engine: Engine) -> None:
    iid, result = engine.run(saga_tasks(), on_failure="fail")
    assert result.exit_code == 1
    assert not (engine.workspace(iid) / "undo.txt").exists()


def test_workflow_on_failure_pause_runs_cleanup_then_pauses(engine: Engine) -> None:
    iid, result = engine.run({
        "flaky": sh(fails_first(1)),
        "next": sh("true", dependencies=["flaky"]),
        "cleanup": sh("true", dependencies=["flaky"], trigger_rule="all_done"),
    }, on_failure="pause")
    assert result.exit_code == 6
    s = engine.statuses(iid)
    assert s["flaky"] == "failed" and s["cleanup"] == "completed"
    result = engine.resume(iid)
    assert result.exit_code == 0
    assert engine.statuses(iid)["next"] == "completed"


def test_cleanup_with_all_done_runs_after_a_failure(engine: Engine) -> None:
    iid, result = engine.run({
        "work": sh("exit 1"),
        "cleanup": sh("echo {{ tasks.work.status }} > cleanup.txt", dependencies=["work"], trigger_rule="all_done"),
    })
    assert result.exit_code == 1
    assert (engine.workspace(iid) / "cleanup.txt").read_text().strip() == "failed"


def test_conditions_skip_with_kind_condition_and_see_outputs(engine: Engine) -> None:
    iid, result = engine.run({
        "probe": sh('echo "level=3" > "$WORKFLOW_OUTPUT"'),
        "high": sh("true", dependencies=["probe"], conditions=["tasks.probe.outputs.level | int > 5"]),
        "low": sh("true", dependencies=["probe"], conditions=["{{ tasks.probe.outputs.level | int <= 5 }}"]),
        "after_high": sh("true", dependencies=["high"]),
        "report": sh("true", dependencies=["high", "low"], trigger_rule="none_failed"),
    })
    assert result.exit_code == 0
    state = engine.state(iid)
    assert state["tasks"]["high"]["status"] == "skipped" and state["tasks"]["high"]["error_kind"] == "condition"
    assert state["tasks"]["after_high"]["status"] == "skipped"
    assert state["tasks"]["low"]["status"] == "completed"
    assert state["tasks"]["report"]["status"] == "completed"


def test_min_success_with_cancel_remaining_cancels_the_slow_dependency(engine: Engine) -> None:
    iid, result = engine.run({
        "fast1": sh("true"),
        "fast2": sh("true"),
        "slow": sh("sleep 20"),
        "quorum": sh("true", dependencies=["fast1", "fast2", "slow"],
                     trigger_rule={"min_success": 2, "cancel_remaining": True}),
    }, max_parallel=4)  # slow runs when the quorum is reached: it is terminated
    assert result.exit_code == 0
    s = engine.statuses(iid)
    assert s["quorum"] == "completed" and s["slow"] == "cancelled", engine.state(iid)["tasks"]["slow"]


def test_sequential_workflow_runs_one_task_at_a_time(engine: Engine) -> None:
    tasks = {f"t{i}": sh(f"echo start-{i} >> order.txt; sleep 0.05; echo end-{i} >> order.txt") for i in range(3)}
    iid, result = engine.run(tasks, execution_mode="sequential")
    assert result.exit_code == 0
    lines = (engine.workspace(iid) / "order.txt").read_text().split()
    assert lines == ["start-0", "end-0", "start-1", "end-1", "start-2", "end-2"]


def test_sequential_task_runs_alone(engine: Engine) -> None:
    tasks = {
        "p1": sh("echo start-p1 >> order.txt; sleep 0.1; echo end-p1 >> order.txt"),
        "solo": sh("echo start-solo >> order.txt; sleep 0.1; echo end-solo >> order.txt", execution_mode="sequential"),
        "p2": sh("echo start-p2 >> order.txt; sleep 0.1; echo end-p2 >> order.txt"),
    }
    iid, result = engine.run(tasks)
    assert result.exit_code == 0
    lines = (engine.workspace(iid) / "order.txt").read_text().split()
    at = lines.index("start-solo")
    assert lines[at + 1] == "end-solo"
    assert "end-p1" in lines[:at]


def test_max_parallel_is_respected(engine: Engine) -> None:
    tasks = {f"t{i}": sh("mkdir running.lock.$WORKFLOW_TASK_ID; ls -d running.lock.* | wc -l >> counts.txt; sleep 0.05; "
                         "rmdir running.lock.$WORKFLOW_TASK_ID") for i in range(6)}
    iid, result = engine.run(tasks, max_parallel=2)
    assert result.exit_code == 0
    counts = [int(c) for c in (engine.workspace(iid) / "counts.txt").read_text().split()]
    assert max(counts) <= 2


# -- logs and events ----------------------------------------------------------------------------------------

def test_one_log_per_task_with_a_header_per_attempt(engine: Engine) -> None:
    iid, result = engine.run({"t": sh("echo out-$WORKFLOW_ATTEMPT; echo err-$WORKFLOW_ATTEMPT >&2; " + fails_first(1), retry_count=1)})
    assert result.exit_code == 0
    logs = sorted(p.name for p in engine.paths(iid).logs.iterdir())
    assert logs == ["t.log"]
    text = engine.log(iid, "t")
    assert "t attempt 1" in text and "t attempt 2" in text
    assert text.index("out-1") < text.index("t attempt 2") < text.index("out-2")
    assert "err-1" in text


def test_a_log_holds_the_command_line_once_there_is_output_or_a_failure(engine: Engine) -> None:
    iid, result = engine.run({
        "quiet": sh("true"),
        "talks": sh("echo hello", dependencies=["quiet"]),
        "fails": sh("exit 3", dependencies=["talks"]),
    })
    assert result.exit_code == 1
    logs = engine.paths(iid).logs
    assert not (logs / "quiet.log").exists()  # a silent success writes no file (its times are in status)
    assert engine.log(iid, "talks").splitlines()[1:] == ["$ echo hello", "hello"]
    failed = engine.log(iid, "fails").splitlines()
    assert failed[0].startswith("=== fails attempt 1 started ") and failed[1:] == ["$ exit 3"]


def test_a_silent_long_command_shows_its_log_while_it_runs(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from workflow_cli.actions import _process

    monkeypatch.setattr(_process, "_SHOW_AFTER", 0.0)
    iid, result = engine.run({"slow": sh("sleep 0.2")})
    assert result.exit_code == 0
    assert engine.log(iid, "slow").splitlines()[1:] == ["$ sleep 0.2"]


def test_events_are_sequenced_and_a_sink_sees_them_in_order(engine: Engine) -> None:
    seen: list[dict[str, Any]] = []
    iid = engine.create({"a": sh("true"), "b": {"action": "noop", "dependencies": ["a"]}})
    result = engine.start(iid, sink=seen.append)
    assert result.exit_code == 0
    stored = engine.events(iid)
    assert [e["seq"] for e in stored] == list(range(1, len(stored) + 1))
    assert [e["seq"] for e in seen] == [e["seq"] for e in stored[1:]]  # all but workflow.created
    types = [e["type"] for e in seen]
    assert types[0] == "workflow.started" and types[-1] == "workflow.completed"
    assert types.count("task.started") == 2 and types.count("task.completed") == 2
    assert types.count("checkpoint.created") == 2


def test_a_completion_reaches_subscribers_while_later_tasks_still_run(engine: Engine) -> None:
    # the group commit comes from the runner thread while attempts run: `b` waits for the subscriber
    # to have seen `a` complete, and fails if that never happens while it runs
    iid = engine.create({"a": sh("true"), "b": sh(
        "for i in $(seq 200); do [ -e seen-a ] && exit 0; sleep 0.05; done; exit 1", dependencies=["a"])})
    marker = engine.workspace(iid) / "seen-a"

    def sink(event: dict[str, Any]) -> None:
        if event["type"] == "task.completed" and event["data"]["task"] == "a":
            marker.touch()

    result = engine.start(iid, sink=sink)
    assert result.exit_code == 0, engine.log(iid, "b")
    assert engine.statuses(iid) == {"a": "completed", "b": "completed"}


def test_checkpoint_false_writes_no_checkpoint(engine: Engine) -> None:
    iid, _ = engine.run({"a": sh("true", checkpoint=False), "b": sh("true", dependencies=["a"])})
    assert [cp["task"] for cp in engine.state(iid)["checkpoints"]] == ["b"]


def test_set_vars_are_evaluated_on_completion(engine: Engine) -> None:
    iid, result = engine.run({
        "a": sh('echo "n=4" > "$WORKFLOW_OUTPUT"', set_vars={"doubled": "tasks.a.outputs.n | int * 2"}),
        "b": sh("echo {{ vars.doubled }} > v.txt", dependencies=["a"]),
    }, variables={"keep": 1})
    assert result.exit_code == 0
    assert result.status["vars"] == {"keep": 1, "doubled": 8}
    assert (engine.workspace(iid) / "v.txt").read_text().strip() == "8"


def test_a_render_error_fails_the_task_with_a_clear_message(engine: Engine) -> None:
    _, result = engine.run({"a": sh("echo {{ tasks.a.outputs.missing.deeper }}")})
    assert result.exit_code == 1
    assert result.status["tasks"]["a"]["error"]


def test_deadline_on_a_fake_clock_while_a_retry_waits(engine: Engine) -> None:
    from workflow_cli.clock import FakeClock
    from workflow_cli.engine.runner import RunOptions, Runner
    from workflow_cli.ops.run import exit_code_for

    iid = engine.create({"t": sh("exit 1", retry={"max_attempts": 3, "delay_seconds": 100}), "u": sh("true", dependencies=["t"])},
                        timeout_seconds=50)
    outcome = Runner(engine.home, engine.paths(iid), clock=FakeClock(), options=RunOptions(wait_threshold=1000)).run()
    assert outcome.state["status"] == "failed" and outcome.state["error_kind"] == "deadline"
    assert exit_code_for(outcome.state) == 8
    assert outcome.state["tasks"]["t"]["attempts"] == 1
    assert {ts["status"] for ts in outcome.state["tasks"].values()} == {"cancelled"}


def test_a_chatty_task_logs_every_line(engine: Engine) -> None:
    iid, result = engine.run({"t": sh("seq 1 20000; echo done >&2")})
    assert result.exit_code == 0
    lines = engine.log(iid, "t").splitlines()
    assert "20000" in lines and "1" in lines and lines[-1].endswith("done")


def test_a_runner_given_no_child_workflows_fails_a_trigger_task_clearly(engine: Engine) -> None:
    """Actions reach other instances only through the interface ops hands the runner (never by importing ops)."""
    from workflow_cli.engine.runner import Runner

    iid = engine.create({"child": {"action": "workflow_trigger", "parameters": {"template": "anything"}}})
    outcome = Runner(engine.home, engine.paths(iid)).run()
    task = outcome.state["tasks"]["child"]
    assert outcome.state["status"] == "failed" and task["status"] == "failed"
    assert task["error"] == "this runner cannot start child workflows (run it through workflow-cli)"
    assert engine.state(iid)["children"] == []


def test_reset_tasks_is_data_the_runner_records_before_it_goes_on(engine: Engine) -> None:
    from workflow_cli.engine.runner import RunOptions, Runner

    iid, result = engine.run({"a": sh('echo "n=$WORKFLOW_ATTEMPT" > "$WORKFLOW_OUTPUT"'), "b": sh("true", dependencies=["a"])})
    assert result.exit_code == 0
    outcome = Runner(engine.home, engine.paths(iid), options=RunOptions(reopen=True, reset_tasks=(("a", False),))).run()
    assert outcome.reason == "completed" and outcome.state["tasks"]["a"]["outputs"] == {"n": "2"}
    assert [e["data"] for e in engine.events(iid, "task.reset")] == [{"task": "a", "reason": "retry"}]
    assert outcome.state["tasks"]["b"]["attempts"] == 1  # not reset: only what was asked
