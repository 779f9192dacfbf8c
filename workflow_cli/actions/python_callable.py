"""The ``python`` action: call ``module:function`` with ``args`` and ``kwargs`` (SPEC 6.4).

In-process (the default) the call runs in the worker thread. A function with a ``ctx`` parameter gets the
:class:`ActionContext` (``ctx.log`` writes to the task's log, ``ctx.cancel`` says when to stop); plain
``print`` goes to the runner's stdout, since redirecting ``sys.stdout`` would capture other threads too.
A thread cannot be killed, so with a timeout the call runs in a daemon thread that is abandoned when time
is up. ``isolated: true`` runs the call in a child process (:mod:`._python_child`) that a timeout or a
cancellation kills, with its stdout and stderr in the task's log; ``args`` and ``kwargs`` must then be JSON.
The return value is the task's outputs (a non-dict becomes ``{"result": value}``), JSON and at most 1 MiB.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Callable

from workflow_cli.actions._process import ProcessOutcome, run_process
from workflow_cli.actions.base import (
    MAX_OUTPUT_BYTES,
    ActionContext,
    ActionResult,
    flag,
    outputs_result,
    unknown_key_issues,
)
from workflow_cli.errors import Issue

ALLOWED = ("callable", "args", "kwargs", "isolated")
RESULT_MARKER = "\x1eWORKFLOW_RESULT "
_SLICE = 0.02
_REPLY_LIMIT = 4 * MAX_OUTPUT_BYTES + len(RESULT_MARKER) + 64


class CallableError(Exception):
    """The ``callable`` parameter names nothing that can be called."""


def resolve_callable(spec: str) -> Callable[..., Any]:
    """Import ``module:attr.path`` and return the callable it names."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name.strip() or not attr.strip():
        raise CallableError(f"callable '{spec}' must look like 'module:function'")
    obj: Any = sys.modules.get(module_name)  # imported already (the usual case after the first attempt)
    if obj is not None and not getattr(getattr(obj, "__spec__", None), "_initializing", False):  # not mid-import
        return _attribute(obj, spec, module_name, attr)
    try:
        obj = importlib.import_module(module_name)
    except ImportError as exc:
        raise CallableError(f"cannot import module '{module_name}': {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - a module that fails while importing is the user's error
        raise CallableError(f"importing module '{module_name}' failed: {type(exc).__name__}: {exc}") from exc
    return _attribute(obj, spec, module_name, attr)


def _attribute(obj: Any, spec: str, module_name: str, attr: str) -> Callable[..., Any]:
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise CallableError(f"module '{module_name}' has no attribute '{attr}'") from exc
    if not callable(obj):
        raise CallableError(f"'{spec}' is not callable")
    return obj  # type: ignore[no-any-return]


def _accepts_ctx(fn: Callable[..., Any]) -> bool:
    try:
        return _accepts_ctx_cached(fn)
    except TypeError:  # an unhashable callable object
        return _accepts_ctx_uncached(fn)


@functools.lru_cache(maxsize=256)
def _accepts_ctx_cached(fn: Callable[..., Any]) -> bool:
    return _accepts_ctx_uncached(fn)


def _accepts_ctx_uncached(fn: Callable[..., Any]) -> bool:
    try:
        param = inspect.signature(fn).parameters.get("ctx")
    except (TypeError, ValueError):
        return False
    return param is not None and param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)


def _log_lines(log: Callable[[str], None], text: str) -> None:
    for line in text.rstrip().splitlines():
        log(line)


def _call(ctx: ActionContext, fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> ActionResult:
    """Call ``fn`` and turn its return value or exception into a result."""
    try:
        value = fn(*args, **kwargs)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure of user code is the attempt's failure
        _log_lines(ctx.log, traceback.format_exc())
        return ActionResult.failure(f"{type(exc).__name__}: {exc}", kind="error")
    return outputs_result(value)


def _run_in_process(ctx: ActionContext, fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> ActionResult:
    """Call in this thread, or, with a timeout, in a daemon thread watched until the deadline."""
    if _accepts_ctx(fn) and "ctx" not in kwargs:
        kwargs = {**kwargs, "ctx": ctx}
    if ctx.timeout is None:
        return _call(ctx, fn, args, kwargs)
    box: list[ActionResult] = []
    done = threading.Event()

    def target() -> None:
        box.append(_call(ctx, fn, args, kwargs))
        done.set()

    threading.Thread(target=target, name=f"wf-python-{ctx.task_id}", daemon=True).start()
    deadline = time.monotonic() + ctx.timeout
    while not done.wait(max(0.0, min(_SLICE, deadline - time.monotonic()))):
        if ctx.cancel.is_set():
            return ActionResult.failure("cancelled while running (the in-process call was abandoned)", kind="cancelled")
        if time.monotonic() >= deadline:
            return ActionResult.failure(
                f"timed out after {ctx.timeout:g} s; an in-process call cannot be stopped and was abandoned "
                "(set 'isolated: true' to run it in a child process that a timeout kills)",
                kind="timeout",
            )
    return box[0]


def _child_env(ctx: ActionContext) -> dict[str, str]:
    """The task environment, with workflow_cli importable by the child whatever the runner's sys.path."""
    env = {**os.environ, **ctx.task_env()}
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


def _reply(stdout: bytes) -> dict[str, Any] | None:
    """The child's reply: the JSON after the last result marker, or None."""
    text = stdout.decode("utf-8", "replace")
    at = text.rfind(RESULT_MARKER)
    if at < 0:
        return None
    try:
        reply = json.loads(text[at + len(RESULT_MARKER) :])
    except ValueError:
        return None
    return reply if isinstance(reply, dict) else None


def _run_isolated(ctx: ActionContext, spec: str, args: list[Any], kwargs: dict[str, Any]) -> ActionResult:
    """Call in a child process (new session) that a timeout or a cancellation kills with its whole tree."""
    sys_path = [os.path.abspath(p) if p else os.getcwd() for p in sys.path]
    try:
        payload = json.dumps({"callable": spec, "args": args, "kwargs": kwargs, "sys_path": sys_path}, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return ActionResult.failure(f"args and kwargs must be JSON with 'isolated: true': {exc}", kind="error")
    cwd = ctx.workspace if ctx.workspace.is_dir() else Path.cwd()
    outcome = run_process(
        [sys.executable, "-m", "workflow_cli.actions._python_child"],
        cwd=cwd,
        env=_child_env(ctx),
        log=ctx.log,
        cancel=ctx.cancel,
        timeout=ctx.timeout,
        stdin=payload.encode("utf-8"),
        log_stdout=False,
        stderr_prefix="",
        stdout_limit=_REPLY_LIMIT,
    )
    result = _isolated_result(ctx, outcome)
    result.usage = outcome.usage
    return result


def _isolated_result(ctx: ActionContext, outcome: ProcessOutcome) -> ActionResult:
    """What the isolated child's exit and reply say about the attempt."""
    if outcome.start_error is not None:
        return ActionResult.failure(outcome.start_error, kind="error")
    if outcome.cancelled:
        return ActionResult.failure("cancelled while running", kind="cancelled")
    if outcome.timed_out:
        return ActionResult.failure(f"timed out after {ctx.timeout:g} s", kind="timeout")
    reply = _reply(outcome.stdout)
    if reply is None:
        detail = f": {outcome.last_stderr}" if outcome.last_stderr else ""
        return ActionResult.failure(
            f"the isolated process exited with code {outcome.returncode} without a result{detail}",
            kind="error",
            exit_code=outcome.returncode,
        )
    if "error" in reply:
        _log_lines(ctx.log, str(reply.get("traceback") or ""))
        return ActionResult.failure(str(reply["error"]), kind=str(reply.get("kind") or "error"))
    return outputs_result(reply.get("result"))


class PythonAction:
    """Calls a Python function, in-process or in an isolated child process."""

    name = "python"
    shell_fields: tuple[str, ...] = ()
    inline = False

    def in_process(self, parameters: Mapping[str, Any]) -> bool:
        """Whether the attempt runs inside the runner's process (and so cannot outlive it)."""
        return not flag(parameters.get("isolated"), default=False)

    def run(self, ctx: ActionContext) -> ActionResult:
        """Call the function once; see the module docstring for parameters and outputs."""
        params = ctx.parameters
        spec, args, kwargs = params.get("callable"), params.get("args") or [], params.get("kwargs") or {}
        if not isinstance(spec, str):
            return ActionResult.failure("parameter 'callable' must be a 'module:function' string", kind="error")
        if not isinstance(args, (list, tuple)) or not isinstance(kwargs, Mapping):
            return ActionResult.failure("'args' must be a list and 'kwargs' a mapping", kind="error")
        if flag(params.get("isolated"), default=False):
            return _run_isolated(ctx, spec, list(args), dict(kwargs))
        try:
            fn = resolve_callable(spec)
        except CallableError as exc:
            return ActionResult.failure(str(exc), kind="error")
        return _run_in_process(ctx, fn, list(args), dict(kwargs))

    def validate(self, parameters: Mapping[str, Any], path: str) -> list[Issue]:
        """Static checks: ``callable`` present and shaped ``module:function``, known keys, types."""
        issues = unknown_key_issues(parameters, ALLOWED, path)
        spec = parameters.get("callable")
        if spec is None:
            issues.append(Issue(f"{path}.callable", "missing required field 'callable'"))
        elif not isinstance(spec, str):
            issues.append(Issue(f"{path}.callable", "must be a 'module:function' string"))
        elif "{{" not in spec:
            module_name, sep, attr = spec.partition(":")
            if not sep or not module_name.strip() or not attr.strip():
                hint = f"use '{spec.rpartition('.')[0]}:{spec.rpartition('.')[2]}'" if "." in spec and not sep else None
                issues.append(Issue(f"{path}.callable", f"'{spec}' must look like 'module:function'", hint))
        for key, kind, message in (
            ("args", (list, tuple), "must be a list"),
            ("kwargs", Mapping, "must be a mapping of names to values"),
            ("isolated", bool, "must be true or false"),
        ):
            value = parameters.get(key)
            if value is not None and not (isinstance(value, str) and "{{" in value) and not isinstance(value, kind):
                issues.append(Issue(f"{path}.{key}", message))
        return issues
