"""``agents [list]`` and ``agents show ID`` (SPEC 6.3)."""

from __future__ import annotations

import sys
from typing import Any

import typer

from workflow_cli.cli.failure import guarded

agents_app = typer.Typer(help="List agents or show one.", invoke_without_command=True, no_args_is_help=False)
_JSON_FIELDS = ("id", "kind", "type", "capabilities", "max_concurrent", "source", "success_rate", "calls", "load", "description")


def _rate(row: dict[str, Any]) -> str:
    if row["success_rate"] is None:
        return "-"
    return f"{row['success_rate'] * 100:.0f}% of {row['calls']}"


def _render_list(obj: Any, rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title="Agents", title_justify="left")
    for col in ("id", "kind", "type", "capabilities", "max", "source", "load", "success"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(row["id"], row["kind"], row["type"] or "", ", ".join(row["capabilities"]),
                      str(row["max_concurrent"] or "-"), row["source"], str(row["load"]), _rate(row))
    obj.console().print(table)


def _list(ctx: typer.Context) -> None:
    from workflow_cli.agents.listing import list_agents

    obj = ctx.find_root().obj
    rows = list_agents(obj.readable_home())
    if obj.json:
        obj.emit_json([{key: row[key] for key in _JSON_FIELDS} for row in rows])
    elif obj.quiet:
        sys.stdout.write("".join(row["id"] + "\n" for row in rows))
    else:
        _render_list(obj, rows)


@agents_app.callback()
@guarded
def agents_root(ctx: typer.Context) -> None:
    """List agents (built-in and from the home's agents.yaml) with load and recent success rate.

    Example: workflow-cli agents --json
    """
    if ctx.invoked_subcommand is None:
        _list(ctx)


@agents_app.command("list")
@guarded
def list_cmd(ctx: typer.Context) -> None:
    """List agents. Example: workflow-cli agents list"""
    _list(ctx)


@agents_app.command("show")
@guarded
def show(ctx: typer.Context, agent_id: str = typer.Argument(..., metavar="ID", help="Agent id.")) -> None:
    """Show one agent: how it is reached (secrets hidden), its load and recent calls.

    Example: workflow-cli agents show builtin.worker
    """
    from workflow_cli.agents.listing import show_agent

    obj = ctx.find_root().obj
    info = show_agent(obj.readable_home(), agent_id)
    if obj.json:
        obj.emit_json(info)
        return
    console = obj.console()
    console.print(f"[bold]{info['id']}[/bold] ({info['kind']}, {info['source']})", markup=True)
    for key, value in info.items():
        if key not in ("id", "kind", "source") and value not in (None, "", [], {}):
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            console.print(f"  {key}: {shown}", markup=False)
    if info["success_rate"] is not None:
        console.print(f"  recent success: {_rate(info)}", markup=False)


def register(app: typer.Typer) -> None:
    """Add the ``agents`` command group to the root app."""
    app.add_typer(agents_app, name="agents")
