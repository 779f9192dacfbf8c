"""JUnit XML for CI systems (SPEC 9, ``--junit FILE``): one test suite per instance, one test case per task.

Mapping of task states::

    completed            a passing test case
    failed               <failure message=error type=error_kind> with the last log lines as text
    cancelled            <error message=... type="cancelled">
    skipped              <skipped message=reason>
    pending, waiting,    <skipped message="not run: ..."> (the run stopped before them, or they wait
    running              for an approval, a signal or a timer)
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workflow_cli.clock import parse_iso

LOG_LINES = 20
# characters XML 1.0 cannot carry at all (ANSI escapes in logs contain \x1b, for one)
_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: Any) -> str:
    """``text`` as a string XML can hold."""
    return _INVALID_XML.sub("\ufffd", "" if text is None else str(text))


def _seconds(value: Any) -> str:
    return f"{float(value or 0.0):.3f}"


def _log_tail(log_dir: Path | None, task_id: str) -> list[str]:
    """The last LOG_LINES lines of a task's log (stored with secrets already masked), if there is one."""
    if log_dir is None:
        return []
    path = Path(log_dir) / f"{task_id}.log"
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return [line.rstrip("\n") for line in deque(fh, maxlen=LOG_LINES)]
    except OSError:
        return []


def _not_run(task: Mapping[str, Any]) -> str:
    status = task.get("status")
    waiting = task.get("waiting") or {}
    if status == "waiting":
        return f"not run: waiting ({waiting.get('kind') or 'an outside event'})"
    if status == "running":
        return "not run: still running when the report was written"
    return "not run: the run stopped before this task"


def _testcase(suite: ET.Element, classname: str, task_id: str, task: Mapping[str, Any], log_dir: Path | None) -> str:
    """Append the test case of one task; return its outcome (passed, failure, error, skipped)."""
    case = ET.SubElement(suite, "testcase", classname=_clean(classname), name=_clean(task_id),
                         time=_seconds(task.get("duration_seconds")))
    if task.get("cpu_seconds") is not None:  # the latest attempt's process tree (SPEC 9)
        props = ET.SubElement(case, "properties")
        for key in ("cpu_seconds", "max_rss_mb"):
            ET.SubElement(props, "property", name=key, value=_clean(task.get(key)))
    status = task.get("status")
    if status == "completed":
        return "passed"
    if status == "failed":
        error = task.get("error") or "failed"
        failure = ET.SubElement(case, "failure", message=_clean(error), type=_clean(task.get("error_kind") or "error"))
        failure.text = _clean("\n".join(_log_tail(log_dir, task_id)) or error)
        return "failure"
    if status == "cancelled":
        ET.SubElement(case, "error", message=_clean(task.get("error") or "cancelled"), type="cancelled")
        return "error"
    reason = (task.get("error") or "skipped") if status == "skipped" else _not_run(task)
    ET.SubElement(case, "skipped", message=_clean(reason))
    return "skipped"


def _run_time(state: Mapping[str, Any]) -> float:
    """Seconds from start to finish of the instance, else the sum of its task durations."""
    try:
        if state.get("started_at") and state.get("finished_at"):
            return max(0.0, parse_iso(state["finished_at"]) - parse_iso(state["started_at"]))
    except ValueError:
        pass
    return sum(float(t.get("duration_seconds") or 0.0) for t in state["tasks"].values())


def junit_tree(state: Mapping[str, Any], *, log_dir: Path | None = None) -> ET.ElementTree:
    """The JUnit document of an instance's state."""
    classname = str(state.get("template") or state.get("name") or "workflow")
    suite = ET.Element("testsuite", name=_clean(state.get("name") or state["id"]), timestamp=_clean(state.get("started_at") or ""))
    props = ET.SubElement(suite, "properties")
    for key in ("id", "template", "status"):
        ET.SubElement(props, "property", name=f"workflow.{key}", value=_clean(state.get(key) or ""))
    counts = {"passed": 0, "failure": 0, "error": 0, "skipped": 0}
    for task_id, task in state["tasks"].items():
        counts[_testcase(suite, classname, task_id, task, log_dir)] += 1
    suite.set("tests", str(len(state["tasks"])))
    suite.set("failures", str(counts["failure"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", _seconds(_run_time(state)))
    ET.indent(suite)
    return ET.ElementTree(suite)


def write_junit(state: Mapping[str, Any], path: Path, *, log_dir: Path | None = None) -> None:
    """Write the JUnit XML of an instance to ``path`` (atomically; missing parent folders are created)."""
    from workflow_cli.store.atomic import check_output_path, write_bytes_atomic

    target = check_output_path(Path(path), "--junit", parent_must_exist=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    root: Any = junit_tree(state, log_dir=log_dir).getroot()
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    write_bytes_atomic(target, data + b"\n", mode=0o644)
