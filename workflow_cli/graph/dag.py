"""The task graph on networkx: build, check, order, measure and draw (SPEC section 5).

Nodes are task ids in document order; an edge runs from a dependency to its dependent, so
``g.succ[t]`` are the tasks waiting on ``t``. This is the only module that imports networkx.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

import networkx as nx

from workflow_cli.errors import InvalidInputError, Issue, NotFoundError, did_you_mean

if TYPE_CHECKING:
    Graph: TypeAlias = nx.DiGraph[str]  # nodes are task ids
else:
    Graph = nx.DiGraph

MAX_CYCLES_REPORTED = 5
_MERMAID_RESERVED = frozenset(
    {"end", "graph", "subgraph", "flowchart", "style", "class", "classdef", "click", "linkstyle", "direction"}
    | {"default"}
)


def build_graph(deps: Mapping[str, Sequence[str]]) -> Graph:
    """The DiGraph of ``task -> dependencies``; unknown and self dependencies are left out."""
    g: Graph = nx.DiGraph()
    g.add_nodes_from(deps)
    g.add_edges_from((dep, task) for task, needs in deps.items() for dep in needs if dep in deps and dep != task)
    return g


from workflow_cli.graph.checks import graph_issues  # noqa: E402,F401 - re-exported


def _cycle_issues(g: Graph) -> list[Issue]:
    """Up to MAX_CYCLES_REPORTED cycles, each read as "depends on" from its first task in document order."""
    if nx.is_directed_acyclic_graph(g):
        return []
    order = _document_order(g)
    cyclic = {n for c in nx.strongly_connected_components(g) if len(c) > 1 for n in c}
    work = g.subgraph(sorted(cyclic, key=order.__getitem__)).copy()
    issues: list[Issue] = []
    while len(issues) < MAX_CYCLES_REPORTED:
        components = [c for c in nx.strongly_connected_components(work) if len(c) > 1]
        if not components:
            break
        start = min((n for c in components for n in c), key=order.__getitem__)
        cycle = _shortest_cycle(work, start, order)
        text = " -> ".join([*cycle, start])
        issues.append(Issue(f"tasks.{start}.dependencies", f"dependency cycle: {text}"))
        # Dropping "start depends on cycle[1]" breaks this cycle, so the next one found differs.
        work.remove_edge(cycle[1], start)
    return issues


def _shortest_cycle(g: Graph, start: str, order: Mapping[str, int]) -> list[str]:
    """``[start, d1, d2, ...]`` where start depends on d1, d1 on d2, ... and the last on start."""
    paths = nx.single_source_shortest_path(g.reverse(copy=False), start)
    closing = [n for n in g.succ[start] if n in paths]
    last = min(closing, key=lambda n: (len(paths[n]), order[n]))
    return list(paths[last])


def _document_order(g: Graph) -> dict[str, int]:
    return {n: i for i, n in enumerate(g)}


def _raise_cycle(g: Graph, exc: Exception) -> NoReturn:
    raise InvalidInputError(issues=_cycle_issues(g) or [Issue("tasks", "dependency cycle")]) from exc


def topological_order(g: Graph, *, key: Callable[[str], Any] | None = None) -> list[str]:
    """Tasks with every dependency first; ties broken by ``key`` (default: document order)."""
    if key is None:
        key = _document_order(g).__getitem__
    try:
        return list(nx.lexicographical_topological_sort(g, key=key))
    except nx.NetworkXUnfeasible as exc:
        _raise_cycle(g, exc)


def topological_generations(g: Graph) -> list[list[str]]:
    """Layers of tasks whose dependencies all lie in earlier layers, each in document order."""
    order = _document_order(g)
    try:
        return [sorted(gen, key=order.__getitem__) for gen in nx.topological_generations(g)]
    except nx.NetworkXUnfeasible as exc:
        _raise_cycle(g, exc)


def _reachable(g: Graph, ids: Iterable[str]) -> set[str]:
    """Nodes reachable from ``ids`` by one or more edges of ``g``."""
    sources = list(dict.fromkeys(ids))
    for node in sources:
        if node not in g:
            hint = did_you_mean(node, list(g))
            raise NotFoundError(f"unknown task '{node}'" + (f" ({hint})" if hint else ""))
    if not sources:
        return set()
    reach = set(chain.from_iterable(nx.bfs_layers(g, sources)))
    starts = set(sources)
    # A source counts only when another reached node leads to it.
    return {n for n in reach if n not in starts or any(p in reach for p in g.pred[n])}


def descendants(g: Graph, ids: Iterable[str]) -> set[str]:
    """Every task that depends, directly or not, on one of ``ids``."""
    return _reachable(g, ids)


def ancestors(g: Graph, ids: Iterable[str]) -> set[str]:
    """Every task that one of ``ids`` depends on, directly or not."""
    return _reachable(g.reverse(copy=False), ids)


def _topological_sort(g: Graph) -> list[str]:
    try:
        return list(nx.topological_sort(g))
    except nx.NetworkXUnfeasible as exc:
        _raise_cycle(g, exc)


def critical_path(g: Graph, durations: Mapping[str, float]) -> tuple[list[str], float]:
    """The chain of tasks with the largest summed duration (missing durations count 0), and that sum."""
    best: dict[str, float] = {}
    via: dict[str, str | None] = {}
    for node in _topological_sort(g):
        prev = max(g.pred[node], key=best.__getitem__, default=None)
        best[node] = float(durations.get(node, 0.0)) + (best[prev] if prev is not None else 0.0)
        via[node] = prev
    if not best:
        return [], 0.0
    end: str | None = max(best, key=best.__getitem__)
    total = best[end] if end is not None else 0.0
    path: list[str] = []
    while end is not None:
        path.append(end)
        end = via[end]
    return path[::-1], total


def remaining_critical_path(g: Graph, durations: Mapping[str, float], done: set[str]) -> float:
    """Longest summed duration along a chain of tasks not in ``done`` (a lower bound for the ETA)."""
    best: dict[str, float] = {}
    for node in _topological_sort(g):
        if node in done:
            continue
        before = max((best[p] for p in g.pred[node] if p in best), default=0.0)
        best[node] = float(durations.get(node, 0.0)) + before
    return max(best.values(), default=0.0)


def _edges(g: Graph) -> list[tuple[str, str]]:
    """Edges in document order: by dependent, then by its dependency list."""
    return [(dep, task) for task in g for dep in g.pred[task]]


def to_ascii(g: Graph, labels: Mapping[str, str] | None = None, states: Mapping[str, str] | None = None) -> str:
    """A ``tree``-style drawing; a task with several dependencies is drawn in full once, then ``(see above)``."""

    def text(node: str) -> str:
        line = labels.get(node, node) if labels else node
        return f"{line} ({states[node]})" if states and node in states else line

    lines: list[str] = []
    seen: set[str] = set()
    roots = [n for n in g if not g.pred[n]]
    for top in chain(roots, g):  # nodes left after the roots lie on cycles
        if top in seen:
            continue
        stack: list[tuple[str, str, str]] = [(top, "", "")]
        while stack:
            node, head, indent = stack.pop()
            if node in seen:
                lines.append(f"{head}{node} (see above)")
                continue
            seen.add(node)
            lines.append(head + text(node))
            children = list(g.succ[node])
            for i in range(len(children) - 1, -1, -1):
                last = i == len(children) - 1
                branch, pad = ("└── ", "    ") if last else ("├── ", "│   ")
                stack.append((children[i], indent + branch, indent + pad))
    return "\n".join(lines)


def _mermaid_ids(g: Graph) -> dict[str, str]:
    ids: dict[str, str] = {}
    used: set[str] = set()
    for node in g:
        base = re.sub(r"\W", "_", node, flags=re.ASCII) or "_"
        if base.lower() in _MERMAID_RESERVED or not (base[0].isalpha() or base[0] == "_"):
            base = f"t_{base}"
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}_{n}", n + 1
        used.add(candidate)
        ids[node] = candidate
    return ids


# (fill, stroke) per task state, for the mermaid classes and dot fill colours of an instance's graph.
STATE_COLOURS: dict[str, tuple[str, str]] = {
    "completed": ("#d4edda", "#28a745"),
    "running": ("#d1ecf1", "#17a2b8"),
    "waiting": ("#fff3cd", "#d39e00"),
    "failed": ("#f8d7da", "#dc3545"),
    "cancelled": ("#e2e3e5", "#6c757d"),
    "skipped": ("#f1f1f1", "#9e9e9e"),
    "pending": ("#ffffff", "#6c757d"),
}


def _stated(label: str, node: str, states: Mapping[str, str] | None) -> str:
    return f"{label} ({states[node]})" if states and states.get(node) else label


def to_mermaid(g: Graph, labels: Mapping[str, str] | None = None, states: Mapping[str, str] | None = None) -> str:
    """A Mermaid ``flowchart TD`` with ids made safe for Mermaid and the labels quoted.

    With ``states`` (an instance) each label ends in its task's state and each node gets a
    ``classDef`` class named after the state (green completed, red failed, ...).
    """
    ids = _mermaid_ids(g)
    lines = ["flowchart TD"]
    for node in g:
        label = _stated(labels.get(node, node) if labels else node, node, states).replace('"', "#quot;")
        lines.append(f'    {ids[node]}["{label}"]')
    lines.extend(f"    {ids[a]} --> {ids[b]}" for a, b in _edges(g))
    by_state: dict[str, list[str]] = {}
    for node in g:
        state = (states or {}).get(node)
        if state:
            by_state.setdefault(state, []).append(ids[node])
    for state, members in by_state.items():
        name = re.sub(r"\W", "_", state, flags=re.ASCII)
        fill, stroke = STATE_COLOURS.get(state, ("#ffffff", "#333333"))
        lines.append(f"    classDef {name} fill:{fill},stroke:{stroke}")
        lines.append(f"    class {','.join(members)} {name}")
    return "\n".join(lines)


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def to_dot(g: Graph, labels: Mapping[str, str] | None = None, states: Mapping[str, str] | None = None) -> str:
    """A Graphviz ``digraph workflow`` with every id quoted; with ``states``, filled in each task's state colour."""
    lines = ["digraph workflow {", "    node [shape=box];"]
    for node in g:
        label = _stated(labels.get(node, node) if labels else node, node, states)
        state = (states or {}).get(node)
        style = ""
        if state:
            fill, stroke = STATE_COLOURS.get(state, ("#ffffff", "#333333"))
            style = f', style=filled, fillcolor="{fill}", color="{stroke}", tooltip={_dot_quote(state)}'
        lines.append(f"    {_dot_quote(node)} [label={_dot_quote(label)}{style}];")
    lines.extend(f"    {_dot_quote(a)} -> {_dot_quote(b)};" for a, b in _edges(g))
    lines.append("}")
    return "\n".join(lines)


def to_json(g: Graph, nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"nodes": [{"id", "name", "action"}], "edges": [[from, to]]}``, edges in document order."""
    return {
        "nodes": [{"id": n["id"], "name": n.get("name") or "", "action": n.get("action") or ""} for n in nodes],
        "edges": [[a, b] for a, b in _edges(g)],
    }
