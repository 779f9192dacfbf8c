"""One attempt of one task: render its parameters, open its log, build the ActionContext."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from workflow_cli.actions.base import ActionContext, ActionResult
from workflow_cli.model.document import Task
from workflow_cli.store.instances import InstancePaths

SECRET_MASK = "***"


class Redactor:
    """Masks secret values (as CI systems do) in every line that reaches a stored log."""

    def __init__(self, secrets: Mapping[str, Any]) -> None:
        values = {str(v) for v in secrets.values() if v is not None and len(str(v)) >= 3}
        self.values = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self.values:
            if value in text:
                text = text.replace(value, SECRET_MASK)
        return text

    def value(self, obj: Any) -> Any:
        """Redact every string inside a JSON-like value (keys too; a number equal to a secret is masked)."""
        if not self.values:
            return obj
        if isinstance(obj, str):
            return self(obj)
        if isinstance(obj, dict):
            return {(self(k) if isinstance(k, str) else k): self.value(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.value(v) for v in obj]
        if isinstance(obj, (int, float)) and not isinstance(obj, bool) and str(obj) in self.values:
            return SECRET_MASK
        return obj


class TaskLog:
    """Appends to ``logs/<task>.log``; the attempt header is written with the first line.

    The file stays open for the attempt (one open, not one per line) and is flushed after every write,
    so ``logs --follow`` sees lines as they come; :meth:`close` ends it (a late write reopens it).
    :meth:`note` lines (a command's ``$ argv`` line) wait for the first line of output, or for
    :meth:`keep` (the attempt failed, or runs long): an attempt that succeeds without a word creates no
    file, which matters because creating a file costs more than running ``true`` on some disks.
    """

    def __init__(self, path: Path | str, header: str, redact: Redactor) -> None:
        self.path = path
        self.header = header
        self.redact = redact
        self.lock = threading.Lock()
        self.started = False
        self._fh: Any = None
        self._notes: list[str] = []

    def _write(self, text: str) -> None:
        """(lock held) Open on first use, header and notes first."""
        if self._fh is None:
            self._fh = open(self.path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115 - closed by close()
        if not self.started:
            self.started = True
            self._fh.write(self.header)
            for note in self._notes:
                self._fh.write(self.redact(note))
            self._notes = []
        if text:
            self._fh.write(self.redact(text))
        self._fh.flush()

    def __call__(self, text: str) -> None:
        if not text.endswith("\n"):
            text += "\n"
        with self.lock:
            self._write(text)

    def note(self, text: str) -> None:
        """A line about the attempt, written with its first line of output or on :meth:`keep`."""
        if not text.endswith("\n"):
            text += "\n"
        with self.lock:
            if self.started:
                self._write(text)
            else:
                self._notes.append(text)

    def keep(self) -> None:
        """Write the header and the waiting notes now, output or not (a failed or long attempt)."""
        with self.lock:
            if self._notes and not self.started:
                self._write("")

    def close(self) -> None:
        """Close the file (the attempt is over)."""
        with self.lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def build_context(
    *,
    task: Task,
    attempt: int,
    parameters: Mapping[str, Any],
    paths: InstancePaths,
    home: Path,
    redact: Redactor,
    started_at: str,
    config: Mapping[str, Any],
    services: Mapping[str, Any],
    output_file: bool = True,
    unit: str | None = None,
    note: str = "",
    extra_env: Mapping[str, str] | None = None,
) -> ActionContext:
    """The context an action gets for one attempt (``output_file``: give it a fresh $WORKFLOW_OUTPUT path).

    ``unit`` names the log and output files (a foreach item ``T[3]``; default the task id), ``note`` is
    added to the attempt header (a loop iteration) and ``extra_env`` to the task's environment.
    """
    name = unit or task.id
    header = f"=== {name} attempt {attempt}{note} started {started_at} ===\n"
    out_path = None
    if output_file:
        # the runner made outputs/ at start; attempt numbers never repeat, and each file is removed after its attempt
        out_path = Path(f"{paths.outputs}/{name}.{attempt}")
    env = {str(k): str(v) for k, v in (parameters.get("env") or {}).items()} if isinstance(parameters.get("env"), Mapping) else {}
    if extra_env:
        env = {**extra_env, **env}
    return ActionContext(
        instance_id=paths.id,
        task_id=task.id,
        attempt=attempt,
        parameters=parameters,
        workspace=paths.workspace,
        log=TaskLog(f"{paths.logs}/{name}.log", header, redact),  # a str: opened once, no Path needed
        env=env,
        timeout=task.timeout_seconds,
        cancel=threading.Event(),
        output_file=out_path,
        home=home,
        config=config,
        task=task,
        services=services,
    )


def run_guarded(action: Any, ctx: ActionContext) -> ActionResult:
    """Run an action; an exception escaping it becomes a failed attempt with the traceback logged.

    The attempt's ``$WORKFLOW_OUTPUT`` file does not outlive it: an action that succeeded has read and
    removed it (its values, secrets included, live on only as outputs); after a failure it is removed here.
    """
    result: Any = None
    try:
        result = action.run(ctx)
    except Exception as exc:  # noqa: BLE001 - an action bug must not kill the runner
        import traceback

        ctx.log("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        result = ActionResult.failure(f"internal error in action: {type(exc).__name__}: {exc}")
    finally:
        if not (isinstance(result, ActionResult) and result.ok):
            keep = getattr(ctx.log, "keep", None)
            if keep is not None:
                keep()  # a failed attempt's log shows what ran, even without output
            if ctx.output_file is not None:  # the action may have stopped before reading it
                ctx.output_file.unlink(missing_ok=True)
        close = getattr(ctx.log, "close", None)
        if close is not None:
            close()
    if not isinstance(result, ActionResult):
        return ActionResult.failure(f"action returned {type(result).__name__}, not an ActionResult")
    return result


def allowed_env(names: tuple[str, ...]) -> dict[str, str]:
    """The environment variables a document listed in ``env_allow``."""
    return {n: os.environ[n] for n in names if n in os.environ}
