"""``queue``: the queued instances in the order they will start (SPEC 18.4)."""

from __future__ import annotations

import typer

from workflow_cli.cli.failure import guarded


def register(app: typer.Typer) -> None:
    @app.command("queue")
    @guarded
    def queue(ctx: typer.Context) -> None:
        """List queued instances in start order (priority, then age).

        Example: workflow-cli queue --json
        """
        from workflow_cli.ops.queue import list_queue

        obj = ctx.obj
        rows = list_queue(obj.readable_home())
        if obj.json:
            obj.emit_json(rows)
            return
        if not rows:
            obj.info("the queue is empty")
        for r in rows:
            obj.out(f"{r['position']:>3}  {r['id']}  {r['template']}  priority {r['priority']}  queued {r['queued_at']}")
