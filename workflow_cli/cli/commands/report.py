"""``report ID --output FILE.html``: a self-contained HTML report of an instance."""

from __future__ import annotations

from pathlib import Path

import typer

from workflow_cli.cli.failure import guarded


def register(app: typer.Typer) -> None:
    @app.command("report")
    @guarded
    def report(
        ctx: typer.Context,
        instance: str = typer.Argument(..., metavar="ID", help="Instance id or unique prefix."),
        output: Path = typer.Option(..., "--output", "-o", help="The HTML file to write.", metavar="FILE.html",
                                    dir_okay=True, resolve_path=False),
    ) -> None:
        """Write one HTML file: summary, DAG picture, Gantt timeline of attempts, task table, errors.

        The file is self-contained (inline CSS and SVG, nothing fetched from the network).
        Example: workflow-cli report 20261121-2151 --output run.html
        """
        from workflow_cli.monitor.report_html import write_report

        obj = ctx.obj
        path = write_report(obj.readable_home(), instance, output)
        if obj.json:
            obj.emit_json({"output": str(path)})
        else:
            typer.echo(str(path))
