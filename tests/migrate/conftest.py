"""Fixtures for the migration tests: a realistic document per old version, its 2.0.0 twin, and CLI helpers."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

# 1.0.0: an ETL chain on built-in agents, a template parameter, and a task without an agent (a no-op).
DOC_1_0_0: dict[str, Any] = {
    "version": "1.0.0",
    "name": "Nightly ETL",
    "description": "Extract, transform, validate and announce the nightly orders.",
    "category": "etl",
    "tags": ["etl", "legacy"],
    "parameters": {"source": {"type": "string", "default": "orders", "description": "Sample dataset to read."}},
    "tasks": [
        {"id": "extract", "name": "Extract", "agent": "builtin.extractor", "params": {"source": "{{ params.source }}"}},
        {"id": "transform", "name": "Transform", "agent": "builtin.transformer", "depends_on": ["extract"],
         "params": {"data": "{{ tasks.extract.outputs }}"}},
        {"id": "check", "name": "Validate", "agent": "builtin.validator", "depends_on": ["transform"],
         "params": {"data": "{{ tasks.transform.outputs }}", "required_fields": ["row"]}},
        {"id": "notify", "name": "Notify", "description": "Tell the team.", "agent": "builtin.notifier", "depends_on": ["check"],
         "params": {"to": "data-team", "subject": "ETL done", "message": "{{ tasks.check.outputs.count }} records loaded"}},
        {"id": "done", "name": "Done marker", "depends_on": ["notify"]},
    ],
}

# The same workflow written by hand in 2.0.0.
TWIN_2_0_0: dict[str, Any] = {
    "version": "2.0.0",
    "name": "Nightly ETL",
    "description": "Extract, transform, validate and announce the nightly orders.",
    "category": "etl",
    "tags": ["etl", "legacy"],
    "parameters": {"source": {"type": "string", "default": "orders", "description": "Sample dataset to read."}},
    "tasks": {
        "extract": {"name": "Extract", "agent_id": "builtin.extractor", "parameters": {"source": "{{ params.source }}"}},
        "transform": {"name": "Transform", "agent_id": "builtin.transformer", "dependencies": ["extract"],
                      "parameters": {"data": "{{ tasks.extract.outputs }}"}},
        "check": {"name": "Validate", "agent_id": "builtin.validator", "dependencies": ["transform"],
                  "parameters": {"data": "{{ tasks.transform.outputs }}", "required_fields": ["row"]}},
        "notify": {"name": "Notify", "description": "Tell the team.", "agent_id": "builtin.notifier", "dependencies": ["check"],
                   "parameters": {"to": "data-team", "subject": "ETL done", "message": "{{ tasks.check.outputs.count }} records loaded"}},
        "done": {"name": "Done marker", "dependencies": ["notify"]},
    },
}

# 1.1.0: a fan-out over workers, with execution modes.
DOC_1_1_0: dict[str, Any] = {
    "version": "1.1.0",
    "name": "Word counts",
    "tasks": [
        {"id": "split", "name": "Split", "agent": "builtin.splitter",
         "params": {"data": "the quick brown fox jumps over the lazy dog", "partitions": 2}},
        {"id": "count_a", "agent": "builtin.worker", "depends_on": ["split"], "execution_mode": "parallel",
         "params": {"data": "{{ tasks.split.outputs.partitions[0] }}", "partition": 1}},
        {"id": "count_b", "agent": "builtin.worker-2", "depends_on": ["split"], "execution_mode": "sequential",
         "params": {"data": "{{ tasks.split.outputs.partitions[1] }}", "partition": 2, "transform": "reverse"}},
        {"id": "total", "agent": "builtin.aggregator", "depends_on": ["count_a", "count_b"],
         "params": {"results": ["{{ tasks.count_a.outputs }}", "{{ tasks.count_b.outputs }}"]}},
    ],
}

# 1.2.0: triage with one condition per task.
DOC_1_2_0: dict[str, Any] = {
    "version": "1.2.0",
    "name": "Ticket triage",
    "parameters": {"ticket": {"type": "string", "required": True, "description": "The ticket text."}},
    "tasks": [
        {"id": "assess", "name": "Assess", "agent": "builtin.assessor", "params": {"data": "{{ params.ticket }}"}},
        {"id": "page_oncall", "agent": "builtin.notifier", "depends_on": ["assess"], "execution_mode": "conditional",
         "conditions": "tasks.assess.outputs.priority == 'high'", "params": {"to": "oncall", "subject": "page", "message": "{{ params.ticket }}"}},
        {"id": "queue", "agent": "builtin.notifier", "depends_on": ["assess"],
         "conditions": "{{ tasks.assess.outputs.priority != 'high' }}", "params": {"to": "queue", "subject": "queued"}},
    ],
}

OLD_DOCS = {"1.0.0": DOC_1_0_0, "1.1.0": DOC_1_1_0, "1.2.0": DOC_1_2_0}

# Runs the console entry point with the migrate sub-app registered (whether or not the app lists it yet).
_BOOT = ("from workflow_cli.cli.app import app, main; from workflow_cli.cli.commands import migrate as m; "
         "any(g.name == 'migrate' for g in app.registered_groups) or m.register(app); main()")
BOOT_ARGV = [sys.executable, "-c", _BOOT]


def _ensure_registered() -> None:
    from workflow_cli.cli.app import app
    from workflow_cli.cli.commands import migrate

    if not any(group.name == "migrate" for group in app.registered_groups):
        migrate.register(app)


_ensure_registered()


@pytest.fixture
def old_docs() -> dict[str, dict[str, Any]]:
    """A deep copy of the realistic document of each old version."""
    return copy.deepcopy(OLD_DOCS)


@pytest.fixture
def twin() -> dict[str, Any]:
    """The hand-written 2.0.0 twin of the 1.0.0 document."""
    return copy.deepcopy(TWIN_2_0_0)


@pytest.fixture
def put_template(home: Path) -> Callable[[str, Any], Path]:
    """``put_template("etl.json", doc)``: a home template (``.yaml`` names are written as YAML)."""

    def _put(name: str, doc: Any) -> Path:
        import yaml

        path = home / "templates" / name
        text = doc if isinstance(doc, str) else (json.dumps(doc, indent=2) if name.endswith(".json") else yaml.safe_dump(doc, sort_keys=False))
        path.write_text(text, encoding="utf-8")
        return path

    return _put


@pytest.fixture
def boot_cli(home: Path, log_dir: Path) -> Callable[..., subprocess.Popen[str]]:
    """Start ``workflow-cli --home HOME ARGS`` as a child process (migrate registered)."""

    def _start(*args: str) -> subprocess.Popen[str]:
        import os

        env = {**os.environ, "NO_COLOR": "1", "WORKFLOW_CLI_LOG_DIR": str(log_dir)}
        return subprocess.Popen([*BOOT_ARGV, "--home", str(home), *args], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    return _start
