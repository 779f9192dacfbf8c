"""``health`` and ``alerts``: scores, levels and what to do about them (SPEC 9)."""

from __future__ import annotations

from typing import Optional

import typer

from workflow_cli.cli import bodies
from workflow_cli.cli.bodies import render_alerts
from workflow_cli.cli.failure import guarded


def register(app: typer.Typer) -> None:
    @app.command("health")
    @guarded
    def health(
        ctx: typer.Context,
        watch: bool = typer.Option(False, "--watch", help="Check again every --interval seconds until interrupted."),
        interval: float = typer.Option(30.0, "--interval", min=0.0, help="Seconds between checks with --watch.", metavar="S"),
        max_rounds: Optional[int] = typer.Option(None, "--max-rounds", min=1, help="With --watch: stop after N checks."),
    ) -> None:
        """Score every workflow and recent instance; write monitoring/health-*.json; exit 1 if critical.

        Example: workflow-cli health --watch --interval 60
        """
        bodies.health(ctx.obj, watch=watch, interval=interval, max_rounds=max_rounds)

    @app.command("alerts")
    @guarded
    def alerts(ctx: typer.Context) -> None:
        """List what is wrong now, each with the command that fixes it (also in monitoring/alerts.json).

        Exits 1 when a critical alert exists (as 'health' does), else 0.
        Example: workflow-cli alerts --json
        """
        from workflow_cli.monitor.health import health_report, write_files

        obj = ctx.obj
        home = obj.writable_home()
        report = health_report(home)
        write_files(home, report, history=False)
        if obj.json:
            obj.emit_json(report["alerts"])
        elif not report["alerts"]:
            obj.out("no alerts")
        elif not obj.quiet:
            render_alerts(obj.console(), report["alerts"])
        raise typer.Exit(1 if any(a.get("level") == "critical" for a in report["alerts"]) else 0)
