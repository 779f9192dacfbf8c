"""Fixtures for the agent tests: a home folder and hand-built action contexts for agent tasks."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

from workflow_cli.actions.base import ActionContext
from workflow_cli.model.document import build_task, build_workflow
from workflow_cli.store.home import Home


@pytest.fixture
def agent_home(tmp_path: Path) -> Home:
    """An empty home folder (mode 0700) without agents.yaml."""
    return Home(tmp_path / "home").ensure()


@pytest.fixture
def write_agents(agent_home: Home) -> Callable[[str], Path]:
    """``write_agents(yaml_text)`` writes the home's agents.yaml."""

    def _write(text: str) -> Path:
        agent_home.agents_file.write_text(textwrap.dedent(text), encoding="utf-8")
        return agent_home.agents_file

    return _write


@pytest.fixture
def make_ctx(tmp_path: Path, agent_home: Home) -> Callable[..., tuple[ActionContext, list[str]]]:
    """``make_ctx(task_spec, parameters=..., agents=..., scope=...)``: a context as the runner builds it."""

    def _make(task_spec: dict[str, Any], *, parameters: dict[str, Any] | None = None, agents: dict[str, Any] | None = None,
              scope: dict[str, Any] | None = None, task_id: str = "work", timeout: float | None = None,
              dependencies_outputs: dict[str, Any] | None = None) -> tuple[ActionContext, list[str]]:
        workspace = tmp_path / "workspace"
        workspace.mkdir(exist_ok=True)
        doc: dict[str, Any] = {"version": "2.0.0", "name": "t", "tasks": {task_id: task_spec}}
        if agents:
            doc["agents"] = agents
        workflow = build_workflow(doc)
        task = build_task(task_id, 0, task_spec, {})
        tasks_scope = {dep: {"status": "completed", "outputs": out} for dep, out in (dependencies_outputs or {}).items()}
        lines: list[str] = []
        ctx = ActionContext(
            instance_id="20250101-000000-000abc",
            task_id=task_id,
            attempt=1,
            parameters=parameters if parameters is not None else dict(task.parameters),
            workspace=workspace,
            log=lines.append,
            timeout=timeout,
            home=agent_home.root,
            task=task,
            services={"workflow": workflow, "home": agent_home,
                      "scope": {"params": {}, "vars": {}, "tasks": tasks_scope, **(scope or {})}},
        )
        return ctx, lines

    return _make
