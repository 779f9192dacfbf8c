"""``graph TEMPLATE_OR_ID``: the task graph as an ASCII tree, mermaid, dot or JSON."""

from __future__ import annotations

from enum import Enum
from typing import List

import typer

from workflow_cli.cli.failure import guarded


class GraphFormat(str, Enum):
    ascii = "ascii"
    mermaid = "mermaid"
    dot = "dot"
    json = "json"


def register(app: typer.Typer) -> None:
    @app.command("graph")
    @guarded
    def graph(
        ctx: typer.Context,
        source: str = typer.Argument(..., metavar="TEMPLATE_OR_ID", help="A template name, a document file or an instance id."),
        fmt: GraphFormat = typer.Option(GraphFormat.ascii, "--format", "-f", help="Output format."),
        param: List[str] = typer.Option([], "--param", "-p", help="Parameter values (not needed for the graph).", metavar="KEY=VALUE"),
    ) -> None:
        """Print the task graph of a template, file or instance (ascii, mermaid, dot, json); an instance's shows task states.

        Example: workflow-cli graph parallel_processing --format mermaid
        """
        from workflow_cli.ops.graphing import render_graph

        obj = ctx.obj
        fmt_value = "json" if obj.json else fmt.value
        text = render_graph(obj.readable_home(), source, fmt_value)
        if fmt_value == "json":
            obj.emit_json(text)
        else:
            typer.echo(text)
