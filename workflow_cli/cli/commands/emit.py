"""``emit``: broadcast an event to every instance waiting for it (SPEC 8)."""

from __future__ import annotations

from typing import Optional

import typer

from workflow_cli.cli.failure import guarded


def register(app: typer.Typer) -> None:
    @app.command("emit")
    @guarded
    def emit(
        ctx: typer.Context,
        name: str = typer.Argument(..., metavar="NAME", help="Event name: the 'signal' of the wait tasks it wakes."),
        key: Optional[str] = typer.Option(None, "--key", help="Only waits with this key (e.g. an order id).", metavar="K"),
        template: Optional[str] = typer.Option(None, "--template", help="Only instances of this template.", metavar="T"),
        data: Optional[str] = typer.Option(None, "--data", help="JSON payload (merged into vars).", metavar="JSON"),
        no_continue: bool = typer.Option(False, "--no-continue",
                                          help="Deliver it but do not continue runs here (their runners or 'tick' do)."),
    ) -> None:
        """Deliver an event once to every instance waiting for it, or whose wait for it has not started yet.

        Prints the instances reached (--json: a list of ids); exits 0 even when none was waiting.

        Example: workflow-cli emit payment_received --key A-1001 --data '{"amount": 120}'
        """
        from workflow_cli.cli.commands.decide import _sink
        from workflow_cli.ops.decide import parse_data
        from workflow_cli.ops.events import emit_event

        obj = ctx.obj
        payload = parse_data(data)
        result = emit_event(obj.writable_home(), name, key=key, template=template, data=payload,
                            continue_run=not no_continue, sink=_sink(obj))
        if obj.json:
            obj.emit_json([row["id"] for row in result["reached"]])
            return
        for row in result["reached"]:
            how = "handed to its runner" if row["handed_to_runner"] else row.get("status", "delivered")
            obj.out(f"{row['id']}: {', '.join(row['tasks'])} ({how})")
        if not result["reached"]:
            obj.info(f"emit {name}: no instance waits for it" + (f" with key '{result['key']}'" if result["key"] else ""))
