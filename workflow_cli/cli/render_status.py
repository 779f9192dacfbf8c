"""The human view of ``status``: header, progress bar, task table, checkpoints and the way out."""

from __future__ import annotations

from typing import Any

from workflow_cli.cli.output import styled


def _bar(percent: float, width: int = 30) -> str:
    filled = int(round(width * percent / 100))
    return "█" * filled + "░" * (width - filled)


def _fmt_seconds(value: float | None) -> str:
    if value is None:
        return ""
    if value < 60:
        return f"{value:.1f}s"
    minutes, seconds = divmod(int(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def next_step(doc: dict[str, Any]) -> str | None:
    """The command that moves the instance on, for people reading ``status``."""
    iid, shown = doc["id"], doc["display_status"]
    return {
        "created": f"workflow-cli start {iid}",
        "running (no runner)": f"workflow-cli resume {iid}",
        "paused": f"workflow-cli resume {iid}",
        "failed": f"workflow-cli debug {iid}  (then: workflow-cli retry {iid})",
    }.get(shown)


def render_status(console: Any, doc: dict[str, Any]) -> None:
    """Print the status view of one instance."""
    from rich.table import Table

    console.print(f"[bold]{doc['name']}[/bold]  {doc['id']}  (template {doc['template']})")
    console.print(f"status:   {styled(doc['display_status'])}")
    console.print(f"progress: {_bar(doc['progress'])} {doc['progress']:.0f}%")
    console.print(f"created:  {doc['created_at'] or ''}   started: {doc['started_at'] or '-'}   finished: {doc['finished_at'] or '-'}")
    if doc.get("eta_seconds"):
        console.print(f"eta:      {_fmt_seconds(doc['eta_seconds'])}")
    if doc.get("error"):
        console.print(f"error:    {doc['error']}")
    table = Table(box=None, pad_edge=False)
    for col in ("task", "status", "attempts", "started", "duration", "error"):
        table.add_column(col, overflow="fold")
    for tid, task in doc["tasks"].items():
        table.add_row(tid, styled(task["status"]), str(task["attempts"] or ""), task["started_at"] or "", _fmt_seconds(task["duration_seconds"]), task["error"] or "")
    console.print(table)
    if doc["checkpoints"]:
        console.print(f"checkpoints: {', '.join(doc['checkpoints'])}")
    step = next_step(doc)
    if step:
        console.print(f"next: {step}", markup=False)
