"""``loop`` (SPEC 3): repeat until ``until`` is true, ``loop.iteration``/``loop.previous``, max_iterations, delays as timers."""

from __future__ import annotations

import time
from typing import Any

Engine = Any  # the ``engine`` fixture of conftest.py


def sh(command: str, **task: Any) -> dict[str, Any]:
    """A ``command`` task."""
    return {"action": "command", "parameters": {"command": command}, **task}


COUNT = 'n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; '


def test_loop_repeats_until_true_with_iteration_previous_and_latest_outputs_in_scope(engine: Engine) -> None:
    iid, result = engine.run({
        "poll": sh(COUNT + 'echo "n=$n" > "$WORKFLOW_OUTPUT"; echo "polled $n"; echo it={{ loop.iteration }} prev={{ loop.previous.n | default(0) }} '
                   '"env=$WORKFLOW_LOOP_ITERATION" >> seen.txt',
                   loop={"until": "tasks.poll.outputs.n | int >= 3", "max_iterations": 10}),
        "after": sh('echo {{ tasks.poll.outputs.n }} > after.txt', dependencies=["poll"]),
    })
    assert result.exit_code == 0, result.status["tasks"]["poll"]
    ws = engine.workspace(iid)
    assert ws.joinpath("seen.txt").read_text().splitlines() == ["it=1 prev=0 env=1", "it=2 prev=1 env=2", "it=3 prev=2 env=3"]
    assert ws.joinpath("after.txt").read_text().strip() == "3"
    poll = result.status["tasks"]["poll"]
    assert poll["status"] == "completed" and poll["outputs"] == {"n": "3"} and poll["iteration"] == 3
    iterations = engine.events(iid, "loop.iteration")
    assert [(e["data"]["iteration"], e["data"]["outputs"]) for e in iterations] == [(1, {"n": "1"}), (2, {"n": "2"})]
    assert "poll attempt 2 (iteration 2)" in engine.log(iid, "poll")
    assert len(engine.events(iid, "task.completed")) == 2  # poll once, after once
    assert [cp["task"] for cp in engine.state(iid)["checkpoints"]] == ["poll", "after"]


def test_reaching_max_iterations_fails_the_task_with_a_clear_message(engine: Engine) -> None:
    _, result = engine.run({"t": {"action": "noop", "loop": {"until": "false", "max_iterations": 5}},
                            "after": sh("true", dependencies=["t"])})
    assert result.exit_code == 1
    t = result.status["tasks"]["t"]
    assert t["status"] == "failed" and t["error_kind"] == "loop"
    assert t["error"].startswith("loop did not finish in 5 iterations")
    assert t["attempts"] == 5
    assert result.status["tasks"]["after"]["status"] == "skipped"


def test_a_bad_until_expression_fails_the_task(engine: Engine) -> None:
    _, result = engine.run({"t": {"action": "noop", "loop": {"until": "tasks.t.outputs.missing.deeper"}}})
    assert result.exit_code == 1
    assert "loop.until could not be evaluated" in result.status["tasks"]["t"]["error"]


def test_retry_applies_per_iteration(engine: Engine) -> None:
    # every iteration fails its first attempt once: 2 attempts per iteration, each within max_attempts=2
    cmd = COUNT + '[ $((n % 2)) -eq 0 ] || exit 1; echo "n=$n" > "$WORKFLOW_OUTPUT"'
    _, result = engine.run({"t": sh(cmd, retry_count=1, loop={"until": "tasks.t.outputs.n | int >= 6"})})
    assert result.exit_code == 0, result.status["tasks"]["t"]
    assert result.status["tasks"]["t"]["attempts"] == 6 and result.status["tasks"]["t"]["iteration"] == 3


def test_delay_between_iterations_is_a_timer_not_a_busy_wait(engine: Engine) -> None:
    from workflow_cli.clock import FakeClock
    from workflow_cli.engine.runner import RunOptions, Runner

    iid = engine.create({"t": {"action": "noop", "loop": {"until": "loop.iteration >= 3", "delay_seconds": 100}}})
    clock = FakeClock()
    begin = clock.time()
    wall = time.monotonic()
    outcome = Runner(engine.home, engine.paths(iid), clock=clock, options=RunOptions(wait_threshold=1000)).run()
    assert outcome.state["status"] == "completed"
    assert 200 <= clock.time() - begin < 210  # two delays, slept on the (fake) clock
    assert time.monotonic() - wall < 5
    starts = [e["time"] for e in engine.events(iid, "task.started")]
    assert len(starts) == 3 and all(e["data"]["due"] for e in engine.events(iid, "loop.iteration"))


def test_a_long_delay_ends_the_run_waiting_and_resume_goes_on(engine: Engine) -> None:
    from workflow_cli.clock import FakeClock
    from workflow_cli.engine.runner import RunOptions, Runner
    from workflow_cli.ops.run import exit_code_for

    iid = engine.create({"t": sh(COUNT + 'echo "n=$n" > "$WORKFLOW_OUTPUT"',
                                 loop={"until": "tasks.t.outputs.n | int >= 2", "delay_seconds": 600})})
    clock = FakeClock()
    outcome = Runner(engine.home, engine.paths(iid), clock=clock, options=RunOptions(wait_threshold=200)).run()
    assert exit_code_for(outcome.state) == 3
    state = engine.state(iid)
    assert state["status"] == "waiting" and state["waiting_for"][0]["kind"] == "timer"
    assert state["tasks"]["t"]["status"] == "pending" and state["tasks"]["t"]["outputs"] == {"n": "1"}
    clock.advance(300)
    outcome = Runner(engine.home, engine.paths(iid), clock=clock, options=RunOptions(wait_threshold=200)).run()
    assert engine.state(iid)["status"] == "waiting"  # resumed before the delay is over: still waiting, nothing ran
    assert engine.state(iid)["tasks"]["t"]["outputs"] == {"n": "1"} and len(engine.events(iid, "task.started")) == 1
    clock.advance(301)
    outcome = Runner(engine.home, engine.paths(iid), clock=clock).run()
    assert exit_code_for(outcome.state) == 0
    task = outcome.state["tasks"]["t"]
    assert task["outputs"] == {"n": "2"} and task["loop"]["iteration"] == 2
