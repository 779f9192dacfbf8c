"""``status ID``: an instance summary for people, or the SPEC 8 document with --json."""

from __future__ import annotations

import typer

from workflow_cli.cli import bodies
from workflow_cli.cli.failure import guarded


def register(app: typer.Typer) -> None:
    @app.command("status")
    @guarded
    def status(ctx: typer.Context, instance: str = typer.Argument(..., metavar="ID", help="Instance id or a unique prefix.")) -> None:
        """Show an instance: status, progress, tasks with times, attempts and errors, checkpoints.

        Example: workflow-cli status 20261121-2151 --json
        """
        bodies.status(ctx.obj, instance)
