"""``schema``: print the JSON Schema of the workflow document."""

from __future__ import annotations

import json

import typer

from workflow_cli.cli.failure import guarded


def register(app: typer.Typer) -> None:
    @app.command("schema")
    @guarded
    def schema(
        ctx: typer.Context,
        name: str = typer.Option("workflow-2.0.0", "--name", help="Which schema: workflow-2.0.0, config or agents."),
    ) -> None:
        """Print the JSON Schema (for editors and CI linters).

        Example: workflow-cli schema > workflow.schema.json
        """
        from workflow_cli.model.schema import available_schemas, load_schema

        if name not in available_schemas():
            from workflow_cli.errors import InvalidInputError, did_you_mean

            raise InvalidInputError.at("--name", f"unknown schema '{name}'", did_you_mean(name, available_schemas()) or ", ".join(available_schemas()))
        typer.echo(json.dumps(load_schema(name), indent=2))
