"""The python action: in-process and isolated calls."""

from __future__ import annotations

import os
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from workflow_cli.actions.base import ActionContext, ActionResult
from workflow_cli.actions.python_callable import PythonAction

MODULE = "wf_test_python_targets"
SOURCE = '''
import math
import os
import sys
import time


def add(a, b=0):
    return a + b


def as_dict(**kwargs):
    return dict(kwargs)


def fail():
    raise ValueError("bad input")


def not_json():
    return {"s": {1, 2}}


def nan():
    return {"x": math.nan}


def big():
    return {"blob": "x" * (1024 * 1024 + 10)}


def with_ctx(name, ctx):
    ctx.log(f"hello {name}")
    return {"task": ctx.task_id}


def slow():
    time.sleep(1)
    return 1


def spin():
    while True:
        pass


def chatty():
    print("printed by the callable")
    sys.stdout.flush()
    os.system("echo from a subprocess")
    print("to stderr", file=sys.stderr)
    return {"pid": os.getpid()}


class Tools:
    @staticmethod
    def double(x):
        return 2 * x
'''


@pytest.fixture(scope="module")
def targets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("targets")
    (folder / f"{MODULE}.py").write_text(textwrap.dedent(SOURCE))
    return folder


@pytest.fixture(autouse=True)
def importable(targets_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(targets_dir))
    monkeypatch.setenv("WORKFLOW_CLI_KILL_GRACE", "0.2")


def call(tmp_path: Path, params: dict[str, Any], *, timeout: float | None = None) -> tuple[ActionResult, list[str]]:
    lines: list[str] = []
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    ctx = ActionContext("inst-1", "calc", 1, params, workspace, lines.append, timeout=timeout)
    return PythonAction().run(ctx), lines


@pytest.mark.parametrize("isolated", [False, True])
def test_success_wraps_non_dict_results(tmp_path: Path, isolated: bool) -> None:
    result, _ = call(tmp_path, {"callable": f"{MODULE}:add", "args": [1], "kwargs": {"b": 2}, "isolated": isolated})
    assert result.ok and result.outputs == {"result": 3}
    result, _ = call(tmp_path, {"callable": f"{MODULE}:as_dict", "kwargs": {"k": "v"}, "isolated": isolated})
    assert result.ok and result.outputs == {"k": "v"}


def test_dotted_attribute_after_the_colon(tmp_path: Path) -> None:
    result, _ = call(tmp_path, {"callable": f"{MODULE}:Tools.double", "args": [21]})
    assert result.ok and result.outputs == {"result": 42}


@pytest.mark.parametrize("isolated", [False, True])
def test_exception_is_an_error_with_traceback_in_log(tmp_path: Path, isolated: bool) -> None:
    result, lines = call(tmp_path, {"callable": f"{MODULE}:fail", "isolated": isolated})
    assert not result.ok and result.kind == "error"
    assert result.error == "ValueError: bad input"
    assert any(line.startswith("Traceback") for line in lines)


@pytest.mark.parametrize("name", ["not_json", "nan", "big"])
def test_results_that_cannot_be_outputs(tmp_path: Path, name: str) -> None:
    result, _ = call(tmp_path, {"callable": f"{MODULE}:{name}"})
    assert not result.ok and result.kind == "output"


def test_isolated_big_result_is_refused(tmp_path: Path) -> None:
    result, _ = call(tmp_path, {"callable": f"{MODULE}:big", "isolated": True})
    assert not result.ok and result.kind == "output" and "1 MiB" in (result.error or "")


def test_ctx_keyword_gets_the_context(tmp_path: Path) -> None:
    result, lines = call(tmp_path, {"callable": f"{MODULE}:with_ctx", "args": ["world"]})
    assert result.ok and result.outputs == {"task": "calc"}
    assert lines == ["hello world"]


@pytest.mark.parametrize("spec", [f"{MODULE}:missing", "no_such_module_xyz:f", "no_colon"])
def test_unresolvable_callable(tmp_path: Path, spec: str) -> None:
    result, _ = call(tmp_path, {"callable": spec})
    assert not result.ok and result.kind == "error"


def test_in_process_timeout_abandons_the_call(tmp_path: Path) -> None:
    result, _ = call(tmp_path, {"callable": f"{MODULE}:slow"}, timeout=0.1)
    assert not result.ok and result.kind == "timeout" and "isolated" in (result.error or "")


def test_isolated_child_output_goes_to_the_log(tmp_path: Path) -> None:
    result, lines = call(tmp_path, {"callable": f"{MODULE}:chatty", "isolated": True})
    assert result.ok and result.outputs["pid"] != os.getpid()
    for text in ("printed by the callable", "from a subprocess", "to stderr"):
        assert text in lines


def test_isolated_timeout_kills_an_infinite_loop(tmp_path: Path) -> None:
    result, _ = call(tmp_path, {"callable": f"{MODULE}:spin", "isolated": True}, timeout=0.5)
    assert not result.ok and result.kind == "timeout"


def test_isolated_cancel(tmp_path: Path) -> None:
    lines: list[str] = []
    ctx = ActionContext("i", "t", 1, {"callable": f"{MODULE}:spin", "isolated": True}, tmp_path, lines.append)
    threading.Timer(0.3, ctx.cancel.set).start()
    result = PythonAction().run(ctx)
    assert not result.ok and result.kind == "cancelled"


def test_validate() -> None:
    action = PythonAction()
    assert action.validate({"callable": "m:f", "args": [], "kwargs": {}, "isolated": True}, "p") == []
    assert [i.message for i in action.validate({}, "p")] == ["missing required field 'callable'"]
    dotted = action.validate({"callable": "pkg.mod.func"}, "p")
    assert dotted[0].path == "p.callable" and dotted[0].hint == "use 'pkg.mod:func'"
    paths = {i.path for i in action.validate({"callable": "m:f", "args": {}, "kwarg": {}}, "p")}
    assert paths == {"p.args", "p.kwarg"}
