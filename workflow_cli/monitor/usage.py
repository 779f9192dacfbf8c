"""Resource usage of attempts (SPEC 9): CPU time and peak memory of each attempt's process tree.

The figures come from the kernel's accounting of the reaped child (``wait4`` rusage, see
``actions/_process.py``) and are recorded in ``task.completed`` / ``task.failed`` events as
``cpu_seconds`` and ``max_rss_mb``. This module formats them and finds tasks that use more than
twice what their template's past runs used (``health``'s "resource efficiency").
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import Any

from workflow_cli.store.state import USAGE_FIELDS

REGRESSION_FACTOR = 2.0
MIN_PAST_RUNS = 2  # a median of fewer runs says too little
# below these a doubling is noise (a shell that starts twice as fast), not a regression
MIN_CPU_SECONDS = 0.5
MIN_RSS_MB = 20.0
_LABELS = {"cpu_seconds": "CPU time", "max_rss_mb": "peak memory"}


def usage_text(data: Mapping[str, Any]) -> str:
    """``cpu 0.52 s, peak 210.4 MB`` for a task or event holding the figures, else an empty string."""
    cpu, rss = data.get("cpu_seconds"), data.get("max_rss_mb")
    parts = []
    if cpu is not None:
        parts.append(f"cpu {cpu:.2f} s")
    if rss is not None:
        parts.append(f"peak {rss:.1f} MB")
    return ", ".join(parts)


def _figure(key: str, value: float) -> str:
    return f"{value:.2f} s" if key == "cpu_seconds" else f"{value:.1f} MB"


def usage_regressions(current: Mapping[str, Any], past: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Tasks of ``current`` (an instance state) using more than twice the median of ``past`` states' same task.

    Each finding names the task, the measure, the figure, the median and how many past runs made it.
    """
    samples: dict[tuple[str, str], list[float]] = {}
    for state in past:
        for tid, task in (state.get("tasks") or {}).items():
            for key in USAGE_FIELDS:
                if isinstance(task.get(key), (int, float)):
                    samples.setdefault((tid, key), []).append(float(task[key]))
    found = []
    for tid, task in (current.get("tasks") or {}).items():
        for key in USAGE_FIELDS:
            value, values = task.get(key), samples.get((tid, key), [])
            if not isinstance(value, (int, float)) or len(values) < MIN_PAST_RUNS:
                continue
            median = statistics.median(values)
            floor = MIN_CPU_SECONDS if key == "cpu_seconds" else MIN_RSS_MB
            if value > REGRESSION_FACTOR * median and value >= floor:
                found.append({"task": tid, "measure": key, "value": value, "median": round(median, 3),
                              "runs": len(values),
                              "message": f"task {tid}: {_LABELS[key]} {_figure(key, value)} is more than twice "
                                         f"the median of {len(values)} past runs ({_figure(key, median)})"})
    return found


def usage_alerts(records_newest_first: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Warnings for the newest finished run of one template whose tasks use over twice its past runs' median."""
    finished = [s for s in records_newest_first if s.get("status") in ("completed", "failed")]
    if len(finished) <= MIN_PAST_RUNS:
        return []
    latest = finished[0]
    return [{"level": "warning", "kind": "resource", "instance": latest["id"], "template": latest.get("template"),
             "task": f["task"], "measure": f["measure"], "value": f["value"], "median": f["median"],
             "message": f["message"], "fix": f"workflow-cli debug {latest['id']}"}
            for f in usage_regressions(latest, finished[1:])]
