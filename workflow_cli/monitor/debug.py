"""``debug``: for each task that failed, waits or is blocked, why, and the command that moves it on.

Read-only. Parameters are rendered with the instance's public parameters (secret values are the
``***`` the header stores: ``secrets.json`` is never read here) and allowed environment variables
shown as ``***`` too; a parameter that cannot be rendered that way is shown raw.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any, Mapping

from workflow_cli.monitor.summary import describe_waiting, display_status, waiting_fix
from workflow_cli.store.instances import InstancePaths, load_state, read_document

LOG_TAIL = 10
MASK = "***"
BLOCKED_KINDS = ("upstream_failed", "upstream_skipped", "aborted")
BAD = ("failed", "cancelled")
# action -> parameters rendered with shell quoting, as the runner does (plugin actions: none assumed)
SHELL_FIELDS = {"command": ("command",)}


def log_tail(path: Path, lines: int = LOG_TAIL) -> list[str]:
    """The last ``lines`` lines of a task log (empty when there is none)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return [line.rstrip("\n") for line in deque(fh, maxlen=lines)]
    except FileNotFoundError:
        return []


def _scope(state: Mapping[str, Any], doc: Mapping[str, Any], paths: InstancePaths) -> dict[str, Any]:
    return {
        "params": state.get("params") or {},
        "vars": state.get("vars") or {},
        "tasks": state["tasks"],
        "instance": {"id": state["id"], "name": state.get("name"), "template": state.get("template"),
                     "started_at": state.get("started_at"), "created_at": state.get("created_at"),
                     "workspace": str(paths.workspace)},
        "env": {name: MASK for name in doc.get("env_allow") or []},
    }


def render_parameters(task_doc: Mapping[str, Any], scope: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The task's parameters rendered with ``scope``; a key that fails stays raw (with the first error)."""
    from workflow_cli.templates.render import render_value

    shell = SHELL_FIELDS.get(str(task_doc.get("action") or ""), ())
    out: dict[str, Any] = {}
    error: str | None = None
    for key, value in (task_doc.get("parameters") or {}).items():
        try:
            out[key] = render_value(value, scope, shell=key in shell and isinstance(value, str))
        except Exception as exc:  # noqa: BLE001 - any failure (unknown name, foreach item...) shows the raw value
            out[key] = value
            error = error or f"{key}: {exc}"
    return out, error


def _doomed(order: list[str], deps: Mapping[str, list[str]], status: Mapping[str, str], strict: set[str]) -> set[str]:
    """Tasks that cannot succeed: failed, cancelled or skipped, and pending ``all_success`` ones below them."""
    doomed: set[str] = set()
    for tid in order:  # dependencies come first, so one pass suffices
        below = status[tid] == "pending" and tid in strict and any(d in doomed for d in deps[tid])
        if status[tid] in (*BAD, "skipped") or below:
            doomed.add(tid)
    return doomed


def _causes(order: list[str], deps: Mapping[str, list[str]], status: Mapping[str, str]) -> dict[str, list[str]]:
    """For each task, the failed or cancelled tasks upstream of it (one pass: linear in the graph's size)."""
    causes: dict[str, list[str]] = {}
    for tid in order:
        found: dict[str, None] = {}
        for dep in deps[tid]:
            found.update(dict.fromkeys([dep] if status[dep] in BAD else causes[dep]))
        causes[tid] = list(found)
    return causes


def _diagnose(iid: str, tid: str, ts: Mapping[str, Any], ctx: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(kind, reason, fix) for a task worth explaining, or None."""
    status, kind, error = ts["status"], ts.get("error_kind"), ts.get("error")
    alive, instance = ctx["alive"], ctx["instance"]
    roots = ctx["causes"][tid]
    retry_root = f"workflow-cli retry {iid} --task {roots[0]}" if roots else f"workflow-cli retry {iid} --task {tid}"
    if status == "failed":
        code = f" (exit code {ts['exit_code']})" if ts.get("exit_code") is not None else ""
        return kind or "error", f"{error or 'failed'}{code}", None if alive else f"workflow-cli retry {iid} --task {tid}"
    if status == "waiting":
        return (ts.get("waiting") or {}).get("kind") or "waiting", f"waiting for {describe_waiting(ts.get('waiting'))}", \
            waiting_fix(iid, tid, ts.get("waiting"))
    if status == "running" and not alive and instance == "running":
        return "interrupted", f"its runner died during attempt {ts['attempts']} (started {ts.get('started_at')})", \
            f"workflow-cli resume {iid}"
    if status == "cancelled":
        fix = None if instance == "cancelled" or alive else f"workflow-cli retry {iid} --task {tid}"
        return kind or "cancelled", error or "cancelled", fix
    if status == "skipped":
        if kind == "condition":
            return kind, error or "a condition was false", None
        if kind in BLOCKED_KINDS or roots:
            cause = f"; upstream failed: {', '.join(roots)}" if roots else ""
            return kind or "upstream_failed", f"{error or 'skipped'}{cause}", None if alive else retry_root
        return kind or "skipped", error or "skipped", None
    if status == "pending" and ts.get("next_attempt_at"):
        fix = None if alive else f"workflow-cli resume {iid}"
        return "retry_scheduled", f"attempt {ts['attempts'] + 1} due at {ts['next_attempt_at']} after: {error}", fix
    if status == "pending" and tid in ctx["doomed"]:
        return "blocked", f"blocked: upstream failed: {', '.join(roots) or 'a dependency cannot succeed'}", \
            None if alive else retry_root
    return None


def debug_report(paths: InstancePaths, *, runner_alive: bool, tail: int = LOG_TAIL) -> dict[str, Any]:
    """The ``debug --json`` document: every failed, waiting or blocked task with its diagnosis."""
    state = load_state(paths)
    doc = read_document(paths)
    task_docs: dict[str, Any] = doc.get("tasks") or {}
    deps = {tid: list((task_docs.get(tid) or {}).get("dependencies") or []) for tid in state["tasks"]}
    status = {tid: ts["status"] for tid, ts in state["tasks"].items()}
    # other trigger rules (all_done, one_failed...) are meant to run after a failure: not blocked
    strict = {tid for tid in deps if (task_docs.get(tid) or {}).get("trigger_rule", "all_success") == "all_success"}
    order = _order(deps)
    ctx = {"alive": runner_alive, "instance": state["status"], "status": status,
           "doomed": _doomed(order, deps, status, strict), "causes": _causes(order, deps, status)}
    scope = _scope(state, doc, paths)
    tasks = []
    for tid, ts in state["tasks"].items():
        found = _diagnose(paths.id, tid, ts, ctx)
        if found is None:
            continue
        kind, reason, fix = found
        parameters, render_error = render_parameters(task_docs.get(tid) or {}, scope)
        tasks.append({
            "task": tid, "status": ts["status"], "kind": kind, "reason": reason, "error": ts.get("error"),
            "exit_code": ts.get("exit_code"), "attempts": list(ts.get("history") or []),
            "log_tail": log_tail(paths.task_log(tid), tail), "parameters": parameters, "render_error": render_error,
            "upstream": {d: status.get(d, "unknown") for d in deps[tid]}, "fix": fix,
        })
    shown = display_status(state, runner_alive=runner_alive)
    return {"id": paths.id, "name": state.get("name", ""), "status": state["status"], "display_status": shown,
            "runner_alive": runner_alive, "error": state.get("error"), "fix": _instance_fix(paths.id, shown, tasks),
            "tasks": tasks, "usage": {tid: {"cpu_seconds": ts["cpu_seconds"], "max_rss_mb": ts.get("max_rss_mb")}
                                      for tid, ts in state["tasks"].items() if ts.get("cpu_seconds") is not None}}


def _order(deps: Mapping[str, list[str]]) -> list[str]:
    """Dependencies before dependents (the document was validated: no cycles)."""
    from workflow_cli.graph.dag import build_graph, topological_order

    return topological_order(build_graph(deps))


def _instance_fix(iid: str, shown: str, tasks: list[dict[str, Any]]) -> str | None:
    """The one command to try first for the whole instance."""
    if shown in ("running (no runner)", "paused"):
        return f"workflow-cli resume {iid}"
    if shown == "created":
        return f"workflow-cli start {iid}"
    if shown == "failed":
        return f"workflow-cli retry {iid}"
    if shown == "waiting":
        return next((t["fix"] for t in tasks if t["status"] == "waiting" and t["fix"]), f"workflow-cli resume {iid}")
    return None
