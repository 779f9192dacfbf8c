"""``health`` and ``alerts``: scores, levels and what to do about them (SPEC 9)."""

from __future__ import annotations

import json
import sys
from typing import Any, Optional

import typer

from workflow_cli.cli.failure import guarded

LEVEL_STYLES = {"healthy": "green", "warning": "yellow", "critical": "bold red"}


def _level(text: str) -> str:
    style = LEVEL_STYLES.get(text, "white")
    return f"[{style}]{text}[/{style}]"


def _render_alerts(console: Any, alerts: list[dict[str, Any]]) -> None:
    from rich.markup import escape

    for alert in alerts:
        console.print(f"{_level(alert['level'])} {escape(alert['instance'])} ({escape(str(alert['template']))}): {escape(alert['message'])}")
        console.print(f"    fix: {escape(alert['fix'])}")


def _render_health(console: Any, report: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(f"health: {_level(report['status'])} (score {report['score']:g}) at {report['checked_at']}")
    if report["workflows"]:
        table = Table(show_edge=False, pad_edge=False)
        for column in ("template", "score", "level", "runs", "success", "median"):
            table.add_column(column, justify="right" if column in ("score", "runs", "success", "median") else "left")
        for w in report["workflows"]:
            rate = "-" if w["success_rate"] is None else f"{100 * w['success_rate']:.0f}%"
            median = "-" if w["median_duration_seconds"] is None else f"{w['median_duration_seconds']:.1f}s"
            table.add_row(escape(w["template"]), f"{w['score']:g}", _level(w["status"]), str(w["instances"]), rate, median)
        console.print(table)
    else:
        console.print("no instances yet")
    _render_alerts(console, report["alerts"])


def _exit_code(report: dict[str, Any] | None) -> int:
    return 1 if report is not None and report["status"] == "critical" else 0


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
        from workflow_cli.monitor.health import health_report, watch as watch_loop, write_files

        obj = ctx.obj
        if watch and max_rounds is None and interval < 1:  # an endless busy loop writing a report per round
            from workflow_cli.errors import InvalidInputError

            raise InvalidInputError.at("--interval", f"{interval:g} s is too short for an endless --watch",
                                       "give 1 or more seconds, or --max-rounds N")
        home = obj.writable_home()

        def check() -> dict[str, Any]:
            report = health_report(home)
            write_files(home, report)
            if obj.json and watch:
                sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")  # one JSON line per round
                sys.stdout.flush()
            elif obj.json:
                obj.emit_json(report)
            elif not obj.quiet:
                _render_health(obj.console(), report)
            return report

        last = watch_loop(check, interval=interval, max_rounds=max_rounds if watch else 1)
        raise typer.Exit(_exit_code(last))

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
            _render_alerts(obj.console(), report["alerts"])
        raise typer.Exit(1 if any(a.get("level") == "critical" for a in report["alerts"]) else 0)
