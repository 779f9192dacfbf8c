"""``create TEMPLATE_OR_FILE``: make an instance in ``created``; the id is the last line of stdout."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from workflow_cli.cli.failure import guarded

PARAM_HELP = "A parameter value, key=value (repeatable; converted to the declared type)."
PARAMS_FILE_HELP = "JSON or YAML file of parameter values (--param wins over it)."
WORKDIR_HELP = "The instance's base directory: where command tasks run by default (default: the current directory)."


def register(app: typer.Typer) -> None:
    @app.command("create")
    @guarded
    def create(
        ctx: typer.Context,
        source: str = typer.Argument(..., metavar="TEMPLATE_OR_FILE", help="A template name or a document file."),
        param: List[str] = typer.Option([], "--param", "-p", help=PARAM_HELP, metavar="KEY=VALUE"),
        params_file: Optional[str] = typer.Option(None, "--params-file", help=PARAMS_FILE_HELP, metavar="FILE"),
        name: Optional[str] = typer.Option(None, "--name", help="A name for this instance (default: the document's name)."),
        workdir: Optional[str] = typer.Option(None, "--workdir", help=WORKDIR_HELP, metavar="DIR"),
    ) -> None:
        """Create an instance from a template or file without running it.

        Example: ID=$(workflow-cli create approval_chain -q --param level1_approver=ann --param level2_approver=bob --param request_title="New laptop")
        """
        from workflow_cli.ops.create import create_instance
        from workflow_cli.ops.notes import source_notes

        from workflow_cli.store.config import load_config

        obj = ctx.obj
        load_config(obj.readable_home())  # a broken config.yaml: exit 2 here, not an instance no start can run (as run)
        with source_notes(lambda note: obj.info(f"note: {note}")):  # an old document migrated in memory (SPEC 11)
            result = create_instance(obj.readable_home(), source, cli_pairs=param, params_file=params_file, name=name,
                                     workdir=workdir)
        if obj.json:
            obj.emit_json(result.to_json())
        elif obj.quiet:
            sys.stdout.write(result.id + "\n")
        else:
            obj.info(f"created instance of {result.template} ({result.name}) in home {obj.home.root}")
            sys.stdout.write(result.id + "\n")
