"""``templates [list]`` and ``templates show NAME``."""

from __future__ import annotations

import json

import sys

import typer

from workflow_cli.cli.failure import guarded

templates_app = typer.Typer(help="List templates or show one.", invoke_without_command=True, no_args_is_help=False)


def _render_list(obj: object, rows: list[dict]) -> None:
    from rich.table import Table

    table = Table(title="Templates", title_justify="left")
    for col in ("name", "source", "category", "parameters", "description"):
        table.add_column(col, overflow="fold")
    for row in rows:
        params = ", ".join(f"{n}{'*' if p.get('required') else ''}" for n, p in row["parameters"].items())
        table.add_row(row["name"], row["source"], row["category"], params, row.get("error") or row["description"])
    obj.console().print(table)  # type: ignore[attr-defined]


@templates_app.callback()
@guarded
def templates_root(ctx: typer.Context) -> None:
    """List templates (home and built-in). Parameters marked * are required.

    Example: workflow-cli templates --json
    """
    if ctx.invoked_subcommand is None:
        _list(ctx)


def _list(ctx: typer.Context) -> None:
    from workflow_cli.ops.templates import list_templates

    obj = ctx.find_root().obj
    rows = list_templates(obj.readable_home())
    if obj.json:
        obj.emit_json(rows)
    elif obj.quiet:
        sys.stdout.write("".join(row["name"] + "\n" for row in rows))
    else:
        _render_list(obj, rows)


@templates_app.command("list")
@guarded
def list_cmd(ctx: typer.Context) -> None:
    """List templates. Example: workflow-cli templates list"""
    _list(ctx)


@templates_app.command("show")
@guarded
def show(ctx: typer.Context, name: str = typer.Argument(..., help="Template name.")) -> None:
    """Show one template: description, parameters table and task graph.

    Example: workflow-cli templates show approval_chain
    """
    from workflow_cli.ops.templates import show_template

    obj = ctx.find_root().obj
    info = show_template(obj.readable_home(), name)
    if obj.json:
        obj.emit_json(info)
        return
    from rich.table import Table

    from workflow_cli.graph.dag import build_graph, to_ascii

    console = obj.console()
    console.print(f"[bold]{info['name']}[/bold] ({info['source']}: {info['path']})")
    if info["description"]:
        console.print(info["description"])
    table = Table(title="Parameters", title_justify="left")
    for col in ("name", "type", "required", "default", "description"):
        table.add_column(col, overflow="fold")
    for pname, decl in info["parameters"].items():
        default = "" if "default" not in decl else "***" if decl.get("secret") else json.dumps(decl["default"], ensure_ascii=False)
        table.add_row(pname, decl.get("type", ""), "yes" if decl.get("required") else "", default, decl.get("description", ""))
    console.print(table)
    graph = info["graph"]
    deps: dict[str, list[str]] = {n["id"]: [] for n in graph["nodes"]}
    for src, dst in graph["edges"]:
        deps[dst].append(src)
    labels = {n["id"]: f"{n['id']} [{n['action']}]" for n in graph["nodes"]}
    console.print("Tasks:")
    console.print(to_ascii(build_graph(deps), labels), markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(templates_app, name="templates")
