"""``init [DIR]``: create a home with an example template and an agents file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from workflow_cli.cli.failure import guarded


def register(app: typer.Typer) -> None:
    @app.command("init")
    @guarded
    def init(
        ctx: typer.Context,
        directory: Optional[Path] = typer.Argument(None, metavar="[DIR]", help="Folder to make a home (default: --home, $WORKFLOW_HOME, else the current folder)."),
    ) -> None:
        """Create a home folder (templates/, instances/, checkpoints/, monitoring/, cache/).

        Example: workflow-cli init ~/flows && cd ~/flows && workflow-cli templates
        """
        import os

        from workflow_cli.ops.home_setup import init_with_examples

        obj = ctx.obj
        target = directory or Path(obj.home_arg or os.environ.get("WORKFLOW_HOME") or ".")
        result = init_with_examples(target)
        if obj.json:
            obj.emit_json(result)
        else:
            obj.out(f"initialised workflow home {result['home']}")
            for path in result["created"]:
                obj.info(f"  created {path}")
