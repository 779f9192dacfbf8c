"""The ``command`` action: run a program or a shell line (SPEC 6.2, 6.4).

Parameters: ``command`` (string or argv list), ``shell`` (default true for a string), ``cwd`` (default
the document's ``working_dir``, else the instance's base directory: SPEC 6.2), ``env``, ``stdin`` and
``success_exit_codes`` (default ``[0]``). A string runs through ``/bin/sh -c`` unless ``shell: false``, which splits it with :func:`shlex.split`; an argv list never
goes through a shell. Outputs come from ``$WORKFLOW_OUTPUT`` (a JSON object or ``key=value`` lines),
else from stdout when it is JSON, else they are ``{}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from workflow_cli.actions._process import ProcessOutcome, run_process
from workflow_cli.actions._spawn import ChildEnvironment
from workflow_cli.actions._workdir import WorkdirError, working_folder
from workflow_cli.actions.base import (
    MAX_OUTPUT_BYTES,
    ActionContext,
    ActionResult,
    flag,
    format_mib,
    outputs_result,
    unknown_key_issues,
)
from workflow_cli.errors import InvalidInputError, Issue

ALLOWED = ("command", "shell", "cwd", "env", "stdin", "success_exit_codes")
_MAX_OUTPUT_FILE = 4 * MAX_OUTPUT_BYTES  # read no further: key=value text this big cannot fit the limit


class _ActionError(Exception):
    """A parameter or an outputs file that cannot be used; becomes a failed attempt."""


def _templated(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def _argv(params: Mapping[str, Any]) -> tuple[list[str], str]:
    """The argv to execute and the line to show in the log."""
    command = params.get("command")
    if isinstance(command, str):
        if flag(params.get("shell"), default=True):
            return ["/bin/sh", "-c", command], command
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise _ActionError(f"cannot split the command: {exc}") from exc
    elif isinstance(command, (list, tuple)):
        argv = [str(item) for item in command]
    else:
        raise _ActionError("parameter 'command' must be a string or a list of arguments")
    if not argv:
        raise _ActionError("the command is empty")
    return argv, shlex.join(argv)


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return json.dumps(value)


def _environment(ctx: ActionContext, extra: Any) -> ChildEnvironment:
    """The runner's environment, plus the WORKFLOW_* variables, plus ``env`` (a null value unsets)."""
    if extra is not None and not isinstance(extra, Mapping):
        raise _ActionError("parameter 'env' must be a mapping")
    base = ctx.services.get("base_env") if ctx.services else None
    changes: dict[str, str | None] = dict(ctx.task_env())
    for key, value in (extra or {}).items():
        changes[str(key)] = None if value is None else _env_value(value)
    return ChildEnvironment(base if base is not None else os.environ, changes)


def _stdin(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    return (value if isinstance(value, str) else json.dumps(value)).encode("utf-8")


def _exit_codes(value: Any) -> list[int]:
    if value is None:
        return [0]
    if not isinstance(value, (list, tuple)) or not all(isinstance(c, int) and not isinstance(c, bool) for c in value):
        raise _ActionError("parameter 'success_exit_codes' must be a list of integers")
    return list(value)


def _parse_json(text: str) -> Any:
    """Parse JSON with the document loader's limits (no NaN, no huge numbers or deep nesting)."""
    from workflow_cli.model.loader import parse_text

    return parse_text(text, fmt="json")


def _key_values(text: str) -> dict[str, str]:
    outputs: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise _ActionError(f"$WORKFLOW_OUTPUT line {number}: expected key=value, got {line[:80]!r}")
        outputs[key.strip()] = value.strip()
    return outputs


def read_output_file(path: Path) -> dict[str, Any] | None:
    """Outputs written to ``$WORKFLOW_OUTPUT``: a JSON object or ``key=value`` lines; None when empty or absent.

    The file is removed once read (its values, secrets included, live on only as outputs).
    """
    if not os.access(path, os.F_OK):  # the common case, answered without raising and catching an exception
        return None
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _ActionError(f"cannot read $WORKFLOW_OUTPUT: {exc.strerror or exc}") from exc
    try:
        with fh:
            data = fh.read(_MAX_OUTPUT_FILE + 1)
            if len(data) > _MAX_OUTPUT_FILE:
                raise _ActionError(f"outputs are {format_mib(os.fstat(fh.fileno()).st_size)}; the limit is 1 MiB")
    except OSError as exc:
        raise _ActionError(f"cannot read $WORKFLOW_OUTPUT: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _ActionError(f"$WORKFLOW_OUTPUT is not UTF-8 text (byte {exc.start})") from exc
    if not text.strip():
        return None
    if text.lstrip()[:1] in ("{", "["):
        try:
            value = _parse_json(text)
        except InvalidInputError as exc:
            raise _ActionError(f"$WORKFLOW_OUTPUT is not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise _ActionError("$WORKFLOW_OUTPUT must hold a JSON object or key=value lines")
        return value
    return _key_values(text)


def stdout_json(stdout: bytes) -> Any:
    """Stdout parsed as JSON, or None when it is empty or not JSON."""
    try:
        text = stdout.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        return None
    if not text or text[0] not in '{["-0123456789tfn':
        return None
    try:
        return _parse_json(text)
    except InvalidInputError:
        return None


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return str(-returncode)


def _failure(outcome: ProcessOutcome, ctx: ActionContext, codes: list[int]) -> ActionResult | None:
    """The failed result for an attempt that did not exit with a success code, else None."""
    if outcome.start_error is not None:
        return ActionResult.failure(outcome.start_error, kind="error")
    if outcome.cancelled:
        return ActionResult.failure("cancelled while running", kind="cancelled", exit_code=outcome.returncode)
    if outcome.timed_out:
        return ActionResult.failure(f"timed out after {ctx.timeout:g} s", kind="timeout", exit_code=outcome.returncode)
    code = outcome.returncode
    if code is None or code in codes:
        return None
    message = f"command was killed by signal {_signal_name(code)}" if code < 0 else f"command exited with code {code}"
    if outcome.last_stderr:
        message += f": {outcome.last_stderr[:300]}"
    return ActionResult.failure(message, kind="error", exit_code=code)


class CommandAction:
    """Runs a program or a shell line as a child process in its own session."""

    uses_output_file = True  # the runner gives each attempt a $WORKFLOW_OUTPUT path

    name = "command"
    shell_fields: tuple[str, ...] = ("command",)
    inline = False

    def run(self, ctx: ActionContext) -> ActionResult:
        """Run the command once; see the module docstring for parameters and outputs."""
        params = ctx.parameters
        try:
            argv, shown = _argv(params)
            cwd = working_folder(params.get("cwd"), ctx.services, ctx.workspace)
            env = _environment(ctx, params.get("env"))
            codes = _exit_codes(params.get("success_exit_codes"))
        except WorkdirError as exc:
            return ActionResult.failure(str(exc), kind="config")  # never retried: it will not appear by itself
        except _ActionError as exc:
            return ActionResult.failure(str(exc), kind="error")
        note = getattr(ctx.log, "note", ctx.log)
        note(f"$ {shown}")  # written with the first output line, or if the attempt fails or runs long
        outcome = run_process(
            argv, cwd=cwd, env=env, log=ctx.log, cancel=ctx.cancel, timeout=ctx.timeout, stdin=_stdin(params.get("stdin"))
        )
        result = _failure(outcome, ctx, codes) or self._outputs(ctx, outcome)
        result.usage = outcome.usage
        return result

    def _outputs(self, ctx: ActionContext, outcome: ProcessOutcome) -> ActionResult:
        code = outcome.returncode
        try:
            written = read_output_file(ctx.output_file) if ctx.output_file is not None else None
        except _ActionError as exc:
            return ActionResult.failure(str(exc), kind="output", exit_code=code)
        if written is not None:
            return outputs_result(written, exit_code=code)
        if outcome.stdout_truncated:
            ctx.log("[workflow-cli] stdout is larger than 1 MiB: not parsed as outputs (write them to $WORKFLOW_OUTPUT)")
            return outputs_result({}, exit_code=code)
        value = stdout_json(outcome.stdout)
        return outputs_result({} if value is None else value, exit_code=code)

    def validate(self, parameters: Mapping[str, Any], path: str) -> list[Issue]:
        """Static checks: ``command`` present and well typed, known keys, sensible types."""
        issues = unknown_key_issues(parameters, ALLOWED, path)
        command = parameters.get("command")
        if command is None:
            issues.append(Issue(f"{path}.command", "missing required field 'command'"))
        elif isinstance(command, (list, tuple)):
            if not command:
                issues.append(Issue(f"{path}.command", "the argv list is empty"))
            for i, item in enumerate(command):
                if not isinstance(item, (str, int, float)) or isinstance(item, bool):
                    issues.append(Issue(f"{path}.command[{i}]", "an argument must be a string or a number"))
            if parameters.get("shell") is True:
                issues.append(Issue(f"{path}.shell", "an argv list never goes through a shell", "use a string command"))
        elif not isinstance(command, str) or not command.strip():
            issues.append(Issue(f"{path}.command", "must be a non-empty string or a list of arguments"))
        issues += _type_issues(parameters, path)
        return issues


def _type_issues(parameters: Mapping[str, Any], path: str) -> list[Issue]:
    """Type checks for the optional parameters (a ``{{ }}`` string is accepted anywhere: it is rendered later)."""
    issues: list[Issue] = []
    checks: tuple[tuple[str, Any, str], ...] = (
        ("shell", bool, "must be true or false"),
        ("cwd", str, "must be a folder path (relative to the instance's base directory)"),
        ("env", Mapping, "must be a mapping of variable names to values"),
        ("stdin", (str, Mapping, list), "must be a string (a mapping or a list is sent as JSON)"),
        ("success_exit_codes", list, "must be a list of integers"),
    )
    for key, kind, message in checks:
        value = parameters.get(key)
        if value is not None and not _templated(value) and not isinstance(value, kind):
            issues.append(Issue(f"{path}.{key}", message))
    codes = parameters.get("success_exit_codes")
    if isinstance(codes, list):
        for i, code in enumerate(codes):
            if not isinstance(code, int) or isinstance(code, bool) or not 0 <= code <= 255:
                issues.append(Issue(f"{path}.success_exit_codes[{i}]", "an exit code is an integer from 0 to 255"))
    return issues
