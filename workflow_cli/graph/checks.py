"""Dependency checks without networkx (cheap enough for every ``create``); networkx only explains a cycle."""

from __future__ import annotations

from typing import Mapping, Sequence

from workflow_cli.errors import Issue, did_you_mean


def graph_issues(deps: Mapping[str, Sequence[str]]) -> list[Issue]:
    """Unknown, self and duplicate dependencies, then dependency cycles, each with its document path."""
    issues: list[Issue] = []
    for task, needs in deps.items():
        seen: set[str] = set()
        for i, dep in enumerate(needs):
            path = f"tasks.{task}.dependencies[{i}]"
            if dep in seen:
                issues.append(Issue(path, f"duplicate dependency '{dep}'"))
            elif dep == task:
                issues.append(Issue(path, f"task '{task}' depends on itself"))
            elif dep not in deps:
                hint = did_you_mean(dep, [t for t in deps if t != task])
                issues.append(Issue(path, f"unknown task '{dep}'", hint))
            seen.add(dep)
    if not _acyclic(deps):
        from workflow_cli.graph.dag import _cycle_issues, build_graph

        issues.extend(_cycle_issues(build_graph(deps)))
    return issues


def _acyclic(deps: Mapping[str, Sequence[str]]) -> bool:
    """Kahn's algorithm on plain dicts: ~10x cheaper than building a DiGraph when there is no cycle."""
    indegree = {task: 0 for task in deps}
    children: dict[str, list[str]] = {task: [] for task in deps}
    for task, needs in deps.items():
        for dep in set(needs):
            if dep in deps and dep != task:
                indegree[task] += 1
                children[dep].append(task)
    ready = [task for task, n in indegree.items() if n == 0]
    seen = 0
    while ready:
        task = ready.pop()
        seen += 1
        for child in children[task]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return seen == len(deps)
