"""The pictures of the HTML report as inline SVG: the DAG by topological generations and a Gantt of attempts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from workflow_cli.clock import parse_iso

# fill, text colour per task state (SPEC 6.1)
STATE_COLORS: dict[str, tuple[str, str]] = {
    "completed": ("#1e8e3e", "#ffffff"),
    "failed": ("#d93025", "#ffffff"),
    "running": ("#1a73e8", "#ffffff"),
    "waiting": ("#f9ab00", "#202124"),
    "skipped": ("#9aa0a6", "#ffffff"),
    "cancelled": ("#9aa0a6", "#ffffff"),
    "pending": ("#ffffff", "#202124"),
}
NODE_W, NODE_H, COL_GAP, ROW_GAP, PAD, WAYPOINT_H = 160, 46, 70, 22, 24, 8
FIT_WIDTH = 2600  # a wider graph keeps its size and scrolls; a narrower one shrinks to the page if needed
LABEL_W, CHART_W, ROW_H, AXIS_H = 190, 960, 26, 34
_ARROW = ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
          'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5f6368"/></marker></defs>')


def color(status: str) -> tuple[str, str]:
    """Fill and text colour of a task state (unknown states look pending)."""
    return STATE_COLORS.get(status, STATE_COLORS["pending"])


def _fit(text: str, width: float, char_px: float = 7.4) -> str:
    """``text`` cut with an ellipsis to about ``width`` pixels."""
    room = max(3, int(width / char_px))
    return text if len(text) <= room else text[: room - 1] + "…"


def _route(graph: Any, generations: Sequence[Sequence[str]]) -> tuple[list[list[str]], dict[str, list[str]], dict[tuple[str, str], list[str]]]:
    """Columns with a waypoint per skipped generation of each long edge, the predecessors, and each edge's waypoints.

    Waypoint names start with a space, which no task id can (SPEC 3), so they never collide.
    """
    gen_of = {n: i for i, gen in enumerate(generations) for n in gen}
    columns = [list(gen) for gen in generations]
    preds = {n: list(graph.pred[n]) for n in graph}
    routes: dict[tuple[str, str], list[str]] = {}
    for src, dst in graph.edges:
        chain = [src]
        for g in range(gen_of[src] + 1, gen_of[dst]):
            waypoint = f" {src}>{dst}@{g}"
            columns[g].append(waypoint)
            preds[waypoint] = [chain[-1]]
            chain.append(waypoint)
        routes[(src, dst)] = chain[1:]
        preds[dst] = [chain[-1] if p == src else p for p in preds[dst]]
    return columns, preds, routes


def _height(node: str) -> float:
    return WAYPOINT_H if node.startswith(" ") else NODE_H


def _layout(columns: list[list[str]], preds: Mapping[str, Sequence[str]]) -> dict[str, tuple[float, float]]:
    """Top-left corner of each node: one column per generation, each ordered by its parents' heights, centred."""
    sizes = [sum(_height(n) + ROW_GAP for n in column) - ROW_GAP for column in columns]
    tallest = max(sizes, default=0.0)
    pos: dict[str, tuple[float, float]] = {}
    centre: dict[str, float] = {}
    for ci, column in enumerate(columns):
        order = {n: i for i, n in enumerate(column)}

        def barycenter(node: str) -> float:
            parents = [centre[p] for p in preds.get(node, ()) if p in centre]
            return sum(parents) / len(parents) if parents else math.inf

        y = PAD + (tallest - sizes[ci]) / 2
        for node in sorted(column, key=lambda n: (barycenter(n), order[n])):
            pos[node] = (PAD + ci * (NODE_W + COL_GAP), y)
            centre[node] = y + _height(node) / 2
            y += _height(node) + ROW_GAP
    return pos


def _edge_path(points: list[tuple[float, float, float]]) -> str:
    """A smooth path through (left x, right x, centre y) stops: curves between columns, straight through waypoints."""
    x0, y0 = points[0][1], points[0][2]
    d = [f"M{x0:.1f},{y0:.1f}"]
    for left, right, y in points[1:]:
        bend = max((left - x0) / 2, 20)
        d.append(f"C{x0 + bend:.1f},{y0:.1f} {left - bend:.1f},{y:.1f} {left:.1f},{y:.1f}")
        if right > left:
            d.append(f"L{right:.1f},{y:.1f}")
        x0, y0 = right, y
    return " ".join(d)


def dag_svg(tasks: Mapping[str, Mapping[str, Any]], deps: Mapping[str, Sequence[str]]) -> str:
    """The task graph: columns are topological generations, nodes coloured by state, edges with arrowheads."""
    from workflow_cli.graph.dag import build_graph, topological_generations

    graph = build_graph({tid: list(deps.get(tid, ())) for tid in tasks})
    columns, preds, routes = _route(graph, topological_generations(graph))
    pos = _layout(columns, preds)
    width = max((x for x, _ in pos.values()), default=0) + NODE_W + PAD
    height = max((y + _height(n) for n, (_, y) in pos.items()), default=0) + PAD
    fit = " fit" if width <= FIT_WIDTH else ""
    parts = [f'<svg class="dag{fit}" width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
             f'role="img" aria-label="task graph">', _ARROW]
    for (src, dst), waypoints in routes.items():
        stops = [(pos[n][0], pos[n][0] + NODE_W, pos[n][1] + _height(n) / 2) for n in (src, *waypoints, dst)]
        stops[-1] = (stops[-1][0] - 2, stops[-1][0] - 2, stops[-1][2])  # end at the arrow tip, left of the box
        parts.append(f'<path class="edge" d="{_edge_path(stops)}" fill="none" stroke="#5f6368" stroke-width="1.4" '
                     f'marker-end="url(#arrow)"><title>{escape(src)} → {escape(dst)}</title></path>')
    for tid in graph:
        x, y = pos[tid]
        status = str(tasks[tid].get("status", "pending"))
        fill, ink = color(status)
        attempts = int(tasks[tid].get("attempts") or 0)
        sub = status + (f" · {attempts} attempts" if attempts > 1 else "")
        parts.append(
            f'<g class="node" data-task="{escape(tid)}" data-status="{escape(status)}"><title>{escape(tid)}: {escape(sub)}</title>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="7" fill="{fill}" stroke="#3c4043" stroke-width="1.2"/>'
            f'<text x="{x + NODE_W / 2:.1f}" y="{y + 19:.1f}" text-anchor="middle" fill="{ink}" class="label">{escape(_fit(tid, NODE_W - 16, 8.2))}</text>'
            f'<text x="{x + NODE_W / 2:.1f}" y="{y + 36:.1f}" text-anchor="middle" fill="{ink}" class="sub">{escape(sub)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def _nice_step(span: float) -> float:
    """A 1/2/5 x 10^k tick step giving about eight ticks over ``span`` seconds."""
    raw = max(span / 8, 1e-6)
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def offset_label(seconds: float, step: float) -> str:
    """``+1.5s``, ``+2m30s``, ``+1h05m`` for a tick ``seconds`` after the start."""
    if seconds < 60 or step < 1:
        decimals = 0 if step >= 1 else min(3, max(1, -math.floor(math.log10(step))))
        return f"+{seconds:.{decimals}f}s"
    if seconds < 3600:
        return f"+{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"+{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def _attempts(tasks: Mapping[str, Mapping[str, Any]], now: float) -> list[tuple[int, str, dict[str, Any], float, float]]:
    """(row, task, attempt, start, end) for every attempt that started; an unfinished one ends ``now``."""
    out = []
    for row, (tid, task) in enumerate(tasks.items()):
        for entry in task.get("history") or []:
            if not entry.get("started_at"):
                continue
            start = parse_iso(entry["started_at"])
            end = parse_iso(entry["finished_at"]) if entry.get("finished_at") else max(now, start)
            out.append((row, tid, dict(entry), start, end))
    return out


def _bar_status(task: Mapping[str, Any], entry: Mapping[str, Any]) -> str:
    if entry.get("finished_at"):
        return str(entry.get("status") or "completed")
    return str(task.get("status")) if task.get("status") in ("running", "waiting") else "running"


def gantt_svg(tasks: Mapping[str, Mapping[str, Any]], *, now: float) -> str:
    """One row per task, one bar per attempt (failed attempts red) over a time axis; empty without attempts."""
    bars = _attempts(tasks, now)
    if not bars:
        return ""
    t0 = min(b[3] for b in bars)
    span = max(max(b[4] for b in bars) - t0, 1e-3)
    step = _nice_step(span)
    height = len(tasks) * ROW_H + AXIS_H
    width = LABEL_W + CHART_W + PAD
    parts = [f'<svg class="gantt fit" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="timeline of attempts">']
    for row, tid in enumerate(tasks):
        y = row * ROW_H
        if row % 2:
            parts.append(f'<rect x="0" y="{y}" width="{width}" height="{ROW_H}" fill="#f4f6f8"/>')
        parts.append(f'<text x="{LABEL_W - 10}" y="{y + ROW_H / 2 + 4:.1f}" text-anchor="end" class="row">{escape(_fit(tid, LABEL_W - 20))}</text>')
    ticks = int(span / step) + 1
    for i in range(ticks + 1):
        x = LABEL_W + i * step / span * CHART_W
        if x > LABEL_W + CHART_W + 0.5:
            break
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - AXIS_H + 4}" stroke="#dadce0" stroke-width="1"/>'
                     f'<text x="{x:.1f}" y="{height - AXIS_H + 18}" text-anchor="middle" class="tick">{escape(offset_label(i * step, step))}</text>')
    parts.append(f'<line x1="{LABEL_W}" y1="{height - AXIS_H + 4}" x2="{LABEL_W + CHART_W}" y2="{height - AXIS_H + 4}" stroke="#5f6368"/>')
    for row, tid, entry, start, end in bars:
        status = _bar_status(tasks[tid], entry)
        x = LABEL_W + (start - t0) / span * CHART_W
        w = max(3.0, (end - start) / span * CHART_W)
        tip = f"{tid} attempt {entry.get('attempt', '?')}: {status}, {end - start:.3f} s"
        if entry.get("cpu_seconds") is not None:  # the attempt's process tree (SPEC 9)
            tip += f" (cpu {entry['cpu_seconds']:.2f} s, peak {entry.get('max_rss_mb') or 0:.1f} MB)"
        if entry.get("error"):
            tip += f": {entry['error']}"
        parts.append(f'<rect class="bar" data-status="{escape(status)}" x="{x:.1f}" y="{row * ROW_H + 5}" width="{w:.1f}" height="{ROW_H - 10}" '
                     f'rx="3" fill="{color(status)[0]}" stroke="#3c4043" stroke-width="0.6"><title>{escape(tip)}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)
