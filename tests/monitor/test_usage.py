"""CPU time and peak memory per attempt (SPEC 9): measured by the kernel (wait4), shown everywhere, checked by health."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from workflow_cli.monitor.usage import usage_regressions

PY = sys.executable
HUNGRY = f"{PY} -c 'b = bytearray(200 * 2**20)'"  # touches every page: 200 MiB resident
SPIN = [PY, "-c", "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass"]
AGENT = "import json, sys; json.load(sys.stdin); b = bytearray(160 * 2**20); print(json.dumps({'ok': True}))"

DOC: dict[str, Any] = {
    "version": "2.0.0",
    "name": "usage",
    "agents": {"hog": {"kind": "command", "command": [PY, "-c", AGENT]}},
    "tasks": {
        "hungry": {"action": "command", "parameters": {"command": HUNGRY}},
        "spin": {"action": "command", "parameters": {"command": SPIN}},
        "quick": {"action": "command", "parameters": {"command": "true"}},
        "iso": {"action": "python", "parameters": {"callable": "os:getpid", "isolated": True}},
        "agent": {"agent_id": "hog"},
        "join": {"action": "noop", "dependencies": ["hungry", "spin", "quick", "iso", "agent"]},
    },
}


def test_memory_hungry_and_cpu_bound_tasks_show_plausible_figures(sh, write, tmp_path):
    events = tmp_path / "events.jsonl"
    junit = tmp_path / "junit.xml"
    result = sh("run", write("usage.json", DOC), "--json", "--events", events, "--junit", junit)
    assert result.exit_code == 0, result
    tasks = result.json()["tasks"]
    assert tasks["hungry"]["max_rss_mb"] >= 150
    assert tasks["agent"]["max_rss_mb"] >= 120  # a command agent's process is measured too
    spin = tasks["spin"]
    assert spin["cpu_seconds"] >= 0.35  # it burns 0.4 s of CPU time
    assert spin["cpu_seconds"] <= spin["duration_seconds"] + 0.05  # one thread cannot use more than the wall time
    assert tasks["quick"]["cpu_seconds"] < tasks["spin"]["cpu_seconds"]
    assert tasks["iso"]["cpu_seconds"] is not None and tasks["iso"]["max_rss_mb"] > 0
    assert tasks["join"]["cpu_seconds"] is None and tasks["join"]["max_rss_mb"] is None  # no process, no figures

    completed = {e["data"]["task"]: e["data"] for e in map(json.loads, events.read_text().splitlines())
                 if e["type"] == "task.completed"}
    assert completed["hungry"]["max_rss_mb"] == tasks["hungry"]["max_rss_mb"]
    assert completed["spin"]["cpu_seconds"] == spin["cpu_seconds"]
    assert "cpu_seconds" not in completed["join"]

    case = ET.parse(junit).getroot().find("testcase[@name='hungry']")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert float(props["max_rss_mb"]) == tasks["hungry"]["max_rss_mb"]
    assert float(props["cpu_seconds"]) == tasks["hungry"]["cpu_seconds"]


def test_failed_attempts_record_usage_and_debug_report_show_it(cli, sh, write, tmp_path):
    doc = {"version": "2.0.0", "name": "fails",
           "tasks": {"boom": {"action": "command", "retry_count": 1, "retry_delay": 0,
                              "parameters": {"command": f"{PY} -c 'b = bytearray(180 * 2**20); raise SystemExit(3)'"}}}}
    result = sh("run", write("fails.json", doc), "--json")
    assert result.exit_code == 1, result
    iid = result.json()["id"]
    audit = cli("audit", iid, "--json").json()
    ended = [e["data"] for e in audit if e["type"] in ("task.retrying", "task.failed")]
    assert len(ended) == 2 and all(d["max_rss_mb"] >= 150 and d["exit_code"] == 3 for d in ended)

    debug = sh("debug", iid)
    assert debug.exit_code == 0
    assert "peak" in debug.stdout and "resources" in debug.stdout
    assert cli("debug", iid, "--json").json()["usage"]["boom"]["max_rss_mb"] >= 150

    report = tmp_path / "r.html"
    assert sh("report", iid, "--output", report).exit_code == 0
    page = report.read_text()
    assert "Peak memory" in page and "attempt 2: failed" in page and "peak 1" in page  # table and Gantt tooltip


    state = {"tasks": {"a": {"status": "completed", "cpu_seconds": 1.0, "max_rss_mb": 50.0, "history": []}}}
    assert state["tasks"]["a"]["cpu_seconds"] == 1.0


def _state(iid: str, figures: dict[str, tuple[float, float]], status: str = "completed") -> dict[str, Any]:
    return {"id": iid, "template": "t", "status": status,
            "tasks": {tid: {"cpu_seconds": c, "max_rss_mb": m} for tid, (c, m) in figures.items()}}


def test_regressions_compare_with_the_median_of_past_runs():
    past = [_state(f"i{n}", {"a": (1.0, 100.0), "b": (0.01, 30.0)}) for n in range(3)]
    assert usage_regressions(_state("new", {"a": (1.9, 199.0), "b": (0.03, 35.0)}), past) == []  # b: below the floors
    found = usage_regressions(_state("new", {"a": (2.5, 250.0), "b": (0.01, 30.0)}), past)
    assert [(f["task"], f["measure"], f["value"], f["median"]) for f in found] == [
        ("a", "cpu_seconds", 2.5, 1.0), ("a", "max_rss_mb", 250.0, 100.0)]
    assert "task a: peak memory 250.0 MB is more than twice the median of 3 past runs (100.0 MB)" == found[1]["message"]
    assert usage_regressions(_state("new", {"a": (9.0, 900.0)}), past[:1]) == []  # one past run is not a median


def test_health_flags_a_run_using_more_than_twice_the_median_memory(sh, home, write):
    template = home / "templates" / "grow.json"
    template.parent.mkdir(exist_ok=True)
    template.write_text(json.dumps({
        "version": "2.0.0", "name": "grow",
        "parameters": {"mb": {"type": "integer", "default": 1}},
        "tasks": {"work": {"action": "command", "parameters": {"command": [PY, "-c", "import sys; b = bytearray(int(sys.argv[1]) * 2**20)", "{{ params.mb }}"]}}},
    }))
    for mb in (1, 1, 1):
        assert sh("run", "grow", "--param", f"mb={mb}").exit_code == 0
    report = sh("health", "--json")
    assert not [a for a in report.json()["alerts"] if a["kind"] == "resource"]
    last = sh("run", "grow", "--param", "mb=300", "--json")
    assert last.exit_code == 0
    iid = last.json()["id"]
    report = sh("health", "--json")
    alerts = [a for a in report.json()["alerts"] if a["kind"] == "resource"]
    assert [(a["instance"], a["task"], a["measure"]) for a in alerts] == [(iid, "work", "max_rss_mb")]
    assert alerts[0]["value"] >= 300 and "task work: peak memory" in alerts[0]["message"]
    human = sh("health")
    assert "task work: peak memory" in human.stdout
    assert json.loads((Path(home) / "monitoring" / "alerts.json").read_text())["alerts"][0]["kind"] == "resource"


def test_foreach_items_record_their_own_figures(cli, write):
    doc = {"version": "2.0.0", "name": "items",
           "tasks": {"each": {"action": "command", "foreach": "[1, 2]", "parameters": {"command": ["echo", "{{ item }}"]}}}}
    result = cli("run", write("items.json", doc), "--json")
    assert result.exit_code == 0, result
    audit = cli("audit", result.json()["id"], "--json").json()
    items = [e["data"] for e in audit if e["type"] == "item.completed"]
    assert len(items) == 2 and all(d["cpu_seconds"] >= 0 and d["max_rss_mb"] > 0 for d in items)
