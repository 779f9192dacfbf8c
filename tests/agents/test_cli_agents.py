"""``workflow-cli agents [list | show ID]`` in-process (and through the console script once registered)."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import pytest
import typer

from workflow_cli.agents.stats import record_call, running
from workflow_cli.cli.commands.agents import register
from workflow_cli.cli.output import CliContext

JSON_KEYS = {"id", "kind", "type", "capabilities", "max_concurrent", "source", "success_rate", "calls"}


def _app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def root(ctx: typer.Context, home: Optional[str] = typer.Option(None, "--home"),
             json_out: bool = typer.Option(False, "--json")) -> None:
        ctx.obj = CliContext(home_arg=home, json=json_out, color=False)

    register(app)
    return app


def invoke(*args: str) -> Any:
    from typer.testing import CliRunner

    runner = CliRunner(mix_stderr=False) if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters else CliRunner()
    result = runner.invoke(_app(), list(args), env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert "Traceback" not in result.stdout
    return result


@pytest.fixture
def home_with_agents(agent_home, write_agents):
    write_agents("""
        agents:
          word-counter:
            kind: command
            type: worker
            capabilities: [count]
            command: ["python3", "-c", "print(1)"]
            max_concurrent: 2
          remote:
            kind: http
            url: "https://user:pw@agents.example.com/run?key=abc"
            headers: {Authorization: "Bearer hush"}
    """)
    return agent_home


def test_agents_json_lists_builtin_and_home_agents(home_with_agents):
    root = home_with_agents.root
    for ok in (True, True, True, False):
        record_call(root, "word-counter", ok=ok, seconds=0.1)
    with running(root, "builtin.worker", "inst", "t1"):
        result = invoke("--home", str(root), "--json", "agents")
    assert result.exit_code == 0, result.stdout
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    assert all(JSON_KEYS <= set(row) for row in rows.values())
    counter = rows["word-counter"]
    assert (counter["kind"], counter["type"], counter["capabilities"], counter["max_concurrent"], counter["source"]) == (
        "command", "worker", ["count"], 2, "home")
    assert (counter["success_rate"], counter["calls"]) == (0.75, 4)
    assert rows["builtin.worker"]["load"] == 1 and rows["builtin.splitter"]["source"] == "builtin"
    assert rows["builtin.splitter"]["success_rate"] is None
    listed = invoke("--home", str(root), "--json", "agents", "list")
    assert [r["id"] for r in json.loads(listed.stdout)] == list(rows)


def test_agents_human_table(home_with_agents):
    result = invoke("--home", str(home_with_agents.root), "agents")
    assert result.exit_code == 0
    assert "word-counter" in result.stdout and "builtin.aggregator" in result.stdout


def test_agents_show_hides_secrets(home_with_agents):
    result = invoke("--home", str(home_with_agents.root), "--json", "agents", "show", "remote")
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    assert info["url"] == "https://agents.example.com/run" and info["headers"] == {"Authorization": "***"}
    assert "hush" not in result.stdout and "pw" not in result.stdout and "abc" not in result.stdout
    human = invoke("--home", str(home_with_agents.root), "agents", "show", "remote")
    assert human.exit_code == 0 and "hush" not in human.stdout


def test_agents_show_unknown_is_exit_4_and_bad_file_is_exit_2(home_with_agents, write_agents):
    missing = invoke("--home", str(home_with_agents.root), "agents", "show", "word-countr")
    assert missing.exit_code == 4 and "did you mean 'word-counter'" in missing.stderr
    path = write_agents("agents:\n  x: {kind: python}\n")
    bad = invoke("--home", str(home_with_agents.root), "agents")
    assert bad.exit_code == 2 and f"{path}:agents.x.callable" in bad.stderr


def _registered() -> bool:
    from workflow_cli.cli.app import COMMAND_MODULES

    return "agents" in COMMAND_MODULES


@pytest.mark.skipif(not _registered(), reason="'agents' is not in cli.app.COMMAND_MODULES yet")
def test_agents_json_through_the_console_script(home_with_agents):
    script = Path(sys.executable).with_name("workflow-cli")
    env = {**os.environ, "WORKFLOW_HOME": str(home_with_agents.root), "NO_COLOR": "1"}
    proc = subprocess.run([str(script), "agents", "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert {"word-counter", "builtin.worker"} <= {row["id"] for row in json.loads(proc.stdout)}
