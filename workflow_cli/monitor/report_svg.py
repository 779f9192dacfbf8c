"""The pictures of the HTML report as inline SVG: the DAG by topological generations and a Gantt of attempts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from workflow_cli.engine.clock import parse_iso

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
NODE_W, NODE_H, COL_GAP, ROW_GAP, PAD = 170, 46, 84, 22, 24
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


def _layout(generations: Sequence[Sequence[str]], preds: Mapping[str, Sequence[str]]) -> dict[str, tuple[float, float]]:
    """Top-left corner of each node: one column per generation, rows ordered by their parents' rows."""
    rows: dict[str, float] = {}
    columns: list[list[str]] = []
    for gen in generations:
        order = {n: i for i, n in enumerate(gen)}

        def barycenter(node: str) -> float:
            parents = [rows[p] for p in preds.get(node, ()) if p in rows]
            return sum(parents) / len(parents) if parents else math.inf

        column = sorted(gen, key=lambda n: (barycenter(n), order[n]))
        rows.update((n, float(i)) for i, n in enumerate(column))
        columns.append(column)
    tallest = max((len(c) for c in columns), default=0)
    pos: dict[str, tuple[float, float]] = {}
    for ci, column in enumerate(columns):
        offset = (tallest - len(column)) * (NODE_H + ROW_GAP) / 2
        for ri, node in enumerate(column):
            pos[node] = (PAD + ci * (NODE_W + COL_GAP), PAD + offset + ri * (NODE_H + ROW_GAP))
    return pos


def dag_svg(tasks: Mapping[str, Mapping[str, Any]], deps: Mapping[str, Sequence[str]]) -> str:
    """The task graph: columns are topological generations, nodes coloured by state, edges with arrowheads."""
    from workflow_cli.graph.dag import build_graph, topological_generations

    graph = build_graph({tid: list(deps.get(tid, ())) for tid in tasks})
    pos = _layout(topological_generations(graph), {n: list(graph.pred[n]) for n in graph})
    width = max((x for x, _ in pos.values()), default=0) + NODE_W + PAD
    height = max((y for _, y in pos.values()), default=0) + NODE_H + PAD
    parts = [f'<svg class="dag" width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
             f'role="img" aria-label="task graph">', _ARROW]
    for src, dst in graph.edges:
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        sx, sy, ex, ey = x1 + NODE_W, y1 + NODE_H / 2, x2 - 2, y2 + NODE_H / 2
        bend = max((ex - sx) / 2, 30)
        parts.append(f'<path class="edge" d="M{sx:.1f},{sy:.1f} C{sx + bend:.1f},{sy:.1f} {ex - bend:.1f},{ey:.1f} {ex:.1f},{ey:.1f}" '
                     f'fill="none" stroke="#5f6368" stroke-width="1.4" marker-end="url(#arrow)"/>')
    for tid, (x, y) in pos.items():
        status = str(tasks[tid].get("status", "pending"))
        fill, ink = color(status)
        attempts = int(tasks[tid].get("attempts") or 0)
        sub = status + (f" · {attempts} attempts" if attempts > 1 else "")
        parts.append(
            f'<g class="node" data-task="{escape(tid)}" data-status="{escape(status)}"><title>{escape(tid)}: {escape(sub)}</title>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="7" fill="{fill}" stroke="#3c4043" stroke-width="1.2"/>'
            f'<text x="{x + NODE_W / 2:.1f}" y="{y + 19:.1f}" text-anchor="middle" fill="{ink}" class="label">{escape(_fit(tid, NODE_W - 14))}</text>'
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
    parts = [f'<svg class="gantt" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="timeline of attempts">']
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
        if entry.get("error"):
            tip += f": {entry['error']}"
        parts.append(f'<rect class="bar" data-status="{escape(status)}" x="{x:.1f}" y="{row * ROW_H + 5}" width="{w:.1f}" height="{ROW_H - 10}" '
                     f'rx="3" fill="{color(status)[0]}" stroke="#3c4043" stroke-width="0.6"><title>{escape(tip)}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)
