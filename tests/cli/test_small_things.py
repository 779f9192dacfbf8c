"""Small things a user hits (issue 12): alerts exit code, cached results, tick output, templates show,
top-level help, shell completion, the home named in output and errors, graph states.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

FAILING = {"version": "2.0.0", "name": "Failing", "tasks": {"boom": {"action": "command", "parameters": {"command": "exit 3"}}}}
TIMER = {
    "version": "2.0.0",
    "name": "Timer",
    "tasks": {
        "nap": {"action": "wait", "parameters": {"seconds": 300}},
        "after": {"action": "noop", "dependencies": ["nap"]},
    },
}
GRAPH = {
    "version": "2.0.0",
    "name": "Graph",
    "tasks": {
        "ok": {"name": "Fine step", "action": "noop"},
        "bad": {"name": "Bad step", "action": "command", "dependencies": ["ok"], "parameters": {"command": "exit 1"}},
        "never": {"action": "noop", "dependencies": ["bad"]},
    },
}


def _run(sh, path, code):
    result = sh("--json", "run", path)
    assert result.exit_code == code, result
    return result.json()["id"]


def test_alerts_exits_1_on_a_critical_alert(sh, write):
    assert sh("alerts").exit_code == 0
    iid = _run(sh, write("f.json", FAILING), 1)
    result = sh("alerts")
    assert result.exit_code == 1, result
    assert iid in result.stdout and "critical" in result.stdout


def test_get_cached_result_is_none_when_nothing_is_cached(home):
    from workflow_cli import WorkflowOrchestrator

    orch = WorkflowOrchestrator(home=home)
    assert orch.get_cached_result("20990101-000000-000000") is None  # no such instance
    iid = asyncio.run(orch.create_workflow({"version": "2.0.0", "name": "S", "tasks": {"a": {"action": "noop"}}}))
    assert orch.get_cached_result(iid) is None  # an instance with nothing cached
    orch.cache_workflow_result(iid, {"n": 1})
    assert orch.get_cached_result(iid) == {"n": 1}


def test_tick_prints_readable_lines(sh, write):
    iid = _run(sh, write("t.json", TIMER), 3)
    idle = sh("tick")
    assert idle.exit_code == 0 and idle.stdout == "" and "nothing to do" in idle.stderr
    result = sh("tick", env={"WORKFLOW_CLI_TIME_OFFSET": "600"})
    assert result.exit_code == 0, result
    line = result.stdout.strip()
    assert line.startswith(f"{iid}: resumed (") and line.endswith("now completed"), line
    assert "{" not in result.stdout and "'" not in result.stdout  # not a Python dict


def test_templates_show_leaves_the_default_of_a_required_parameter_empty(sh):
    result = sh("templates", "show", "approval_chain")
    assert result.exit_code == 0, result
    row = next(line for line in result.stdout.splitlines() if "level1_approver" in line)
    assert "''" not in row and "yes" in row
    agents = next(line for line in sh("templates", "show", "parallel_processing").stdout.splitlines() if "worker_agent_1" in line)
    assert '"builtin.worker"' in agents


def test_top_level_help_names_no_spec_section(sh):
    result = sh("--help")
    assert result.exit_code == 0
    assert "SPEC" not in result.stdout
    assert "graph" in result.stdout


def test_shell_completion_is_available(sh, tmp_path):
    # typer finds the shell among the command's ancestors: run it from bash (a test runner started in the
    # background has none)
    from_bash = ["bash", "-c", '"$@"; exit $?', "bash", str(Path(sys.executable).with_name("workflow-cli"))]
    shown = sh("--show-completion", "bash", executable=from_bash)
    assert shown.exit_code == 0, shown
    assert "_WORKFLOW_CLI_COMPLETE" in shown.stdout
    words = sh(env={"_WORKFLOW_CLI_COMPLETE": "complete_bash", "COMP_WORDS": "workflow-cli sta", "COMP_CWORD": "1"})
    assert set(words.stdout.split()) == {"start", "status"}
    installed = sh("--install-completion", "bash", env={"HOME": str(tmp_path), "SHELL": "/bin/bash"}, executable=from_bash)
    assert installed.exit_code == 0, installed
    assert (tmp_path / ".bash_completions" / "workflow-cli.sh").is_file()


def test_create_run_start_name_the_home_on_stderr(sh, home, write):
    created = sh("create", write("g.json", GRAPH))
    assert created.exit_code == 0 and f"in home {home}" in created.stderr
    started = sh("start", created.stdout.strip().splitlines()[-1])
    assert f"home {home}" in started.stderr
    ran = sh("run", write("g.json", GRAPH))
    assert f"(home {home})" in ran.stderr


def test_not_found_errors_name_the_home_searched(sh, home, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (("status", "nope"), ("logs", "nope"), ("templates", "show", "nope"), ("create", "nope")):
        result = sh(*args, cwd=elsewhere)
        assert result.exit_code == 4, result
        assert f"(home: {home})" in result.stderr, result
    as_json = sh("--json", "status", "nope")
    assert as_json.json()["error"]["home"] == str(home)


def test_instance_graphs_carry_task_states(sh, write):
    iid = _run(sh, write("g.json", GRAPH), 1)
    mermaid = sh("graph", iid, "--format", "mermaid").stdout
    assert 'ok["ok [noop] (completed)"]' in mermaid
    assert "classDef failed fill:#f8d7da" in mermaid and "class bad failed" in mermaid
    dot = sh("graph", iid, "--format", "dot").stdout
    assert '"bad" [label="bad [command] (failed)", style=filled, fillcolor="#f8d7da"' in dot
    nodes = {n["id"]: n for n in sh("graph", iid, "--format", "json").json()["nodes"]}
    assert nodes["ok"]["status"] == "completed" and nodes["bad"]["status"] == "failed"
    assert nodes["bad"]["name"] == "Bad step"
    template = sh("graph", write("g.json", GRAPH), "--format", "mermaid").stdout
    assert "classDef" not in template and "(completed)" not in template


def test_tick_on_a_missing_home_is_exit_4_and_makes_nothing(sh, tmp_path):
    """A cron line with a mistyped --home fails loudly instead of ticking an empty home it made."""
    typo = tmp_path / "flws"
    result = sh("--home", typo, "tick")
    assert result.exit_code == 4 and f"no home at {typo}" in result.stderr
    assert not typo.exists()
