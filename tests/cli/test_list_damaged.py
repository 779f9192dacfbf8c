"""``list`` with one damaged instance: the others are still listed, the damage is named, exit 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("workflow-cli")


def wf(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "WORKFLOW_HOME": str(home), "NO_COLOR": "1"}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60)


def test_list_names_the_damaged_instance_and_shows_the_rest(tmp_path: Path) -> None:
    home = tmp_path / "home"
    doc = tmp_path / "d.yaml"
    doc.write_text('version: "2.0.0"\nname: d\ntasks:\n  a: {action: noop}\n')
    ids = [wf(home, "-q", "create", str(doc)).stdout.strip() for _ in range(2)]
    snapshot = home / "instances" / ids[0] / "state.json"
    snapshot.write_text("garbage")
    result = wf(home, "list", "--json")
    assert result.returncode == 1
    assert [row["id"] for row in json.loads(result.stdout)] == [ids[1]]
    assert str(snapshot) in result.stderr and "Traceback" not in result.stderr
