"""``graph``: render the DAG of a template, a document file or an instance (with task states)."""

from __future__ import annotations

from typing import Any

from workflow_cli.errors import NotFoundError
from workflow_cli.ops.document_checks import check_document
from workflow_cli.store.home import Home


def _document_and_states(home: Home, source: str) -> tuple[dict[str, Any], dict[str, str] | None]:
    from workflow_cli.ops.sources import load_source

    try:
        return load_source(home, source).document, None
    except NotFoundError:
        from workflow_cli.ops.python_source import is_python_source

        if is_python_source(source):
            raise  # FILE.py[:NAME] is never an instance id
        from workflow_cli.ops.query import instance_paths
        from workflow_cli.store.instances import load_state, read_document

        try:
            paths = instance_paths(home, source)
        except NotFoundError:
            raise NotFoundError(f"no template, document file or instance named '{source}'") from None
        state = load_state(paths)
        return read_document(paths), {tid: t["status"] for tid, t in state["tasks"].items()}


def render_graph(home: Home, source: str, fmt: str) -> Any:
    """The graph as text (ascii, mermaid, dot) or the SPEC 5 JSON document."""
    from workflow_cli.graph.dag import build_graph, to_ascii, to_dot, to_json, to_mermaid
    from workflow_cli.ops.create import _known_actions

    doc, states = _document_and_states(home, source)
    wf = check_document(doc, known_actions=_known_actions())
    g = build_graph({tid: t.dependencies for tid, t in wf.tasks.items()})
    labels = {tid: f"{tid} [{t.action}]" for tid, t in wf.tasks.items()}
    if fmt == "json":
        nodes = [{"id": tid, "name": t.label, "action": t.action} for tid, t in wf.tasks.items()]
        data = to_json(g, nodes)
        if states:
            for node in data["nodes"]:
                node["status"] = states.get(node["id"])
        return data
    if fmt == "mermaid":
        return to_mermaid(g, labels, states)
    if fmt == "dot":
        return to_dot(g, labels, states)
    return to_ascii(g, labels, states)
