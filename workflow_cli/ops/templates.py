"""``templates``: describe every template (home and built-in) and one template in detail."""

from __future__ import annotations

from typing import Any

from workflow_cli.errors import WorkflowError
from workflow_cli.model.loader import load_document
from workflow_cli.ops.sources import TemplateRef, discover_templates, find_template
from workflow_cli.store.home import Home


def describe(ref: TemplateRef) -> dict[str, Any]:
    """The ``templates --json`` row of one template; a broken template is listed with its error."""
    row: dict[str, Any] = {"name": ref.name, "description": "", "category": "", "source": ref.source, "path": str(ref.path), "parameters": {}}
    try:
        doc = load_document(ref.path)
    except WorkflowError as exc:
        row["error"] = str(exc)
        return row
    row.update(
        description=doc.get("description", "") if isinstance(doc.get("description"), str) else "",
        category=doc.get("category", "") if isinstance(doc.get("category"), str) else "",
        version=doc.get("version"),
        tags=doc.get("tags") or [],
        parameters=_declarations(doc.get("parameters")),
        tasks=len(doc.get("tasks") or {}) if isinstance(doc.get("tasks"), (dict, list)) else 0,
    )
    return row


def _declarations(value: Any) -> dict[str, Any]:
    """The parameter declarations of a raw document; malformed entries are left out (``validate`` reports them)."""
    if not isinstance(value, dict):
        return {}
    return {name: decl for name, decl in value.items() if isinstance(decl, dict)}


def list_templates(home: Home) -> list[dict[str, Any]]:
    """Every template, sorted by name."""
    return [describe(ref) for ref in discover_templates(home).values()]


def show_template(home: Home, name: str) -> dict[str, Any]:
    """One template with its parameters and graph."""
    from workflow_cli.graph.dag import build_graph, to_json

    from workflow_cli.ops.document_checks import check_document
    from workflow_cli.ops.create import _known_actions

    ref = find_template(home, name)
    info = describe(ref)
    # an invalid template has no graph to show: report its problems (exit 2), as ``graph`` does
    wf = check_document(load_document(ref.path), known_actions=_known_actions())
    deps = {tid: list(t.dependencies) for tid, t in wf.tasks.items()}
    nodes = [{"id": tid, "name": t.label, "action": t.action} for tid, t in wf.tasks.items()]
    info["graph"] = to_json(build_graph(deps), nodes)
    return info
