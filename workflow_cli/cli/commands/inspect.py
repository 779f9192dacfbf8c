"""``debug ID`` (why tasks failed, wait or are blocked, and the fix) and ``audit ID`` (the event history)."""

from __future__ import annotations

import json
import sys
from typing import Any, Mapping, Optional

import typer

from workflow_cli.cli.failure import guarded

DETAIL_LIMIT = 20
# which tasks get a detailed entry first when there are more than DETAIL_LIMIT
PRIORITY = {"failed": 0, "waiting": 1, "running": 2, "cancelled": 3, "pending": 4, "skipped": 5}
MARKS = {"failed": "✖", "waiting": "…", "skipped": "·", "cancelled": "⊘", "pending": "○", "running": "▶"}


def _attempt_line(entry: Mapping[str, Any]) -> str:
    end = entry.get("finished_at") or "(no end recorded)"
    text = f"#{entry.get('attempt')} {entry.get('started_at')} -> {end} {entry.get('status') or 'running'}"
    if entry.get("exit_code") is not None:
        text += f" (exit {entry['exit_code']})"
    if entry.get("cpu_seconds") is not None:
        from workflow_cli.monitor.usage import usage_text

        text += f" [{usage_text(entry)}]"
    return text + (f": {entry['error']}" if entry.get("error") else "")


def _render_task(console: Any, task: Mapping[str, Any]) -> None:
    from rich.markup import escape

    from workflow_cli.cli.output import styled

    mark = MARKS.get(task["status"], "•")
    console.print(f"{mark} [bold]{escape(task['task'])}[/bold]  {styled(task['status'])}  ({escape(task['kind'])})")
    lines = [("why", task["reason"])]
    lines += [("attempt", _attempt_line(a)) for a in task["attempts"]]
    if task["upstream"]:
        lines.append(("upstream", ", ".join(f"{d}={s}" for d, s in task["upstream"].items())))
    for key, value in task["parameters"].items():
        lines.append(("param", f"{key} = {value if isinstance(value, str) else json.dumps(value, default=str)}"))
    if task.get("render_error"):
        lines.append(("param", f"(shown raw where rendering failed: {task['render_error']})"))
    if task["log_tail"]:
        lines.append(("log", f"last {len(task['log_tail'])} line(s):"))
        lines += [("", f"  | {line}") for line in task["log_tail"]]
    lines.append(("fix", task["fix"] or "none"))
    for label, text in lines:
        console.print(f"  {label:<9}{text}", markup=False, highlight=False)


def _pick(tasks: list[Mapping[str, Any]], limit: int | None) -> tuple[list[Mapping[str, Any]], dict[str, int]]:
    """The tasks shown in detail (in document order) and counts of the others by ``status (kind)``."""
    if limit is None or len(tasks) <= limit:
        return tasks, {}
    ranked = sorted(range(len(tasks)), key=lambda i: (PRIORITY.get(tasks[i]["status"], 9), tasks[i]["kind"] == "condition", i))
    keep = set(ranked[:limit])
    rest: dict[str, int] = {}
    for i, task in enumerate(tasks):
        if i not in keep:
            key = f"{task['status']} ({task['kind']})"
            rest[key] = rest.get(key, 0) + 1
    return [t for i, t in enumerate(tasks) if i in keep], rest


def _render_debug(console: Any, report: Mapping[str, Any], limit: int | None) -> None:
    from workflow_cli.cli.output import styled

    console.print(f"[bold]{report['name']}[/bold]  {report['id']}  {styled(report['display_status'])}")
    if report.get("error"):
        console.print(f"error: {report['error']}", markup=False)
    if not report["tasks"]:
        console.print("no failed, waiting or blocked task")
    shown, rest = _pick(report["tasks"], limit)
    for task in shown:
        console.print("")
        _render_task(console, task)
    if rest:
        counts = ", ".join(f"{n} {key}" for key, n in rest.items())
        console.print(f"\n… {sum(rest.values())} more task(s) not detailed: {counts} (--all or --json shows them)", markup=False)
    if report.get("usage"):
        from workflow_cli.monitor.usage import usage_text

        console.print("\nresources (latest attempt of each task that ran a process):", markup=False)
        for tid, figures in report["usage"].items():
            console.print(f"  {tid:<20} {usage_text(figures)}", markup=False, highlight=False)
    if report.get("fix"):
        console.print(f"\nnext: {report['fix']}", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``debug`` and ``audit`` to the root command."""

    @app.command("debug")
    @guarded
    def debug(
        ctx: typer.Context,
        instance: str = typer.Argument(..., metavar="ID", help="Instance id or unique prefix."),
        lines: int = typer.Option(10, "--lines", "-n", min=0, help="Log lines shown per task."),
        all_tasks: bool = typer.Option(False, "--all", help=f"Detail every task (default: the {DETAIL_LIMIT} most telling)."),
    ) -> None:
        """Explain each failed, waiting or blocked task: why, attempts, log tail, parameters, upstream, and the fix.

        Example: workflow-cli debug 20261121-2151
        """
        from workflow_cli.monitor.debug import debug_report
        from workflow_cli.ops.query import instance_paths
        from workflow_cli.store.locks import is_locked

        obj = ctx.obj
        paths = instance_paths(obj.readable_home(), instance)
        report = debug_report(paths, runner_alive=is_locked(paths.lock), tail=lines)
        if obj.json:
            obj.emit_json(report)
        else:
            _render_debug(obj.console(), report, None if all_tasks else DETAIL_LIMIT)

    @app.command("audit")
    @guarded
    def audit(
        ctx: typer.Context,
        instance: str = typer.Argument(..., metavar="ID", help="Instance id or unique prefix."),
        since: Optional[str] = typer.Option(None, "--since", metavar="T", help="Only events at or after T: an ISO time, or 10m, 2h, 1d ago."),
    ) -> None:
        """Print the event history: time, type, actor and details (--json: the events as stored).

        Example: workflow-cli audit 20261121-2151 --since 2h
        """
        from workflow_cli.clock import SystemClock
        from workflow_cli.monitor.audit import audit_events, audit_line, parse_since
        from workflow_cli.ops.query import instance_paths

        obj = ctx.obj
        cutoff = parse_since(since, SystemClock().time()) if since is not None else None
        events = audit_events(instance_paths(obj.readable_home(), instance), since=cutoff)
        if obj.json:
            obj.emit_json(events)
            return
        sys.stdout.writelines(audit_line(e) + "\n" for e in events)
        if not events:
            obj.info("no events" + (f" since {since}" if since else ""))
