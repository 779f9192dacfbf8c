"""The instance index (store/index.py): made by create, rebuilt when deleted, stale folders noticed,
and ``list``, prefix resolution, ``tick``, ``health`` and ``prune`` answering as they do from the files.

Every command here runs through the installed console script (a fresh process each time, as a user
runs them), with ``WORKFLOW_CLI_INDEX=off`` for the answers read from the files alone.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

OFF = {"WORKFLOW_CLI_INDEX": "off"}
NOOP = {"version": "2.0.0", "name": "ok", "tasks": {"a": {"action": "noop"}, "b": {"action": "noop", "dependencies": ["a"]}}}
FAILS = {"version": "2.0.0", "name": "bad", "tasks": {"x": {"action": "command", "parameters": {"command": ["false"]}}}}
GATE = {"version": "2.0.0", "name": "gate", "tasks": {"g": {"action": "approval_gate", "parameters": {"approvers": ["ann"]}}}}
TIMER = {"version": "2.0.0", "name": "timer",
         "tasks": {"w": {"action": "wait", "parameters": {"seconds": 1}}, "after": {"action": "noop", "dependencies": ["w"]}}}


def rows(home: Path) -> dict[str, str]:
    """id -> status as the index holds them."""
    with sqlite3.connect(home / "index.sqlite3") as conn:
        return dict(conn.execute("SELECT id, status FROM instances"))


def answers(sh: Any, *args: Any, env: dict[str, str] | None = None) -> Any:
    result = sh(*args, "--json", env=env)
    assert result.exit_code in (0, 1, 3), result
    return result.json()


def same_with_and_without(sh: Any, *args: Any) -> Any:
    """The JSON answer of a read-only command, checked equal with the index on and off."""
    on, off = answers(sh, *args), answers(sh, *args, env=OFF)
    assert on == off, args
    return on


@pytest.fixture
def filled(sh: Any, write: Any, home: Path) -> dict[str, str]:
    """A home with completed, failed, waiting and created instances of three templates."""
    ids = {}
    for name, doc, code in (("ok1", NOOP, 0), ("bad", FAILS, 1), ("ok2", NOOP, 0), ("gate", GATE, 3), ("timer", TIMER, 3)):
        result = sh("run", write(f"{name}.json", doc), "--json", "--wait-threshold", "0")
        assert result.exit_code == code, result
        ids[name] = result.json()["id"]
    ids["created"] = sh("create", write("ok.json", NOOP), "-q").stdout.strip()
    return ids


LIST_QUERIES = [(), ("--limit", "2"), ("--status", "completed"), ("--status", "waiting"), ("--status", "created"),
                ("--template", "ok1"), ("--sort", "name"), ("--sort", "status", "--limit", "3"), ("--limit", "0")]


def test_create_makes_the_index_and_list_answers_as_from_the_files(sh, home, filled):
    assert rows(home) == {iid: status for iid, status in zip(
        filled.values(), ("completed", "failed", "completed", "waiting", "waiting", "created"))}
    for query in LIST_QUERIES:
        same_with_and_without(sh, "list", *query)
    assert [r["id"] for r in answers(sh, "list")] == sorted(filled.values(), reverse=True)


def test_prefix_status_and_health_answer_as_from_the_files(sh, home, filled):
    for iid in filled.values():
        assert same_with_and_without(sh, "status", iid[:-1])["id"] == iid
    ambiguous_on, ambiguous_off = sh("status", filled["ok1"][:4]), sh("status", filled["ok1"][:4], env=OFF)
    assert ambiguous_on.exit_code == ambiguous_off.exit_code == 2
    assert ambiguous_on.stderr == ambiguous_off.stderr
    assert sh("status", "1999").stderr == sh("status", "1999", env=OFF).stderr
    on, off = answers(sh, "health"), answers(sh, "health", env=OFF)
    for report in (on, off):
        report.pop("checked_at")
    assert on == off


def test_a_deleted_index_is_not_remade_by_reads_and_is_rebuilt_by_the_next_create(sh, write, home, filled):
    expected = answers(sh, "list")
    (home / "index.sqlite3").unlink()
    assert answers(sh, "list") == expected  # read from the files
    assert answers(sh, "status", filled["gate"])["status"] == "waiting"
    assert not (home / "index.sqlite3").exists()  # a read-only command creates nothing
    new = sh("create", write("ok.json", NOOP), "-q").stdout.strip()
    assert rows(home) == {**{r["id"]: r["status"] for r in expected}, new: "created"}


def test_a_corrupt_index_is_set_aside_for_the_files_and_rebuilt_by_the_next_create(sh, write, home, filled):
    expected = answers(sh, "list", env=OFF)
    (home / "index.sqlite3").write_bytes(b"not a database at all" * 100)
    for name in ("index.sqlite3-wal", "index.sqlite3-shm"):
        (home / name).unlink(missing_ok=True)
    assert answers(sh, "list") == expected
    new = sh("create", write("ok.json", NOOP), "-q").stdout.strip()
    assert rows(home) == {**{r["id"]: r["status"] for r in expected}, new: "created"}


def test_folders_removed_or_restored_by_hand_are_noticed(sh, home, filled, tmp_path):
    gone = filled["bad"]
    shutil.move(str(home / "instances" / gone), tmp_path / gone)
    listed = same_with_and_without(sh, "list")
    assert gone not in [r["id"] for r in listed]
    assert sh("status", gone[:-1]).exit_code == 4
    assert gone not in rows(home)
    shutil.move(str(tmp_path / gone), home / "instances" / gone)  # restored from a backup
    assert gone in [r["id"] for r in same_with_and_without(sh, "list", "--status", "failed")]
    assert rows(home)[gone] == "failed"


def test_a_row_left_behind_by_a_crash_is_checked_against_the_files(sh, home, filled):
    # the runner died after its last event was durable and before it told the index
    with sqlite3.connect(home / "index.sqlite3") as conn:
        conn.execute("UPDATE instances SET status='running' WHERE id=?", (filled["ok2"],))
    assert same_with_and_without(sh, "list", "--status", "completed")[0]["id"] == filled["ok2"]
    assert rows(home)[filled["ok2"]] == "completed"  # healed by the read


def test_tick_answers_as_from_the_files(sh, home, filled, tmp_path):
    twin = tmp_path / "twin"
    shutil.copytree(home, twin)
    later = {"WORKFLOW_CLI_TIME_OFFSET": "3600"}  # the timer is due
    on = sh("tick", "--json", env=later)
    off = sh("--home", twin, "tick", "--json", env={**later, **OFF, "WORKFLOW_HOME": str(twin)})
    assert on.exit_code == off.exit_code
    assert on.json() == off.json()
    assert [r["id"] for r in on.json()["resumed"]] == [filled["timer"]]
    assert rows(home)[filled["timer"]] == "completed"


def test_prune_removes_rows_with_folders(sh, home, filled):
    later = {"WORKFLOW_CLI_TIME_OFFSET": str(3 * 86400)}
    pruned = sh("prune", "--older-than", "1d", "--json", env=later)
    assert pruned.exit_code == 0, pruned
    gone = {p["id"] for p in pruned.json()["pruned"]}
    assert gone == {filled["ok1"], filled["ok2"], filled["bad"]}
    assert set(rows(home)) == set(filled.values()) - gone
    assert same_with_and_without(sh, "list") and not (gone & {r["id"] for r in answers(sh, "list")})


def test_concurrent_commands_keep_the_index_whole(sh, write, home):
    doc = write("ok.json", NOOP)
    console = str(Path(sys.executable).with_name("workflow-cli"))
    procs = [subprocess.Popen([console, arg, str(doc), "-q"], env=sh.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for arg in ("run", "create") * 4]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    listed = answers(sh, "list", env=OFF)
    assert len(listed) == 8
    assert rows(home) == {r["id"]: r["status"] for r in listed}
    assert answers(sh, "list") == listed




def test_the_store_knows_the_current_document_version():
    from workflow_cli.model.validate import CURRENT_VERSION
    from workflow_cli.store.instances import CURRENT_DOCUMENT_VERSION

    assert CURRENT_DOCUMENT_VERSION == CURRENT_VERSION
