"""The result cache (SPEC 3 ``cache``, 8 ``cache list|clear``, ``--no-cache``, 10 the API's cached results)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

Engine = Any  # the ``engine`` fixture of conftest.py


def sh(command: str, **task: Any) -> dict[str, Any]:
    """A ``command`` task."""
    return {"action": "command", "parameters": {"command": command}, **task}


def cached_doc(engine: Engine, ledger: Path, key: str = "params.region", ttl: float | None = None) -> str:
    cache: dict[str, Any] = {"key": key}
    if ttl is not None:
        cache["ttl_seconds"] = ttl
    doc = {"version": "2.0.0", "name": "cached", "parameters": {"region": {"type": "string", "default": "eu"}},
           "tasks": {"fetch": sh(f'echo run >> {ledger}; printf \'{{"region": "%s"}}\\n\' {{{{ params.region }}}}', cache=cache),
                     "use": sh('echo {{ tasks.fetch.outputs.region }} > used.txt', dependencies=["fetch"])}}
    path = engine.tmp / "cached.json"
    path.write_text(json.dumps(doc))
    return str(path)


def runs(ledger: Path) -> int:
    return len(ledger.read_text().split()) if ledger.exists() else 0


def test_a_later_run_of_any_instance_reuses_the_result(engine: Engine) -> None:
    ledger = engine.tmp / "ledger.txt"
    doc = cached_doc(engine, ledger)
    first = engine.cli("--json", "run", doc)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["tasks"]["fetch"]["cached"] is False
    second = engine.cli("--json", "run", doc)
    assert second.returncode == 0, second.stderr
    assert runs(ledger) == 1
    status = json.loads(second.stdout)
    fetch = status["tasks"]["fetch"]
    assert fetch["status"] == "completed" and fetch["cached"] is True and fetch["outputs"] == {"region": "eu"}
    assert status["tasks"]["use"]["cached"] is False
    events = [json.loads(line) for line in (engine.home.instances / status["id"] / "events.jsonl").read_text().splitlines()]
    completed = [e["data"] for e in events if e["type"] == "task.completed" and e["data"]["task"] == "fetch"]
    assert completed[0]["cached"] is True
    human = engine.cli("status", status["id"])
    assert "completed (cached)" in human.stdout
    other = engine.cli("run", doc, "--param", "region=us")  # another key: runs
    assert other.returncode == 0 and runs(ledger) == 2


def test_no_cache_bypasses_reading_but_still_writes(engine: Engine) -> None:
    from workflow_cli.ops.cache import list_cache

    ledger = engine.tmp / "ledger.txt"
    doc = cached_doc(engine, ledger)
    assert engine.cli("run", doc).returncode == 0
    created = list_cache(engine.home)[0]["created"]
    assert engine.cli("run", doc, "--no-cache").returncode == 0
    assert runs(ledger) == 2
    rows = list_cache(engine.home)
    assert len(rows) == 1 and rows[0]["created"] > created
    assert engine.cli("run", doc).returncode == 0 and runs(ledger) == 2


def test_an_expired_entry_is_not_used(engine: Engine) -> None:
    from workflow_cli.clock import SystemClock
    from workflow_cli.engine.runner import Runner

    ledger = engine.tmp / "ledger.txt"
    doc = cached_doc(engine, ledger, ttl=60)
    assert engine.cli("run", doc).returncode == 0
    from workflow_cli.ops.create import create_instance

    soon = create_instance(engine.home, doc).id
    Runner(engine.home, engine.paths(soon), clock=SystemClock(offset=30)).run()
    assert runs(ledger) == 1
    late = create_instance(engine.home, doc).id
    outcome = Runner(engine.home, engine.paths(late), clock=SystemClock(offset=90)).run()
    assert runs(ledger) == 2 and "cached" not in outcome.state["tasks"]["fetch"]


def test_foreach_items_are_cached_one_by_one(engine: Engine) -> None:
    ledger = engine.tmp / "ledger.txt"
    task = sh(f'echo {{{{ item }}}} >> {ledger}; printf \'{{"v": %s}}\\n\' {{{{ item }}}}', foreach="params.xs", cache={"key": "item"})
    doc = {"version": "2.0.0", "name": "items", "parameters": {"xs": {"type": "array", "default": [1, 2, 3]}}, "tasks": {"t": task}}
    path = engine.tmp / "items.json"
    path.write_text(json.dumps(doc))
    assert engine.cli("run", str(path)).returncode == 0
    out = engine.cli("--json", "run", str(path), "--param", "xs=[3, 4, 1]")
    assert out.returncode == 0, out.stderr
    t = json.loads(out.stdout)["tasks"]["t"]
    assert t["outputs"] == [{"v": 3}, {"v": 4}, {"v": 1}]
    assert [it.get("cached", False) for it in t["items"]] == [True, False, True]
    assert sorted(ledger.read_text().split()) == ["1", "2", "3", "4"]


def test_cache_list_and_clear(engine: Engine) -> None:
    import os
    import time

    ledger = engine.tmp / "ledger.txt"
    doc = cached_doc(engine, ledger, ttl=3600)
    assert engine.cli("run", doc).returncode == 0
    assert engine.cli("run", doc, "--param", "region=us").returncode == 0
    listed = engine.cli("--json", "cache", "list")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 2 and {r["task"] for r in rows} == {"fetch"} and {r["template"] for r in rows} == {"cached"}
    assert all(len(r["hash"]) == 64 and r["size"] > 0 and r["created_at"] and r["expires_at"] for r in rows)
    assert (engine.home.cache / f"{rows[0]['hash']}.json").exists()
    human = engine.cli("cache", "list")
    assert "fetch" in human.stdout and rows[0]["hash"][:16] in human.stdout
    old = engine.home.cache / f"{rows[0]['hash']}.json"
    entry = json.loads(old.read_text())
    entry["created"] -= 3 * 3600
    old.write_text(json.dumps(entry))
    os.utime(old, (time.time() - 3 * 3600,) * 2)
    assert engine.cli("cache", "clear", "--older-than", "soon").returncode == 2
    cleared = engine.cli("--json", "cache", "clear", "--older-than", "2h")
    assert cleared.returncode == 0 and json.loads(cleared.stdout)["removed"] == 1
    assert [r["hash"] for r in json.loads(engine.cli("--json", "cache", "list").stdout)] == [rows[1]["hash"]]
    assert engine.cli("cache", "clear").returncode == 0
    assert json.loads(engine.cli("--json", "cache", "list").stdout) == []


def test_the_api_keeps_results_in_the_same_cache_folder(engine: Engine) -> None:
    from workflow_cli import WorkflowOrchestrator
    from workflow_cli.ops.cache import list_cache

    iid, _ = engine.run({"a": {"action": "noop"}})
    orch = WorkflowOrchestrator(home=engine.home.root)
    orch.cache_workflow_result(iid, {"answer": 42})
    assert orch.get_cached_result(iid[:12]) == {"answer": 42}
    assert (engine.home.cache / "results" / f"{iid}.json").exists()
    assert [(r["kind"], r["instance"]) for r in list_cache(engine.home)] == [("result", iid)]
    assert asyncio.run(_status(orch, iid)) == "completed"


async def _status(orch: Any, iid: str) -> str:
    return orch.get_workflow_status(iid)["status"]


@pytest.mark.parametrize("bad", ["", "abc"])
def test_a_corrupt_entry_is_a_miss(engine: Engine, bad: str) -> None:
    from workflow_cli.store.cache import ResultCache

    cache = ResultCache(engine.home.cache)
    cache.put("ab" * 32, {"x": 1}, now=100.0, ttl_seconds=None, about={"task": "t"})
    cache.path("ab" * 32).write_text(bad)
    assert cache.get("ab" * 32, 200.0) is None
    assert cache.entries()[0]["corrupt"] is True
