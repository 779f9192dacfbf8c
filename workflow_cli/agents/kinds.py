"""How each kind of agent is reached: command, python, builtin here; http and mailbox in their own modules.

Every kind takes the payload and answers with an :class:`ActionResult`: the agent's JSON result becomes
the task's outputs; a failure is data (kind ``error``, ``timeout``, ``cancelled`` or ``output``).
"""

from __future__ import annotations

import json
import os
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping

from workflow_cli.actions.base import ActionContext, ActionResult, outputs_result
from workflow_cli.agents.http_agent import run_http
from workflow_cli.agents.mailbox_agent import check_mailbox, mailbox_paths, run_mailbox
from workflow_cli.agents.registry import AgentSpec

__all__ = ["check_mailbox", "mailbox_paths", "run_agent", "run_builtin", "run_command", "run_http", "run_mailbox", "run_python"]
_SLICE = 0.02


def payload_bytes(payload: Mapping[str, Any]) -> bytes:
    """The payload as UTF-8 JSON (a value JSON cannot hold is sent as its text)."""
    return json.dumps(payload, ensure_ascii=False, allow_nan=False, default=str).encode("utf-8")


def _parse_stdout(stdout: bytes) -> Any:
    """The agent's result: stdout as JSON, or its last non-empty line as JSON (progress lines before it)."""
    from workflow_cli.actions.command import stdout_json

    value = stdout_json(stdout)
    if value is None:
        lines = [line for line in stdout.splitlines() if line.strip()]
        value = stdout_json(lines[-1]) if len(lines) > 1 else None
    return value


def run_command(agent: AgentSpec, payload: Mapping[str, Any], ctx: ActionContext, timeout: float | None) -> ActionResult:
    """Run the agent's program with the payload as JSON on stdin; its stdout JSON is the result."""
    from workflow_cli.actions._process import run_process

    command = agent.command
    if not command:
        return ActionResult.failure(f"agent {agent.id} has no command", kind="error")
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else [str(c) for c in command]
    env = {**os.environ, **ctx.task_env(), **agent.env}
    from workflow_cli.actions._workdir import WorkdirError, working_folder

    try:
        cwd = working_folder(None, ctx.services, ctx.workspace)  # SPEC 6.2: as a command task
    except WorkdirError as exc:
        return ActionResult.failure(f"agent {agent.id}: {exc}", kind="config")
    outcome = run_process(argv, cwd=cwd, env=env, log=ctx.log, cancel=ctx.cancel, timeout=timeout,
                          stdin=payload_bytes(payload), log_stdout=False)
    result = _command_result(agent, ctx, timeout, outcome)
    result.usage = outcome.usage
    return result


def _command_result(agent: AgentSpec, ctx: ActionContext, timeout: float | None, outcome: Any) -> ActionResult:
    """What the agent program's exit and stdout say about the attempt."""
    code = outcome.returncode
    if outcome.start_error is not None:
        return ActionResult.failure(f"agent {agent.id}: {outcome.start_error}", kind="error")
    if outcome.cancelled:
        return ActionResult.failure(f"agent {agent.id} was cancelled while running", kind="cancelled", exit_code=code)
    if outcome.timed_out:
        return ActionResult.failure(f"agent {agent.id} timed out after {timeout:g} s", kind="timeout", exit_code=code)
    if code != 0:
        detail = f": {outcome.last_stderr[:300]}" if outcome.last_stderr else ""
        return ActionResult.failure(f"agent {agent.id} exited with code {code}{detail}", kind="error", exit_code=code)
    if outcome.stdout_truncated:
        return ActionResult.failure(f"agent {agent.id} wrote more than 1 MiB on stdout", kind="output", exit_code=code)
    value = _parse_stdout(outcome.stdout)
    if not isinstance(value, (dict, list, str, int, float, bool)):
        shown = outcome.stdout.decode("utf-8", "replace").strip()
        for line in shown.splitlines()[:20]:
            ctx.log(f"[stdout] {line}")
        what = "nothing" if not shown else f"non-JSON output {shown[:80]!r}"
        return ActionResult.failure(f"agent {agent.id} printed {what} instead of a JSON result on stdout",
                                    kind="output", exit_code=code)
    return outputs_result(value, exit_code=code)


def _call(fn: Callable[[Any], Any], payload: Any, ctx: ActionContext, label: str) -> ActionResult:
    """Call ``fn(payload)``; an AgentFailure is a plain failure, any other exception logs its traceback."""
    from workflow_cli.agents.builtin import AgentFailure

    try:
        value = fn(payload)
    except AgentFailure as exc:
        return ActionResult.failure(f"{label}: {exc}", kind="error")
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure of agent code is the attempt's failure
        ctx.log(traceback.format_exc().rstrip())
        return ActionResult.failure(f"{label}: {type(exc).__name__}: {exc}", kind="error")
    return outputs_result(value)


def watched(ctx: ActionContext, call: Callable[[], ActionResult], timeout: float | None, label: str) -> ActionResult:
    """Run ``call`` in a daemon thread, abandoned when ``ctx.cancel`` is set or ``timeout`` passes."""
    box: list[ActionResult] = []
    done = threading.Event()

    def target() -> None:
        box.append(call())
        done.set()

    threading.Thread(target=target, name=f"wf-agent-{ctx.task_id}", daemon=True).start()
    deadline = None if timeout is None else time.monotonic() + timeout
    while not done.wait(_SLICE if deadline is None else max(0.0, min(_SLICE, deadline - time.monotonic()))):
        if ctx.cancel.is_set():
            return ActionResult.failure(f"{label} was cancelled while running (the call was abandoned)", kind="cancelled")
        if deadline is not None and time.monotonic() >= deadline:
            return ActionResult.failure(f"{label} timed out after {timeout:g} s (the call was abandoned)", kind="timeout")
    return box[0]


def _copy(payload: Mapping[str, Any]) -> Any:
    """A private JSON copy, so an in-process agent sees exactly what an external one would."""
    return json.loads(payload_bytes(payload))


def run_python(agent: AgentSpec, payload: Mapping[str, Any], ctx: ActionContext, timeout: float | None) -> ActionResult:
    """Call ``module:function(payload)`` in-process; its return value is the result."""
    from workflow_cli.actions.python_callable import CallableError, resolve_callable

    try:
        fn = resolve_callable(agent.callable or "")
    except CallableError as exc:
        return ActionResult.failure(f"agent {agent.id}: {exc}", kind="error")
    label = f"agent {agent.id}"
    data = _copy(payload)
    return watched(ctx, lambda: _call(fn, data, ctx, label), timeout, label)


def run_builtin(agent: AgentSpec, payload: Mapping[str, Any], ctx: ActionContext, timeout: float | None) -> ActionResult:
    """Call a built-in agent's function in this thread (they are small and bounded)."""
    from workflow_cli.actions.python_callable import CallableError, resolve_callable

    try:
        fn = resolve_callable(agent.callable or "")
    except CallableError as exc:
        return ActionResult.failure(f"built-in agent {agent.id} is broken: {exc}", kind="error")
    return _call(fn, _copy(payload), ctx, f"agent {agent.id}")


def run_agent(agent: AgentSpec, payload: Mapping[str, Any], ctx: ActionContext, *, home_root: Path | None) -> ActionResult:
    """Reach ``agent`` by its kind; the timeout is the task's, else the agent's ``timeout_seconds``."""
    timeout = ctx.timeout if ctx.timeout is not None else agent.timeout_seconds
    if agent.kind == "mailbox":
        return run_mailbox(agent, payload, ctx, home_root)
    runners = {"command": run_command, "python": run_python, "builtin": run_builtin}
    if agent.kind == "http":
        return watched(ctx, lambda: run_http(agent, payload, ctx, timeout), timeout, f"agent {agent.id}")
    if agent.kind not in runners:
        return ActionResult.failure(f"agent {agent.id} has an unknown kind '{agent.kind}'", kind="error")
    return runners[agent.kind](agent, payload, ctx, timeout)
