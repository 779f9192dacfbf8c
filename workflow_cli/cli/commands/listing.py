"""``list``: instances, newest first."""

from __future__ import annotations

import sys
from typing import Any, Optional

import typer

from workflow_cli.cli.failure import guarded


def register(app: typer.Typer) -> None:
    @app.command("list")
    @guarded
    def list_cmd(
        ctx: typer.Context,
        status: Optional[str] = typer.Option(None, "--status", help="Only instances in this state (created, queued, running, waiting, paused, completed, failed, cancelled)."),
        template: Optional[str] = typer.Option(None, "--template", help="Only instances of this template."),
        limit: Optional[int] = typer.Option(None, "--limit", help="At most N instances."),
        sort: str = typer.Option("created", "--sort", help="created (newest first), name or status."),
    ) -> None:
        """List instances, newest first.

        Example: workflow-cli list --status failed --limit 5 --json
        """
        from workflow_cli.ops.query import list_instances

        obj = ctx.obj
        problems: list[str] = []
        rows = list_instances(obj.readable_home(), status=status, template=template, limit=limit, sort=sort, problems=problems)
        for problem in problems:
            typer.echo(f"error: skipped a damaged instance: {problem}", err=True)
        _render(obj, rows)
        if problems:
            raise typer.Exit(1)  # the others are listed, but a script must notice the damage


def _render(obj: Any, rows: list[dict[str, Any]]) -> None:
    """The list as JSON, ids only (--quiet) or a table."""
    if obj.json:
        obj.emit_json(rows)
        return
    if obj.quiet:
        sys.stdout.write("".join(r["id"] + "\n" for r in rows))
        return
    if not rows:
        obj.info("no instances")
        return
    from rich.table import Table

    from workflow_cli.cli.output import styled

    table = Table(box=None, pad_edge=False)
    for col in ("id", "name", "template", "status", "progress", "created", "finished"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["id"], r["name"], r["template"] or "", styled(r["display_status"]), f"{r['progress']:.0f}%", r["created_at"] or "", r["finished_at"] or "")
    obj.console().print(table)
