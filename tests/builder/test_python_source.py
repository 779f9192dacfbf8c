"""``FILE.py:NAME`` wherever the CLI takes a document (SPEC 10): validate, graph, create, run, --dry-run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FLOWS = """\
from workflow_cli import Workflow

nightly = Workflow("nightly", params={"day": str})
extract = nightly.command(
    "extract", 'echo "rows=21" >> "$WORKFLOW_OUTPUT"; echo day={{ params.day }} >> "$WORKFLOW_OUTPUT"')
total = nightly.python("total", "etl:total", args=[extract.outputs["rows"]], kwargs={"factor": 2})
nightly.command("report", ["sh", "-c", 'echo "{\\\\"line\\\\": \\\\"$1 rows on $2\\\\"}"', "sh",
                           total.outputs["total"], extract.outputs["day"]])

helper = 3
print("printed while importing")
"""

ETL = """\
def total(rows, factor=1):
    return {"total": int(rows) * factor}
"""


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    """flows.py beside the etl module its python task calls (found because the file's folder is on sys.path)."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "etl.py").write_text(ETL)
    path = folder / "flows.py"
    path.write_text(FLOWS)
    return path


def test_run_a_python_workflow_from_the_console_script(sh: Any, flows: Path, tmp_path: Path) -> None:
    result = sh("--json", "run", f"{flows}:nightly", "--param", "day=mon", cwd=tmp_path)
    assert result.exit_code == 0, result
    status = result.json()  # what the file printed went to stderr: stdout is one JSON document
    assert "printed while importing" in result.stderr
    assert status["status"] == "completed" and status["template"] == "nightly"
    tasks = status["tasks"]
    assert tasks["extract"]["outputs"] == {"rows": "21", "day": "mon"}
    assert tasks["total"]["outputs"] == {"total": 42}  # a python task reads the command task's outputs
    assert tasks["report"]["outputs"] == {"line": "42 rows on mon"}  # and a command task reads the python task's


def test_validate_graph_dry_run_and_create(sh: Any, flows: Path) -> None:
    valid = sh("--json", "validate", f"{flows}:nightly")
    assert valid.exit_code == 0 and valid.json()["valid"] is True, valid
    graph = sh("--json", "graph", f"{flows}:nightly").json()
    assert sorted(map(tuple, graph["edges"])) == [("extract", "report"), ("extract", "total"), ("total", "report")]
    plan = sh("--json", "run", "--dry-run", str(flows), "--param", "day=tue")  # one Workflow in the file: NAME optional
    assert plan.exit_code == 0, plan
    assert [s["task"] for s in plan.json()["steps"]] == ["extract", "total", "report"]
    created = sh("--json", "create", f"{flows}:nightly", "--param", "day=wed")
    assert created.exit_code == 0, created
    assert created.json()["template"] == "nightly" and created.json()["status"] == "created"


def test_the_instance_keeps_the_plain_document(sh: Any, flows: Path, home: Path) -> None:
    import runpy

    from workflow_cli.ops.query import instance_paths
    from workflow_cli.store.home import Home
    from workflow_cli.store.instances import read_document

    created = sh("--json", "create", f"{flows}:nightly", "--param", "day=thu").json()
    expected = runpy.run_path(str(flows))["nightly"].document(validate=False)
    command = expected["tasks"]["extract"]["parameters"]["command"]
    expected["tasks"]["extract"]["parameters"]["command"] = command.replace("{{ params.day }}", "thu")  # resolved at create
    assert read_document(instance_paths(Home(home), created["id"])) == expected
    flows.unlink()  # start never imports the file again
    # another process, elsewhere: the python task still finds etl.py beside the file the instance came from
    started = sh("--json", "start", created["id"], cwd=home)
    assert started.exit_code == 0, started
    assert started.json()["tasks"]["report"]["outputs"] == {"line": "42 rows on thu"}


@pytest.mark.parametrize(
    ("arg", "code", "message"),
    [
        ("{flows}:nighty", 2, "no workflow named 'nighty' (did you mean 'nightly'?)"),
        ("{flows}:helper", 2, "'helper' is not a Workflow (it is a int)"),
        ("{missing}:nightly", 4, "python file not found"),
        ("{broken}:wf", 2, "importing the file failed: NameError: name 'undefined_name' is not defined (line 3)"),
        ("{syntax}", 2, "importing the file failed: SyntaxError"),
        ("{builder_error}", 2, "InvalidInputError: tasks.b.dependencies[0]: unknown task 'aa' (did you mean 'a'?) (line 4)"),
        ("{exits}", 2, "importing the file failed: SystemExit: 3"),
        ("{empty}", 2, "name the workflow"),
    ],
)
def test_bad_python_sources(sh: Any, cli: Any, write: Callable[..., Path], home: Path, snapshot_tree: Any,
                            arg: str, code: int, message: str) -> None:
    files = {
        "flows": write("flows.py", FLOWS),
        "missing": Path("no/such/file.py"),
        "broken": write("broken.py", "from workflow_cli import Workflow\nwf = Workflow('x')\nundefined_name()\n"),
        "syntax": write("syntax.py", "def (:\n"),
        "builder_error": write("builder_error.py",
                               "from workflow_cli import Workflow\nwf = Workflow('x')\nwf.noop('a')\nwf.noop('b', after=['aa'])\n"),
        "exits": write("exits.py", "import sys\nsys.exit(3)\n"),
        "empty": write("empty.py", "x = 1\n"),
    }
    source = arg.format(**files)
    before = snapshot_tree(home)
    calls = [(cli, verb) for verb in (["validate"], ["create"], ["run"], ["run", "--dry-run"])] + [(sh, ["run"])]
    for runner, verb in calls:
        result = runner(*verb, source)
        assert result.exit_code == code, result
        assert message in result.stderr, result
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and message in errors[0], result  # one line, naming the file
    graph = cli("graph", source)
    assert graph.exit_code == code and message in graph.stderr, graph
    assert snapshot_tree(home) == before


def test_validate_json_names_the_file(cli: Any, write: Callable[..., Path]) -> None:
    path = write("flows.py", FLOWS)
    result = cli("--json", "validate", f"{path}:nighty")
    assert result.exit_code == 2
    assert result.json()["errors"] == [{"path": str(path), "message": "no workflow named 'nighty'", "hint": "did you mean 'nightly'?"}]


def test_functions_of_the_file_become_python_tasks(sh: Any, tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "pipeline.py").write_text(
        "from workflow_cli import Workflow\n\n"
        "def double(n):\n    return {'n': n * 2}\n\n"
        "flow = Workflow('pipeline')\n"
        "first = flow.python('first', double, args=[4])\n"
        "flow.python('second', double, args=[first.outputs['n']])\n"
    )
    result = sh("--json", "run", f"{folder / 'pipeline.py'}:flow")
    assert result.exit_code == 0, result
    doc = result.json()
    assert doc["tasks"]["second"]["outputs"] == {"n": 16}
    shown = sh("--json", "validate", str(folder / "pipeline.py"))
    assert shown.exit_code == 0, shown
    assert json.loads(shown.stdout)["valid"] is True


def test_an_invalid_workflow_in_a_file_is_reported_like_the_same_document(cli: Any, write: Callable[..., Path]) -> None:
    code = (
        "from workflow_cli import Workflow\n"
        "bad = Workflow('bad', on_failure='explode')\n"
        "a = bad.command('a', 'echo {{ tasks.nope.outputs }} {{ params.missing }}')\n"
        "bad.agent('b', agent_id='no_such_agent', after=[a])\n"
        "if __name__ == '__main__':\n"
        "    import json, sys\n"
        "    json.dump(bad.document(validate=False), open(sys.argv[1], 'w'))\n"
    )
    path = write("bad.py", code)
    as_json = path.with_name("bad.json")
    import subprocess
    import sys

    subprocess.run([sys.executable, str(path), str(as_json)], check=True)
    from_file = cli("--json", "validate", f"{path}:bad")
    from_json = cli("--json", "validate", str(as_json))
    assert from_file.exit_code == from_json.exit_code == 2
    assert from_file.json()["errors"] == from_json.json()["errors"] != []
    created = cli("create", f"{path}:bad")
    assert created.exit_code == 2 and "on_failure" in created.stderr
