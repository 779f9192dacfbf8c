"""One builder method per action (SPEC 6.4): each writes the action's parameters and returns a handle.

:class:`TaskKinds` is shared by :class:`~workflow_cli.builder.workflow.Workflow` and by the object
``wf.foreach(...)`` returns, which adds the ``foreach`` fields to every task it makes.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow_cli.builder.expr import Expr, as_expression
from workflow_cli.builder.fields import ExprLike
from workflow_cli.builder.handles import TaskHandle

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from workflow_cli.builder.fields import GateFields, TaskFields

# A Python file given as FILE.py:NAME is imported under this prefix (see ops/python_source.py).
SOURCE_MODULE_PREFIX = "_workflow_cli_file_"
_MISSING: Any = object()


def callable_spec(fn: str | Callable[..., Any]) -> str:
    """``module:function`` for a string as given, or for a module-level function.

    >>> import json
    >>> callable_spec(json.dumps), callable_spec("etl:transform")
    ('json:dumps', 'etl:transform')
    """
    if isinstance(fn, str):
        return fn
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if not callable(fn) or not module or not qualname:
        raise TypeError(f"python() takes 'module:function' or a module-level function, not {type(fn).__name__}")
    if "<" in qualname:
        raise TypeError(f"python(): {qualname} cannot be imported by name; define it at module level")
    if module == "__main__" or module.startswith(SOURCE_MODULE_PREFIX):
        # run as a script, or loaded from FILE.py: a runner imports the file again by its stem
        file = getattr(sys.modules.get(module), "__file__", None)
        if not file:
            raise TypeError(f"python(): cannot tell which module defines {qualname}; pass 'module:function'")
        module = Path(file).stem
    return f"{module}:{qualname}"


def _given(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


class TaskKinds(ABC):
    """The task methods; a subclass decides where a task goes through :meth:`_add`."""

    @abstractmethod
    def _add(self, where: str, task_id: str, spec: dict[str, Any], fields: Mapping[str, Any]) -> TaskHandle:
        """Add a task: ``spec`` is its action part as given (expressions and handles not rendered yet)."""

    def _action(self, where: str, task_id: str, action: str, parameters: Mapping[str, Any],
                fields: Mapping[str, Any]) -> TaskHandle:
        spec: dict[str, Any] = {"action": action}
        if parameters:
            spec["parameters"] = parameters
        return self._add(where, task_id, spec, fields)

    def task(self, task_id: str, action: str, parameters: Mapping[str, Any] | None = None,
             **fields: Unpack[TaskFields]) -> TaskHandle:
        """A task of any action, plugin actions included, with its parameters as a mapping.

        >>> from workflow_cli import Workflow
        >>> Workflow("w").task("copy", "file_operation", {"operation": "copy", "path": "a", "dest": "b"})
        <task 'copy' (file_operation)>
        """
        return self._action("task()", task_id, action, parameters or {}, fields)

    def command(self, task_id: str, command: str | Sequence[str | Expr], *, shell: bool | None = None,
                cwd: str | None = None, env: Mapping[str, Any] | None = None, stdin: str | None = None,
                success_exit_codes: Sequence[int] | None = None, **fields: Unpack[TaskFields]) -> TaskHandle:
        """Run a program: an argv list never goes through a shell; a string runs with ``/bin/sh -c``.

        >>> from workflow_cli import Workflow
        >>> wf = Workflow("w", params={"day": str})
        >>> wf.command("extract", ["./extract.sh", wf.param("day")], retry=2, timeout_seconds=60)
        <task 'extract' (command)>
        """
        argv: Any = command if isinstance(command, (str, Expr)) else list(command)
        params = _given(command=argv, shell=shell, cwd=cwd, env=env, stdin=stdin, success_exit_codes=success_exit_codes)
        return self._action("command()", task_id, "command", params, fields)

    def python(self, task_id: str, function: str | Callable[..., Any], *, args: Sequence[Any] | None = None,
               kwargs: Mapping[str, Any] | None = None, isolated: bool | None = None,
               **fields: Unpack[TaskFields]) -> TaskHandle:
        """Call ``module:function`` (or a module-level function); its return value is the task's outputs.

        >>> from workflow_cli import Workflow
        >>> Workflow("w").python("total", "etl:total", args=[1, 2], kwargs={"unit": "kg"}, isolated=True)
        <task 'total' (python)>
        """
        params = _given(callable=callable_spec(function), args=args, kwargs=kwargs, isolated=isolated)
        return self._action("python()", task_id, "python", params, fields)

    def agent(self, task_id: str, *, agent_id: str | None = None, agent_type: str | None = None,
              required_capabilities: Sequence[str] | None = None, parameters: Mapping[str, Any] | None = None,
              **fields: Unpack[TaskFields]) -> TaskHandle:
        """Hand work to an agent, by id or by type and capabilities (SPEC 6.3).

        >>> from workflow_cli import Workflow
        >>> Workflow("w").agent("count", agent_id="builtin.worker", parameters={"text": "a b c"})
        <task 'count' (agent_task)>
        """
        if (agent_id is None) == (agent_type is None):
            raise TypeError("agent() takes exactly one of agent_id and agent_type")
        spec: dict[str, Any] = {"action": "agent_task", **_given(agent_id=agent_id, agent_type=agent_type)}
        if required_capabilities is not None:
            spec["required_capabilities"] = list(required_capabilities)
        if parameters:
            spec["parameters"] = parameters
        return self._add("agent()", task_id, spec, fields)

    def http(self, task_id: str, url: str | Expr, *, method: str | None = None, headers: Mapping[str, Any] | None = None,
             query: Mapping[str, Any] | None = None, json: Any = None, body: Any = None,
             expected_status: int | Sequence[int] | None = None, retry_on_status: Sequence[int] | None = None,
             **fields: Unpack[TaskFields]) -> TaskHandle:
        """Call an HTTP API (``api_call``); outputs ``{status, headers, json or text}``.

        >>> from workflow_cli import Workflow
        >>> Workflow("w").http("notify", "https://example.org/hook", method="POST", json={"ok": True})
        <task 'notify' (api_call)>
        """
        params = _given(method=method, url=url, headers=headers, query=query, json=json, body=body,
                        expected_status=expected_status, retry_on_status=retry_on_status)
        return self._action("http()", task_id, "api_call", params, fields)

    def approval(self, task_id: str, approvers: Sequence[str], *, message: str | Expr | None = None,
                 required_approvals: int | None = None, timeout_seconds: float | None = None, on_timeout: str | None = None,
                 escalate_to: Sequence[str] | None = None, input_schema: Mapping[str, Any] | None = None,
                 **fields: Unpack[GateFields]) -> TaskHandle:
        """Wait for people to approve (``approval_gate``); ``timeout_seconds`` is how long they have.

        >>> from workflow_cli import Workflow
        >>> Workflow("w").approval("sign_off", approvers=["ann"], message="ship it?", timeout_seconds=3600)
        <task 'sign_off' (approval_gate)>
        """
        params = _given(approvers=list(approvers), message=message, required_approvals=required_approvals,
                        timeout_seconds=timeout_seconds, on_timeout=on_timeout, escalate_to=escalate_to,
                        input_schema=input_schema)
        return self._action("approval()", task_id, "approval_gate", params, fields)

    def wait(self, task_id: str, *, seconds: float | None = None, until: str | datetime | None = None,
             signal: str | None = None, key: str | Expr | None = None, timeout_seconds: float | None = None,
             on_timeout: str | None = None, **fields: Unpack[GateFields]) -> TaskHandle:
        """A durable wait for a time span, a moment (ISO time or aware datetime) or a named signal.

        >>> from workflow_cli import Workflow
        >>> Workflow("w").wait("paid", signal="payment", timeout_seconds=86400)
        <task 'paid' (wait)>
        """
        if sum(v is not None for v in (seconds, until, signal)) != 1:
            raise TypeError("wait() takes exactly one of seconds, until and signal")
        when = until.isoformat() if isinstance(until, datetime) else until
        params = _given(seconds=seconds, until=when, signal=signal, key=key, timeout_seconds=timeout_seconds,
                        on_timeout=on_timeout)
        return self._action("wait()", task_id, "wait", params, fields)

    def trigger(self, task_id: str, template: str | None = None, params: Mapping[str, Any] | None = None, *,
                file: str | None = None, wait: bool | None = None, **fields: Unpack[TaskFields]) -> TaskHandle:
        """Start a child instance of a template (or a document ``file``); with ``wait`` take its outputs.

        >>> from workflow_cli import Workflow
        >>> Workflow("w").trigger("child", "sequential_pipeline", {"source": "in.csv", "destination": "out.json"})
        <task 'child' (workflow_trigger)>
        """
        if (template is None) == (file is None):
            raise TypeError("trigger() takes exactly one of template and file")
        values = _given(template=template, file=file, params=params, wait=wait)
        return self._action("trigger()", task_id, "workflow_trigger", values, fields)

    def when(self, task_id: str, expression: ExprLike | None = None, *,
             cases: Sequence[tuple[ExprLike, Any]] | None = None, default: Any = _MISSING,
             **fields: Unpack[TaskFields]) -> TaskHandle:
        """Evaluate an expression (``condition_check``); ``handle.result`` is its value.

        With ``cases``, the result is the value of the first case whose expression is true, else ``default``.

        >>> from workflow_cli import Workflow
        >>> wf = Workflow("w", params={"amount": int})
        >>> wf.when("big", wf.param("amount") > 1000)
        <task 'big' (condition_check)>
        """
        if (expression is None) == (cases is None):
            raise TypeError("when() takes an expression or cases, not both or neither")
        params: dict[str, Any] = {}
        if expression is not None:
            params["expression"] = as_expression(expression)
        else:
            params["cases"] = [{"when": as_expression(test), "value": value} for test, value in cases or ()]
        if default is not _MISSING:
            params["default"] = default
        return self._action("when()", task_id, "condition_check", params, fields)

    def file(self, task_id: str, operation: str, path: str | Expr, *, dest: str | Expr | None = None,
             content: Any = None, encoding: str | None = None, **fields: Unpack[TaskFields]) -> TaskHandle:
        """A file operation inside the instance workspace (or an allowed root): read, write, copy, ...

        >>> from workflow_cli import Workflow
        >>> Workflow("w").file("save", "write", "report.txt", content="done")
        <task 'save' (file_operation)>
        """
        params = _given(operation=operation, path=path, dest=dest, content=content, encoding=encoding)
        return self._action("file()", task_id, "file_operation", params, fields)

    def noop(self, task_id: str, **fields: Unpack[TaskFields]) -> TaskHandle:
        """A task that completes at once: a join point or a placeholder.

        >>> from workflow_cli import Workflow
        >>> Workflow("w").noop("join")
        <task 'join' (noop)>
        """
        return self._action("noop()", task_id, "noop", {}, fields)
