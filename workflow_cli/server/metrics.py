"""``/metrics``: a Prometheus collector that reads the home at each scrape (SPEC 18.2).

Instances by status and template, task attempts by outcome, task and run duration histograms and
the queue length. A finished instance never changes, so its share is computed once and kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from workflow_cli.store.home import Home

BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, float("inf"))
TERMINAL = ("completed", "failed", "cancelled")


def _observe(hist: dict[str, list[float]], key: str, value: float | None) -> None:
    if value is None:
        return
    counts = hist.setdefault(key, [0.0] * (len(BUCKETS) + 1))  # bucket counts, then the sum
    for i, bound in enumerate(BUCKETS):
        if value <= bound:
            counts[i] += 1
    counts[-1] += value


def _share(state: dict[str, Any]) -> dict[str, Any]:
    """What one instance adds to the attempt counts and duration histograms."""
    from workflow_cli.monitor.health import run_seconds

    template = str(state.get("template"))
    attempts: dict[tuple[str, str], int] = {}
    tasks: dict[str, list[float]] = {}
    runs: dict[str, list[float]] = {}
    for ts in state["tasks"].values():
        for attempt in ts.get("history") or []:
            outcome = attempt.get("status") or "running"
            attempts[(template, outcome)] = attempts.get((template, outcome), 0) + 1
        if ts.get("status") in ("completed", "failed"):
            _observe(tasks, template, ts.get("duration_seconds"))
    if state["status"] in TERMINAL and state.get("finished_at"):
        from workflow_cli.clock import parse_iso

        _observe(runs, template, run_seconds(state, parse_iso(state["finished_at"])))
    return {"attempts": attempts, "tasks": tasks, "runs": runs}


class HomeCollector(Collector):
    """Reads every instance of the home through the ops query functions."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self._finished: dict[str, dict[str, Any]] = {}

    def collect(self) -> Iterator[Any]:
        from workflow_cli.errors import WorkflowError
        from workflow_cli.ops.query import instance_paths, list_instances
        from workflow_cli.store.instances import load_state

        by_status = GaugeMetricFamily("workflow_instances", "Instances by status and template", labels=["status", "template"])
        counts: dict[tuple[str, str], int] = {}
        shares = []
        for row in list_instances(self.home, problems=[]):
            counts[(row["status"], str(row["template"]))] = counts.get((row["status"], str(row["template"])), 0) + 1
            share = self._finished.get(row["id"])
            if share is None:
                try:
                    share = _share(load_state(instance_paths(self.home, row["id"])))
                except WorkflowError:
                    continue
                if row["status"] in TERMINAL:
                    self._finished[row["id"]] = share
            shares.append(share)
        for (status, template), n in sorted(counts.items()):
            by_status.add_metric([status, template], n)
        yield by_status
        yield from _families(shares)
        yield GaugeMetricFamily("workflow_queue_length", "Instances waiting in the run queue",
                                value=sum(n for (status, _), n in counts.items() if status == "queued"))


def _families(shares: list[dict[str, Any]]) -> Iterator[Any]:
    attempts = CounterMetricFamily("workflow_task_attempts", "Task attempts by outcome", labels=["template", "outcome"])
    merged: dict[tuple[str, str], int] = {}
    tasks: dict[str, list[float]] = {}
    runs: dict[str, list[float]] = {}
    for share in shares:
        for key, n in share["attempts"].items():
            merged[key] = merged.get(key, 0) + n
        for target, source in ((tasks, share["tasks"]), (runs, share["runs"])):
            for template, counts in source.items():
                acc = target.setdefault(template, [0.0] * (len(BUCKETS) + 1))
                target[template] = [a + b for a, b in zip(acc, counts)]
    for (template, outcome), n in sorted(merged.items()):
        attempts.add_metric([template, outcome], n)
    yield attempts
    for name, doc, data in (("workflow_task_duration_seconds", "Task durations (latest attempt)", tasks),
                            ("workflow_run_duration_seconds", "Run durations of finished instances", runs)):
        family = HistogramMetricFamily(name, doc, labels=["template"])
        for template, counts in sorted(data.items()):
            buckets = [(("+Inf" if b == float("inf") else repr(b)), counts[i]) for i, b in enumerate(BUCKETS)]
            family.add_metric([template], buckets, counts[-1])
        yield family


def registry_for(home: Home) -> CollectorRegistry:
    """A registry holding only the home's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HomeCollector(home))
    return registry
