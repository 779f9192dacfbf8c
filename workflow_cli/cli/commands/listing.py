"""``list``: instances, newest first."""

from __future__ import annotations

from typing import Optional

import typer

from workflow_cli.cli import bodies
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
        bodies.list_instances(ctx.obj, status=status, template=template, limit=limit, sort=sort)
