"""Fixtures for the monitoring tests: the monitoring commands, real runs and synthetic states."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

T0 = 1_800_000_000.0

# prepare -> (build, ok2) -> after: build fails twice (one retry), so after is skipped and the run fails
MIXED_DOC: dict[str, Any] = {
    "version": "2.0.0",
    "name": "Mixed <run>",
    "tasks": {
        "prepare": {"action": "command", "parameters": {"command": "echo preparing"}},
        "build": {"action": "command", "parameters": {"command": "echo building; echo oops >&2; exit 3"},
                  "dependencies": ["prepare"], "retry_count": 1, "retry_delay": 0},
        "ok2": {"action": "noop", "dependencies": ["prepare"]},
        "after": {"action": "noop", "dependencies": ["build", "ok2"]},
    },
}
OK_DOC: dict[str, Any] = {
    "version": "2.0.0",
    "name": "Fine",
    "tasks": {"one": {"action": "noop"}, "two": {"action": "noop", "dependencies": ["one"]}},
}


@pytest.fixture
def mcli(cli: Any) -> Any:
    """The in-process CLI with ``health``, ``alerts`` and ``report`` registered (a no-op once app.py lists them)."""
    from workflow_cli.cli.app import app
    from workflow_cli.cli.commands import health, report

    names = {c.name for c in app.registered_commands}
    if "health" not in names:
        health.register(app)
    if "report" not in names:
        report.register(app)
    return cli


@pytest.fixture
def run_doc(mcli: Any, write: Callable[..., Path]) -> Callable[..., str]:
    """``run_doc(doc, name=..., exit_code=...)``: run a document with the CLI; return the instance id."""

    def _run(doc: dict[str, Any], *, name: str = "doc.json", exit_code: int = 0, args: tuple[str, ...] = ()) -> str:
        result = mcli("run", write(name, doc), *args, "--json")
        assert result.exit_code == exit_code, result
        return str(result.json()["id"])

    return _run


def iso(offset: float) -> str:
    """The ISO time ``offset`` seconds after T0."""
    from workflow_cli.clock import utc_iso

    return utc_iso(T0 + offset)


def task_state(status: str = "completed", *, attempts: list[tuple[float, float | None, str]] | None = None,
               error: str | None = None, kind: str | None = None, waiting: dict[str, Any] | None = None) -> dict[str, Any]:
    """A task state with a history of (start, end, status) attempts in seconds after T0."""
    history = []
    for n, (start, end, st) in enumerate(attempts or [], 1):
        entry: dict[str, Any] = {"attempt": n, "started_at": iso(start)}
        if end is not None:
            entry.update(finished_at=iso(end), status=st)
            if st == "failed":
                entry["error"] = error or "failed"
        history.append(entry)
    last = history[-1] if history else {}
    duration = (attempts[-1][1] - attempts[-1][0]) if attempts and attempts[-1][1] is not None else None
    return {"status": status, "attempts": len(history), "started_at": last.get("started_at"),
            "finished_at": last.get("finished_at"), "duration_seconds": duration, "error": error,
            "error_kind": kind, "exit_code": None, "outputs": {}, "waiting": waiting, "history": history}


def instance_state(iid: str, status: str, tasks: dict[str, Any], *, start: float | None = 0.0, end: float | None = None,
                   template: str = "tpl", error: str | None = None) -> dict[str, Any]:
    """An instance state as the fold of its events would hold it."""
    return {"id": iid, "name": f"{template} run", "template": template, "status": status,
            "created_at": iso(-1), "started_at": iso(start) if start is not None else None,
            "finished_at": iso(end) if end is not None else None, "params": {}, "vars": {},
            "error": error, "tasks": tasks}


@pytest.fixture
def states() -> Any:
    """The synthetic-state helpers: ``states.task(...)``, ``states.instance(...)``, ``states.iso(...)``, ``states.T0``."""

    class _States:
        T0 = T0
        task = staticmethod(task_state)
        instance = staticmethod(instance_state)

    _States.iso = staticmethod(iso)  # type: ignore[attr-defined]
    return _States


@pytest.fixture
def mixed_doc() -> dict[str, Any]:
    """A document whose run fails: one task fails after a retry, one is skipped, two complete."""
    import copy

    return copy.deepcopy(MIXED_DOC)


@pytest.fixture
def ok_doc() -> dict[str, Any]:
    """A document whose run completes: two no-op tasks."""
    import copy

    return copy.deepcopy(OK_DOC)
