"""``prune`` removes or archives old finished instances, never live or unfinished ones."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("workflow-cli")
DOC = 'version: "2.0.0"\nname: p\ntasks:\n  a: {action: noop}\n'


def wf(home: Path, *args: str, offset: int = 0) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "WORKFLOW_HOME": str(home), "NO_COLOR": "1", "WORKFLOW_CLI_TIME_OFFSET": str(offset)}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    wf(tmp_path / "home", "init", str(tmp_path / "home"))
    (tmp_path / "doc.yaml").write_text(DOC)
    return tmp_path / "home"


def test_prune_old_finished_keeps_recent_and_created(home: Path) -> None:
    old = wf(home, "-q", "run", str(home.parent / "doc.yaml"), offset=-10 * 86400)
    assert old.returncode == 0, old.stderr
    new = wf(home, "-q", "run", str(home.parent / "doc.yaml"))
    created = wf(home, "-q", "create", str(home.parent / "doc.yaml"))
    ids = [json.loads(wf(home, "list", "--json").stdout)[i]["id"] for i in range(3)]
    dry = wf(home, "prune", "--older-than", "7d", "--dry-run", "--json")
    assert dry.returncode == 0 and len(json.loads(dry.stdout)["pruned"]) == 1
    assert sorted(p.name for p in (home / "instances").iterdir()) == sorted(ids)  # a dry run removes nothing
    result = json.loads(wf(home, "prune", "--older-than", "7d", "--json").stdout)
    gone = result["pruned"][0]["id"]
    assert gone == ids[-1]
    assert not (home / "instances" / gone).exists() and not (home / "checkpoints" / gone).exists()
    remaining = {row["id"] for row in json.loads(wf(home, "list", "--json").stdout)}
    assert remaining == set(ids[:2]) and new.returncode == 0 and created.returncode == 0


def test_archive_and_bad_input(home: Path) -> None:
    wf(home, "-q", "run", str(home.parent / "doc.yaml"), offset=-3 * 3600)
    assert wf(home, "prune", "--older-than", "soon").returncode == 2
    assert wf(home, "prune", "--older-than", "1h", "--status", "running").returncode == 2
    archived = json.loads(wf(home, "prune", "--older-than", "1h", "--archive", "--json").stdout)["pruned"]
    assert len(archived) == 1
    assert (home / "archive" / "instances" / archived[0]["id"] / "events.jsonl").exists()
    assert json.loads(wf(home, "list", "--json").stdout) == []
