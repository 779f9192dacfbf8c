"""What each page shows, read through the same ops functions as the CLI and the API (no web stack here)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from workflow_cli.server.auth import Identity
from workflow_cli.server.ui.forms import param_fields, schema_fields
from workflow_cli.store.home import Home


def may_decide(who: Identity, waiting: Mapping[str, Any]) -> bool:
    """Whether ``who`` may approve or reject a gate (the API's rule: a listed name, or any operator when none is listed)."""
    approvers = list(waiting.get("approvers") or [])
    return who.name in approvers if approvers else who.at_least("operator")


def runs_view(home: Home, status: str | None, template: str | None) -> dict[str, Any]:
    """The runs page: instances newest first (filtered) and the template names to filter by."""
    from workflow_cli.ops.query import list_instances
    from workflow_cli.ops.templates import list_templates

    rows = list_instances(home, status=status or None, template=template or None, limit=200, problems=[])
    names = sorted({t["name"] for t in list_templates(home)} | {str(r.get("template")) for r in rows if r.get("template")})
    return {"rows": rows, "template_names": names, "status_filter": status or "", "template_filter": template or ""}


def _gates(status: Mapping[str, Any], who: Identity) -> list[dict[str, Any]]:
    gates = []
    for waiting in status.get("waiting_for") or []:
        if waiting.get("kind") == "approval":
            gates.append({**waiting, "may_decide": may_decide(who, waiting), "fields": schema_fields(waiting.get("input_schema"))})
    return gates


def run_view(home: Home, instance: str, who: Identity, task: str | None) -> dict[str, Any]:
    """The run page: status, graph, Gantt, tasks, parameters and variables, checkpoints, gates, the chosen task."""
    from workflow_cli.monitor.report_svg import dag_svg, gantt_svg
    from workflow_cli.ops.query import instance_paths, status_and_state
    from workflow_cli.store.instances import read_document

    paths = instance_paths(home, instance)
    status, state = status_and_state(home, paths.id)
    doc_tasks = read_document(paths).get("tasks") or {}
    deps = {tid: list((doc_tasks.get(tid) or {}).get("dependencies") or []) for tid in state["tasks"]}
    chosen = task if task in state["tasks"] else None
    detail = None
    if chosen:
        detail = {"id": chosen, **status["tasks"][chosen], "history": state["tasks"][chosen].get("history") or [],
                  "action": (doc_tasks.get(chosen) or {}).get("action", "")}
    return {"run": status, "dag": dag_svg(state["tasks"], deps), "gantt": gantt_svg(state["tasks"], now=time.time()),
            "checkpoints": [{"id": cp["id"], "created_at": cp["created_at"], "task": cp.get("task")} for cp in state["checkpoints"]],
            "gates": _gates(status, who), "task": detail,
            "seq": int(state.get("last_seq") or 0)}


def approvals_for(home: Home, who: Identity) -> list[dict[str, Any]]:
    """The gates waiting for ``who`` across all instances, oldest instance first."""
    from workflow_cli.errors import WorkflowError
    from workflow_cli.ops.query import get_status, list_instances

    out = []
    for row in reversed(list_instances(home, status="waiting", problems=[])):
        try:
            status = get_status(home, row["id"])
        except WorkflowError:
            continue  # gone or damaged meanwhile
        for gate in _gates(status, who):
            if gate["may_decide"]:
                out.append({**gate, "instance": row["id"], "instance_name": row.get("name") or row["id"], "template": row.get("template")})
    return out


def template_view(home: Home, name: str) -> dict[str, Any]:
    """A template: its description, parameter table, graph and run form."""
    from workflow_cli.monitor.report_svg import dag_svg
    from workflow_cli.ops.templates import show_template

    info = show_template(home, name)
    graph = info["graph"]
    deps: dict[str, list[str]] = {n["id"]: [] for n in graph["nodes"]}
    for src, dst in graph["edges"]:
        deps[dst].append(src)
    actions = {n["id"]: str(n.get("action") or "pending") for n in graph["nodes"]}
    tasks = {tid: {"status": actions[tid]} for tid in deps}  # a template's boxes name their action (drawn as pending)
    return {"template": info, "dag": dag_svg(tasks, deps), "fields": param_fields(info.get("parameters") or {})}


def approvals_json(home: Home, who: Identity) -> list[dict[str, Any]]:
    """``GET /api/v1/approvals``: the gates ``who`` may decide, without the form fields."""
    return [{k: v for k, v in gate.items() if k not in ("fields", "may_decide")} for gate in approvals_for(home, who)]
