"""Damaged state files (SPEC 16 "In detail"): reported with the file and a way out, exit 1, nothing re-run,
nothing changed (the home stays byte-identical); a genuine torn last line is repaired and the repair recorded."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

# ``quick`` and ``second`` complete (each a checkpoint), then the runner is killed while ``slow`` runs. Each
# command appends its name to ``workspace/ran``, so a re-run shows there (and in the home's digest).
CHECKPOINTED = {"version": "2.0.0", "name": "checkpointed", "tasks": {
    "quick": {"action": "command", "checkpoint": True, "parameters": {"command": 'echo quick >> "$WORKFLOW_WORKSPACE/ran"'}},
    "second": {"action": "command", "checkpoint": True, "dependencies": ["quick"],
               "parameters": {"command": 'echo second >> "$WORKFLOW_WORKSPACE/ran"'}},
    "slow": {"action": "command", "dependencies": ["second"], "parameters": {"command": "sleep 30"}},
}}


def _home_digest(home: Path) -> dict[str, str]:
    """Every file under the home (names and contents) and every folder: what 'byte-identical' compares."""
    digest: dict[str, str] = {}
    for root, dirs, files in os.walk(home):
        for name in dirs:
            digest[os.path.relpath(os.path.join(root, name), home)] = "dir"
        for name in files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, home)
            digest[rel] = "link" if os.path.islink(path) else hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return digest


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _edit_json(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    doc = json.loads(path.read_bytes())
    change(doc)
    path.write_text(json.dumps(doc))


def _append_event(log: Path, etype: str, data: dict[str, Any]) -> None:
    seq = json.loads(_lines(log)[-1])["seq"] + 1
    event = {"v": 1, "seq": seq, "time": "2026-11-21T10:00:00.000000Z", "type": etype, "actor": "x", "data": data}
    with open(log, "ab") as fh:
        fh.write(json.dumps(event).encode() + b"\n")


def _snapshot_ahead(inst: Path, cps: Path) -> Path:
    _edit_json(inst / "state.json", lambda s: s.update(last_seq=s["last_seq"] + 50))
    return inst / "state.json"


def _log_emptied(inst: Path, cps: Path) -> Path:
    (inst / "events.jsonl").write_bytes(b"")
    return inst / "events.jsonl"


def _log_tail_lost(inst: Path, cps: Path) -> Path:
    """The log lost its last events (a restored older copy): the checkpoint index records more."""
    log = inst / "events.jsonl"
    lines = _lines(log)
    cut = max(i for i, line in enumerate(lines) if b"checkpoint.created" in line)
    log.write_bytes(b"".join(lines[:cut]))
    return log


def _ghost_task(inst: Path, cps: Path) -> Path:
    _append_event(inst / "events.jsonl", "task.completed", {"task": "ghost", "attempt": 1, "outputs": {}})
    return inst / "events.jsonl"


def _last_seq_text(inst: Path, cps: Path) -> Path:
    _edit_json(inst / "state.json", lambda s: s.update(last_seq="x"))
    return inst / "state.json"


def _state_tasks_list(inst: Path, cps: Path) -> Path:
    _edit_json(inst / "state.json", lambda s: s.update(tasks=["quick"]))
    return inst / "state.json"


def _state_task_status_number(inst: Path, cps: Path) -> Path:
    _edit_json(inst / "state.json", lambda s: s["tasks"]["quick"].update(status=5))
    return inst / "state.json"


def _document_tasks_number(inst: Path, cps: Path) -> Path:
    (inst / "workflow.json").write_text('{"tasks": 5}')
    return inst / "workflow.json"


def _document_task_not_object(inst: Path, cps: Path) -> Path:
    _edit_json(inst / "workflow.json", lambda d: d["tasks"].update(slow=7))
    return inst / "workflow.json"


def _header_truncated(inst: Path, cps: Path) -> Path:
    raw = (inst / "instance.json").read_bytes()
    (inst / "instance.json").write_bytes(raw[: len(raw) // 2])
    return inst / "instance.json"


def _header_id_number(inst: Path, cps: Path) -> Path:
    _edit_json(inst / "instance.json", lambda h: h.update(id=5))
    return inst / "instance.json"


def _middle_line_removed(inst: Path, cps: Path) -> Path:
    log = inst / "events.jsonl"
    lines = _lines(log)
    log.write_bytes(b"".join(lines[:3] + lines[4:]))
    return log


def _line_cut_before_last(inst: Path, cps: Path) -> Path:
    """The second-to-last line lost its end (newline included): it runs into the last, whole, line."""
    log = inst / "events.jsonl"
    lines = _lines(log)
    log.write_bytes(b"".join(lines[:-2]) + lines[-2][: len(lines[-2]) // 2] + lines[-1])
    return log


def _event_data_wrong_type(inst: Path, cps: Path) -> Path:
    _append_event(inst / "events.jsonl", "task.completed", {"task": ["quick"], "attempt": 1})
    return inst / "events.jsonl"


def _index_truncated(inst: Path, cps: Path) -> Path:
    index = cps / "checkpoints.jsonl"
    index.write_bytes(b"".join(_lines(index)[:-1]))
    return index


def _index_garbled(inst: Path, cps: Path) -> Path:
    index = cps / "checkpoints.jsonl"
    index.write_bytes(b"{garbage\n" + b"".join(_lines(index)[1:]))
    return index


def _index_deleted(inst: Path, cps: Path) -> Path:
    index = cps / "checkpoints.jsonl"
    index.unlink()
    return index


DAMAGE: dict[str, Callable[[Path, Path], Path]] = {
    "snapshot-last-seq-beyond-log": _snapshot_ahead,
    "log-emptied": _log_emptied,
    "log-tail-lost": _log_tail_lost,
    "event-for-unknown-task": _ghost_task,
    "snapshot-last-seq-text": _last_seq_text,
    "snapshot-tasks-a-list": _state_tasks_list,
    "snapshot-task-status-number": _state_task_status_number,
    "document-tasks-a-number": _document_tasks_number,
    "document-task-not-an-object": _document_task_not_object,
    "header-truncated": _header_truncated,
    "header-id-a-number": _header_id_number,
    "log-middle-line-removed": _middle_line_removed,
    "log-line-cut-before-the-last": _line_cut_before_last,
    "event-task-a-list": _event_data_wrong_type,
    "checkpoint-index-truncated": _index_truncated,
    "checkpoint-index-garbled": _index_garbled,
    "checkpoint-index-deleted": _index_deleted,
}


@pytest.fixture(scope="module")
def crashed_with_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A home holding one CHECKPOINTED instance whose runner was killed while ``slow`` ran."""
    from workflow_cli.store.events import read_events

    base = tmp_path_factory.mktemp("damaged")
    home = base / "home"
    home.mkdir(mode=0o700)
    cli = _cli(home, base)
    instance = cli.create(cli.write_document("cp.json", CHECKPOINTED))
    runner = cli.spawn("start", instance)
    try:
        cli.wait_until(lambda: any(e["type"] == "task.started" and e["data"].get("task") == "slow"
                                   for e in read_events(cli.events_path(instance))), timeout=30, what="slow to start")
    finally:
        runner.kill_group()
    # a snapshot at the end of the log, as a runner's periodic snapshot leaves it
    from workflow_cli.store.atomic import write_json_atomic
    from workflow_cli.store.instances import InstancePaths, load_state

    paths = InstancePaths(cli.instance_dir(instance))
    write_json_atomic(paths.snapshot, load_state(paths))
    return home, instance


def _cli(home: Path, base: Path) -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("_reliability_conftest", Path(__file__).with_name("conftest.py"))
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules.setdefault("_reliability_conftest", module)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module._make_cli(home, base)


@pytest.fixture
def damaged_cli(cli: Any, crashed_with_checkpoints: tuple[Path, str]) -> tuple[Any, str]:
    source, instance = crashed_with_checkpoints
    shutil.copytree(source, cli.home, dirs_exist_ok=True, symlinks=True)
    return cli, instance


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_state_is_reported_with_its_file_and_nothing_changes(damaged_cli: tuple[Any, str], damage: str) -> None:
    cli, instance = damaged_cli
    inst = cli.instance_dir(instance)
    path = DAMAGE[damage](inst, cli.home / "checkpoints" / instance)
    before = _home_digest(cli.home)
    for args in (("status", instance), ("status", "--json", instance), ("resume", instance)):
        res = cli.run(*args)
        assert res.returncode == 1, (damage, args, res.returncode, res.stdout[-500:], res.stderr)
        assert cli.no_traceback(res.stderr), res.stderr
        assert str(path) in res.stderr, (args, res.stderr)
        assert "unexpected" not in res.stderr, res.stderr
        assert cli.internal_errors() == [], res.stderr
        assert _home_digest(cli.home) == before, f"{args} changed the home of a damaged instance"
    message = json.loads(cli.run("status", "--json", instance).stdout)["error"]["message"]
    assert any(word in message for word in ("restore", "delete", "remove", "rebuild", "head -n")), message


def test_an_intact_instance_still_resumes(damaged_cli: tuple[Any, str]) -> None:
    cli, instance = damaged_cli
    assert cli.status(instance)["display_status"] == "running (no runner)"
    res = cli.run("resume", instance)
    assert res.returncode == 0, res.stderr
    ran = (cli.instance_dir(instance) / "workspace" / "ran").read_text().split()
    assert ran == ["quick", "second"], "a completed task ran again"


def test_a_torn_last_line_is_repaired_and_the_repair_is_recorded(damaged_cli: tuple[Any, str]) -> None:
    cli, instance = damaged_cli
    log = cli.events_path(instance)
    good = log.read_bytes()
    seq = json.loads(_lines(log)[-1])["seq"] + 1
    log.write_bytes(good + b'{"v":1,"seq":%d,"time":"2026-11-21T10:00:00.000000Z","ty' % seq)
    assert cli.run("status", instance).returncode == 0
    res = cli.run("resume", instance)
    assert res.returncode == 0, res.stderr
    events = cli.events(instance)
    repaired = [e for e in events if e["type"] == "log.repaired"]
    assert len(repaired) == 1 and repaired[0]["seq"] == seq, events[-5:]
    assert repaired[0]["data"]["dropped_bytes"] > 0
    assert log.read_bytes().startswith(good)
    assert cli.status(instance)["status"] == "completed"


@pytest.mark.parametrize("damage", ["checkpoint-index-truncated", "checkpoint-index-garbled", "checkpoint-index-deleted"])
def test_the_way_out_for_a_damaged_checkpoint_index_rebuilds_it_from_the_log(damaged_cli: tuple[Any, str], damage: str) -> None:
    cli, instance = damaged_cli
    index = cli.home / "checkpoints" / instance / "checkpoints.jsonl"
    good = [json.loads(line)["id"] for line in index.read_bytes().splitlines()]
    DAMAGE[damage](cli.instance_dir(instance), index.parent)
    assert cli.run("status", instance).returncode == 1
    res = cli.run("checkpoints", instance, "--rebuild-index")
    assert res.returncode == 0, res.stderr
    assert [json.loads(line)["id"] for line in index.read_bytes().splitlines()] == good == ["cp-0001", "cp-0002"]
    assert cli.run("resume", instance).returncode == 0
    assert cli.status(instance)["status"] == "completed"
