"""``validate FILE_OR_TEMPLATE``: exit 0 when valid, 2 when not."""

from __future__ import annotations

from typing import List, Optional

import typer

from workflow_cli.cli.failure import guarded

PARAM_HELP = "A parameter value, key=value (repeatable)."


def register(app: typer.Typer) -> None:
    @app.command("validate")
    @guarded
    def validate(
        ctx: typer.Context,
        source: str = typer.Argument(..., metavar="FILE_OR_TEMPLATE", help="A document file or a template name."),
        param: List[str] = typer.Option([], "--param", "-p", help=PARAM_HELP, metavar="KEY=VALUE"),
        params_file: Optional[str] = typer.Option(None, "--params-file", help="JSON or YAML file of parameter values.", metavar="FILE"),
    ) -> None:
        """Check a document: schema, graph, expressions and parameters; every problem at once.

        Example: workflow-cli validate flows/etl.yaml --param region=eu
        """
        from workflow_cli.ops.notes import source_notes
        from workflow_cli.ops.validation import validate_source

        obj = ctx.obj
        notes: list[str] = []  # an old document migrated in memory says so (SPEC 11)
        with source_notes(notes.append):
            result = validate_source(obj.readable_home(), source, cli_pairs=param, params_file=params_file)
        if obj.json:
            obj.emit_json({**result.to_json(), "notes": notes + result.notes})
        else:
            for error in result.errors:
                typer.echo(f"error: {error}", err=True)
            for note in notes + result.notes:
                obj.info(f"note: {note}")
            if result.valid:
                obj.out(f"valid: {result.source} ({result.tasks} tasks)")
            else:
                typer.echo(f"invalid: {result.source} ({len(result.errors)} problem{'s' if len(result.errors) != 1 else ''})", err=True)
        if not result.valid:
            raise typer.Exit(2)
