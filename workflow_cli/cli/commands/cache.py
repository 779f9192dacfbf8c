"""``cache list`` and ``cache clear [--older-than DURATION]``: the task result cache (SPEC 8)."""

from __future__ import annotations

import sys
from typing import Any, Optional

import typer

from workflow_cli.cli.failure import guarded

cache_app = typer.Typer(help="List or clear the task result cache.", no_args_is_help=True)
_JSON_FIELDS = ("kind", "hash", "task", "template", "instance", "action", "created_at", "expires_at", "expired", "size")


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1048576:.1f} MiB"


def _render(obj: Any, rows: list[dict[str, Any]]) -> None:
    """The human table of ``cache list``."""
    from rich.table import Table

    if not rows:
        obj.info("the cache is empty")
        return
    table = Table(title="Result cache", title_justify="left")
    for col in ("key hash", "task", "template", "created", "expires", "size"):
        table.add_column(col, overflow="fold")
    for row in rows:
        expires = "expired" if row.get("expired") else (row.get("expires_at") or "never")
        task = row["task"] or ("(api result)" if row["kind"] == "result" else "(corrupt)" if row.get("corrupt") else "")
        table.add_row(row["hash"][:16], task, row.get("template") or "", row.get("created_at") or "", expires, _size(row["size"]))
    obj.console().print(table)


@cache_app.command("list")
@guarded
def list_cmd(ctx: typer.Context) -> None:
    """List cache entries: key hash, task, template, created, expires, size.

    Example: workflow-cli cache list --json
    """
    from workflow_cli.ops.cache import list_cache

    obj = ctx.find_root().obj
    rows = list_cache(obj.readable_home())
    if obj.json:
        obj.emit_json([{key: row.get(key) for key in _JSON_FIELDS} for row in rows])
    elif obj.quiet:
        sys.stdout.write("".join(row["hash"] + "\n" for row in rows))
    else:
        _render(obj, rows)


@cache_app.command("clear")
@guarded
def clear_cmd(
    ctx: typer.Context,
    older_than: Optional[str] = typer.Option(None, "--older-than", metavar="DURATION",
                                             help="Only entries made longer ago than this (30m, 2h, 7d); default: every entry."),
) -> None:
    """Remove cache entries (every one, or those older than a duration).

    Example: workflow-cli cache clear --older-than 7d
    """
    from workflow_cli.ops.cache import clear_cache

    obj = ctx.find_root().obj
    result = clear_cache(obj.writable_home(), older_than=older_than)
    if obj.json:
        obj.emit_json(result)
    elif not obj.quiet:
        sys.stdout.write(f"removed {result['removed']} cache entr{'y' if result['removed'] == 1 else 'ies'}\n")


def register(app: typer.Typer) -> None:
    """Add the ``cache`` command group."""
    app.add_typer(cache_app, name="cache")
