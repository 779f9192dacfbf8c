"""``status ID``: an instance summary for people, or the SPEC 8 document with --json."""

from __future__ import annotations

import typer

from workflow_cli.cli.failure import guarded


def register(app: typer.Typer) -> None:
    @app.command("status")
    @guarded
    def status(ctx: typer.Context, instance: str = typer.Argument(..., metavar="ID", help="Instance id or a unique prefix.")) -> None:
        """Show an instance: status, progress, tasks with times, attempts and errors, checkpoints.

        Example: workflow-cli status 20261121-2151 --json
        """
        from workflow_cli.ops.query import get_status

        obj = ctx.obj
        doc = get_status(obj.readable_home(), instance)
        if obj.json:
            obj.emit_json(doc)
        else:
            from workflow_cli.cli.render_status import render_status

            render_status(obj.console(), doc)
