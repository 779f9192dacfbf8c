"""JUnit XML (SPEC 9, ``--junit FILE``): one test suite per instance, one test case per task."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from workflow_cli.monitor.junit import LOG_LINES, write_junit
from workflow_cli.store.instances import InstancePaths, load_state


def _parse(path: Path) -> tuple[ET.Element, dict[str, ET.Element]]:
    suite = ET.parse(path).getroot()
    assert suite.tag == "testsuite"
    return suite, {case.get("name"): case for case in suite.iter("testcase")}


def test_every_task_state_maps_to_a_test_case(states, tmp_path):
    tasks = {
        "ok": states.task(attempts=[(0, 1.5, "completed")]),
        "bad": states.task("failed", attempts=[(1, 2, "failed"), (2, 4, "failed")], error="exit 3", kind="error"),
        "gone": states.task("cancelled", attempts=[(2, 3, "cancelled")], error="cancelled by alice"),
        "skip": states.task("skipped", error="condition false"),
        "todo": states.task("pending"),
        "gate": states.task("waiting", attempts=[(4, None, "")], waiting={"kind": "approval"}),
    }
    state = states.instance("i1", "failed", tasks, end=10, template="nightly")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "bad.log").write_text("".join(f"line {n}\n" for n in range(1, 26)))
    out = tmp_path / "reports" / "junit.xml"  # the folder is created
    write_junit(state, out, log_dir=logs)
    suite, cases = _parse(out)
    assert suite.get("name") == "nightly run"
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped", "time")} == {
        "tests": "6", "failures": "1", "errors": "1", "skipped": "3", "time": "10.000"}
    assert list(cases) == list(tasks) and {c.get("classname") for c in cases.values()} == {"nightly"}
    assert cases["ok"].get("time") == "1.500" and len(cases["ok"]) == 0
    failure = cases["bad"].find("failure")
    assert failure is not None and (failure.get("message"), failure.get("type")) == ("exit 3", "error")
    lines = failure.text.splitlines()
    assert len(lines) == LOG_LINES and lines[0] == "line 6" and lines[-1] == "line 25"
    assert cases["gone"].find("error").get("type") == "cancelled"
    assert cases["skip"].find("skipped").get("message") == "condition false"
    assert cases["todo"].find("skipped").get("message").startswith("not run:")
    assert "approval" in cases["gate"].find("skipped").get("message")


def test_text_that_xml_cannot_hold_is_replaced(states, tmp_path):
    tasks = {"bad": states.task("failed", attempts=[(0, 1, "failed")], error="red \x1b[31m<&>\x00 end", kind="error")}
    out = tmp_path / "j.xml"
    write_junit(states.instance("i1", "failed", tasks, end=1), out, log_dir=None)
    _, cases = _parse(out)
    failure = cases["bad"].find("failure")
    assert failure.get("message") == "red \ufffd[31m<&>\ufffd end" and failure.text == failure.get("message")


def test_real_failed_run(run_doc, mixed_doc, home, tmp_path):
    iid = run_doc(mixed_doc, exit_code=1)
    paths = InstancePaths(home / "instances" / iid)
    out = tmp_path / "junit.xml"
    write_junit(load_state(paths), out, log_dir=paths.logs)
    suite, cases = _parse(out)
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    assert suite.get("name") == "Mixed <run>"
    failure = cases["build"].find("failure")
    assert "exited with code 3" in failure.get("message") and "oops" in failure.text
    assert cases["after"].find("skipped") is not None
    assert [child.tag for child in cases["prepare"]] == ["properties"]  # passed: only its CPU and memory figures
