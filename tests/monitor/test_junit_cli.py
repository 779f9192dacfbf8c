"""``--junit FILE`` on run/retry writes a JUnit report a CI system can read."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("workflow-cli")
DOC = {
    "version": "2.0.0",
    "name": "ci run",
    "tasks": {
        "build": {"action": "command", "parameters": {"command": "echo building"}},
        "test": {"action": "command", "dependencies": ["build"], "parameters": {"command": "echo 'boom' >&2; exit 3"}},
        "deploy": {"action": "command", "dependencies": ["test"], "parameters": {"command": "echo deploy"}},
    },
}


def wf(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "WORKFLOW_HOME": str(home), "NO_COLOR": "1"}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60)


def test_run_and_retry_write_junit(tmp_path: Path) -> None:
    home, doc, report = tmp_path / "home", tmp_path / "ci.json", tmp_path / "reports" / "junit.xml"
    doc.write_text(json.dumps(DOC))
    result = wf(home, "--json", "run", str(doc), "--junit", str(report))
    assert result.returncode == 1, result.stderr
    suite = ET.parse(report).getroot()
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"build", "test", "deploy"}
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    failure = cases["test"].find("failure")
    assert failure is not None and "exited with code 3" in failure.get("message", "")
    assert "boom" in (failure.text or "")  # the log tail
    assert cases["deploy"].find("skipped") is not None
    iid = json.loads(result.stdout)["id"]
    again = wf(home, "retry", iid, "--junit", str(report))
    assert again.returncode == 1
    assert ET.parse(report).getroot().get("failures") == "1"
    (tmp_path / "blocker").write_text("a file, not a folder")
    bad = wf(home, "run", str(doc), "--junit", str(tmp_path / "blocker" / "x.xml"))
    assert bad.returncode == 2 and "--junit" in bad.stderr and "Traceback" not in bad.stderr
