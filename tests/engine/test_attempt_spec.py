"""An attempt is plain data: it survives pickle and JSON and runs the same afterwards (what a remote executor needs)."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import pytest

from workflow_cli.engine.executors.local import LocalExecutor
from workflow_cli.engine.spec import AttemptSpec


def _spec(tmp_path: Path) -> AttemptSpec:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    script = "import os, pathlib; print('hello', os.environ['GREETING'], 'hunter2-secret'); " \
             "pathlib.Path(os.environ['WORKFLOW_OUTPUT']).write_text('{\"cwd\": \"' + os.getcwd() + '\"}')"
    return AttemptSpec(instance_id="wf-7", task_id="greet", action="command", attempt=2,
                       parameters={"command": [sys.executable, "-c", script]}, env={"GREETING": "world"},
                       workspace=str(workspace), timeout=30.0, idempotency_key="wf-7:greet",
                       log_path=str(tmp_path / "greet.log"), log_header="=== greet attempt 2 ===\n", unit="greet",
                       output_file=str(tmp_path / "greet.2"), secrets=("hunter2-secret",), home=str(tmp_path))


@pytest.mark.parametrize("transport", ["pickle", "json"])
def test_a_spec_round_trips_and_runs_with_the_registered_action(tmp_path: Path, transport: str) -> None:
    original = _spec(tmp_path)
    copy = pickle.loads(pickle.dumps(original)) if transport == "pickle" else AttemptSpec.from_json(original.to_json())
    assert copy == original
    executor = LocalExecutor(1)
    executor.submit(copy, key=("greet", 2))
    [(key, result)] = executor.poll(30)
    executor.shutdown(wait=True)
    assert key == ("greet", 2) and result.ok, result
    assert result.outputs == {"cwd": str(tmp_path / "ws")}
    log = (tmp_path / "greet.log").read_text()
    assert log.startswith("=== greet attempt 2 ===") and "hello world ***" in log and "hunter2" not in log
    assert not (tmp_path / "greet.2").exists()  # the output file does not outlive the attempt


def test_the_json_form_is_one_plain_document_and_a_newer_format_is_refused(tmp_path: Path) -> None:
    text = _spec(tmp_path).to_json()
    data = json.loads(text)
    assert data["format"] == 1 and data["action"] == "command" and data["secrets"] == ["hunter2-secret"]
    data["format"] = 2
    with pytest.raises(ValueError, match="format"):
        AttemptSpec.from_json(json.dumps(data))


def test_a_spec_is_frozen(tmp_path: Path) -> None:
    with pytest.raises(AttributeError):
        _spec(tmp_path).attempt = 3  # type: ignore[misc]
