"""ETA of a running instance: the remaining critical path, weighted by past durations of its template."""

from __future__ import annotations

import sqlite3
import statistics
from typing import Any, Mapping

from workflow_cli.store.home import Home
from workflow_cli.store.indexed import open_index
from workflow_cli.store.instances import InstancePaths, instance_dirs, load_state, read_document

HISTORY = 20


def _recent_completed(home: Home, template: str | None, exclude: str) -> list[InstancePaths]:
    """Instances that may be recent completed runs of ``template``, newest first (each checked by the caller)."""
    conn = open_index(home, write=False)
    if conn is not None:
        try:
            rows = conn.execute("SELECT id FROM instances WHERE template IS ? AND status = 'completed' AND id != ? "
                                "ORDER BY id DESC LIMIT ?", (template, exclude, HISTORY))
            return [InstancePaths(home.instances / r[0]) for r in rows]
        except sqlite3.Error:
            pass
    return list(reversed(instance_dirs(home.instances)))


def past_durations(home: Home, template: str | None, exclude: str) -> dict[str, float]:
    """Median duration per task over the last completed runs of the same template."""
    samples: dict[str, list[float]] = {}
    seen = 0
    for paths in _recent_completed(home, template, exclude):
        if seen >= HISTORY:
            break
        if paths.id == exclude:
            continue
        try:
            state = load_state(paths, verify=False)
        except Exception:  # noqa: BLE001 - a broken old instance must not break status
            continue
        if state.get("template") != template or state["status"] != "completed":
            continue
        seen += 1
        for tid, ts in state["tasks"].items():
            if ts.get("duration_seconds") is not None:
                samples.setdefault(tid, []).append(float(ts["duration_seconds"]))
    return {tid: statistics.median(values) for tid, values in samples.items()}


def estimate_remaining(home: Home, paths: InstancePaths, state: Mapping[str, Any]) -> float | None:
    """Seconds until the instance should finish, or None without any history to go by."""
    from workflow_cli.clock import SystemClock, parse_iso
    from workflow_cli.graph.dag import build_graph, remaining_critical_path

    history = past_durations(home, state.get("template"), paths.id)
    if not history:
        return None
    doc = read_document(paths)
    deps = {tid: list((t or {}).get("dependencies") or []) for tid, t in doc["tasks"].items()}
    now = SystemClock().time()
    durations: dict[str, float] = {}
    done = set()
    for tid, ts in state["tasks"].items():
        if ts["status"] in ("completed", "failed", "skipped", "cancelled"):
            done.add(tid)
            continue
        expected = history.get(tid, 0.0)
        if ts["status"] == "running" and ts.get("started_at"):
            expected = max(expected - (now - parse_iso(ts["started_at"])), 0.0)
        durations[tid] = expected
    return round(remaining_critical_path(build_graph(deps), durations, done), 1)
