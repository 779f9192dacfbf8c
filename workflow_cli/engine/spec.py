"""An attempt as plain data (:class:`AttemptSpec`) and the one way to run it (:func:`run_attempt`).

The runner decides everything about an attempt (rendered parameters, environment, log and output
files, timeout, secrets) and freezes it into an :class:`AttemptSpec`: strings, numbers and JSON-like
mappings only, so it pickles and round-trips through JSON. An executor runs a spec with the action
registered under its name and hands back an :class:`~workflow_cli.actions.base.ActionResult`; it
never receives a closure over the runner's state. Actions that work on this machine's instance (a
condition reading the live scope, a trigger starting a child instance) also get the runner's
in-process ``services`` mapping beside the spec; an executor that runs attempts elsewhere sends the
spec alone.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from workflow_cli.actions.base import ActionContext, ActionResult
from workflow_cli.engine.attempt import Redactor, TaskLog, run_guarded

SPEC_FORMAT = 1
_NO_CONFIG: Mapping[str, Any] = {}


class AttemptSpec(NamedTuple):
    """Everything needed to run one attempt of a task (or of a foreach item), as plain data.

    Immutable and picklable; a named tuple rather than a frozen dataclass because one is built per
    attempt and a frozen dataclass costs ~3x as much to build.
    """

    instance_id: str
    task_id: str
    action: str
    attempt: int
    parameters: Mapping[str, Any]  # rendered
    env: Mapping[str, str]  # what the attempt adds to the runner's environment (task env, item/loop variables)
    workspace: str  # the working directory
    timeout: float | None
    idempotency_key: str
    log_path: str
    log_header: str
    unit: str = ""  # the log/output name: the task id, or ``T[3]`` for a foreach item
    output_file: str | None = None  # the attempt's $WORKFLOW_OUTPUT
    secrets: tuple[str, ...] = ()  # values masked in every logged line
    home: str | None = None
    config: Mapping[str, Any] = _NO_CONFIG  # the home's config.yaml (never changed through a spec)

    def to_json(self) -> str:
        """The spec as one JSON document (``from_json`` reads it back)."""
        return json.dumps({"format": SPEC_FORMAT, **self._asdict()}, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AttemptSpec:
        """Read a spec written by :meth:`to_json`; a newer format is refused."""
        data = json.loads(text)
        if data.pop("format", None) != SPEC_FORMAT:
            raise ValueError(f"attempt spec format is not {SPEC_FORMAT}")
        data["secrets"] = tuple(data.get("secrets") or ())
        return cls(**data)


@lru_cache(maxsize=256)
def _path(text: str) -> Path:
    """One Path per folder name (a run's attempts share their workspace and home; building one costs ~2 µs)."""
    return Path(text)


@lru_cache(maxsize=64)
def _redactor(secrets: tuple[str, ...]) -> Redactor:
    """One masker per set of secret values (a run has one: not rebuilt per attempt)."""
    return Redactor({str(i): value for i, value in enumerate(secrets)})


def context_for(spec: AttemptSpec, *, services: Mapping[str, Any] | None = None,
                cancel: threading.Event | None = None) -> ActionContext:
    """The :class:`ActionContext` an action gets for ``spec``."""
    services = services or {}
    return ActionContext(
        instance_id=spec.instance_id,
        task_id=spec.task_id,
        attempt=spec.attempt,
        parameters=spec.parameters,
        workspace=_path(spec.workspace),
        log=TaskLog(spec.log_path, spec.log_header, _redactor(spec.secrets)),
        env=spec.env,
        timeout=spec.timeout,
        cancel=cancel if cancel is not None else threading.Event(),
        output_file=Path(spec.output_file) if spec.output_file is not None else None,
        home=_path(spec.home) if spec.home is not None else None,
        config=spec.config,
        task=services.get("task"),
        services=services,
    )


def run_attempt(spec: AttemptSpec, action: Any, *, services: Mapping[str, Any] | None = None,
                cancel: threading.Event | None = None) -> ActionResult:
    """Run ``spec`` with ``action`` (the one registered under ``spec.action``); never raises for a failing attempt."""
    return run_guarded(action, context_for(spec, services=services, cancel=cancel))
