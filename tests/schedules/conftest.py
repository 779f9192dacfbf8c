"""Fixtures for the schedule tests: a home with one scheduled template, and starters that record."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from workflow_cli.store.home import Home


def utc(*args: int) -> datetime:
    """An aware UTC datetime."""
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture
def schedule_home(home: Path) -> Home:
    """The test home as a Home object."""
    return Home(home)


@pytest.fixture
def scheduled(home: Path) -> Callable[..., str]:
    """``scheduled(cron, name="job", **schedule_fields)`` writes a one-noop-task home template with a schedule."""

    def _write(cron: str, name: str = "job", **fields: Any) -> str:
        doc = {"version": "2.0.0", "name": name, "parameters": {"who": {"type": "string", "default": "nobody"}},
               "schedule": {"cron": cron, **fields}, "tasks": {"only": {"action": "noop"}}}
        (home / "templates" / f"{name}.json").write_text(json.dumps(doc), encoding="utf-8")
        return name

    return _write


class Recorder:
    """A starter that only records which instances it was asked to start (they stay ``created``)."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def __call__(self, home: Home, instance_id: str) -> None:
        self.started.append(instance_id)


@pytest.fixture
def recorder() -> Recorder:
    """A recording starter: the runs it 'starts' stay active."""
    return Recorder()


@pytest.fixture
def run_now() -> Callable[[Home, str], None]:
    """A starter that runs the instance to the end in this process (the run is finished at once)."""
    from workflow_cli.ops.query import instance_paths
    from workflow_cli.ops.run import drive

    def _start(home: Home, instance_id: str) -> None:
        drive(home, instance_paths(home, instance_id))

    return _start


@pytest.fixture(name="utc")
def _utc_fixture() -> Callable[..., datetime]:
    """The ``utc`` helper (conftest modules are not importable under importlib mode)."""
    return utc
