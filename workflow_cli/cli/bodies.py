"""The bodies of ``status``, ``list``, ``tick`` and ``health``, without typer.

The typer commands (``commands/``) call these, and so does the quick path (``cli/quick.py``), which
runs their plain forms without building the click app. A non-zero exit is a ``SystemExit``.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Optional


def status(obj: Any, instance: str) -> None:
    """``status ID``: the instance for people, or the SPEC 8 document with --json."""
    from workflow_cli.ops.query import get_status

    doc = get_status(obj.readable_home(), instance)
    if obj.json:
        obj.emit_json(doc)
    else:
        from workflow_cli.cli.render_status import render_status

        render_status(obj.console(), doc)


def list_instances(obj: Any, *, status: Optional[str] = None, template: Optional[str] = None, limit: Optional[int] = None,
                   sort: str = "created") -> None:
    """``list``: instances, newest first; exit 1 when a damaged one was skipped."""
    from workflow_cli.ops.query import list_instances as query

    problems: list[str] = []
    rows = query(obj.readable_home(), status=status, template=template, limit=limit, sort=sort, problems=problems)
    for problem in problems:
        sys.stderr.write(f"error: skipped a damaged instance: {problem}\n")
    _render_list(obj, rows)
    if problems:
        raise SystemExit(1)  # the others are listed, but a script must notice the damage


def _render_list(obj: Any, rows: list[dict[str, Any]]) -> None:
    """The list as JSON, ids only (--quiet) or a table."""
    if obj.json:
        obj.emit_json(rows)
        return
    if obj.quiet:
        sys.stdout.write("".join(r["id"] + "\n" for r in rows))
        return
    if not rows:
        obj.info("no instances")
        return
    from rich.table import Table

    from workflow_cli.cli.output import styled

    table = Table(box=None, pad_edge=False)
    for col in ("id", "name", "template", "status", "progress", "created", "finished"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["id"], r["name"], r["template"] or "", styled(r["display_status"]), f"{r['progress']:.0f}%", r["created_at"] or "", r["finished_at"] or "")
    obj.console().print(table)


def tick(obj: Any) -> None:
    """``tick``: one pass over every instance (timers, timeouts, mailbox, dead runners, schedules, queue)."""
    from workflow_cli.ops.interrupt import handling_signals, interrupted_line
    from workflow_cli.ops.tick import tick as op

    if not obj.home.root.is_dir():  # a cron line with a mistyped --home must fail loudly, not make an empty home
        from workflow_cli.errors import NotFoundError

        raise NotFoundError(f"no home at {obj.home.root}: nothing to tick (check --home / WORKFLOW_HOME, "
                            f"or make it with 'workflow-cli init {obj.home.root}')")
    home = obj.writable_home()
    # SIGINT/SIGTERM (cron's timeout, a shutdown): the run being driven stops as `stop --force` would,
    # nothing it started outlives it, and no other instance is started (SPEC 6.6)
    with handling_signals() as interrupt:
        result = op(home, stop=lambda: interrupt.signum is not None)
    if obj.json:
        obj.emit_json(result)
    else:
        lines = tick_lines(result)
        for line in lines:
            obj.out(line)
        if not lines and interrupt.signum is None:
            obj.info("tick: nothing to do")
    if interrupt.signum is not None:
        last = (result.get("resumed") or [{}])[-1]
        sys.stderr.write((interrupted_line(interrupt, last) if last else f"interrupted by {interrupt.name}") + "\n")
        raise SystemExit(interrupt.exit_code)


def tick_lines(result: dict[str, Any]) -> list[str]:
    """One readable line per instance resumed, schedule slot fired or skipped, file fired and queued run started."""
    lines = []
    for row in result.get("resumed") or []:
        if row.get("error"):
            lines.append(f"{row['id']}: error: {row['error']}")
        else:
            lines.append(f"{row['id']}: resumed ({row.get('reason') or 'due'}), now {row.get('status')}")
    for sched in result.get("scheduled") or []:
        name = f"schedule {sched.get('template')}"
        if sched.get("error"):
            lines.append(f"{name}: error: {sched['error']}")
        elif sched.get("busy"):
            lines.append(f"{name}: busy (another tick holds its lock)")
        for fired in sched.get("fired") or []:
            what = f"error: {fired['error']}" if fired.get("error") else f"{fired.get('action', 'started')} {fired.get('id')}"
            lines.append(f"{name}: " + (f"slot {fired['slot']} " if fired.get("slot") else "") + what)
        lines += [f"{name}: slot {s.get('slot')} skipped ({s.get('reason')})" for s in sched.get("skipped") or []]
    for row in result.get("files") or []:  # file triggers (SPEC 18.3)
        what = f"error: {row['error']}" if row.get("error") else f"started {row.get('id')}"
        lines.append(f"file {row.get('path')} ({row.get('template')}): {what}")
    lines += [f"{iid}: started from the queue" for iid in result.get("queue_started") or []]
    return lines


LEVEL_STYLES = {"healthy": "green", "warning": "yellow", "critical": "bold red"}


def _level(text: str) -> str:
    style = LEVEL_STYLES.get(text, "white")
    return f"[{style}]{text}[/{style}]"


def render_alerts(console: Any, alerts: list[dict[str, Any]]) -> None:
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
    render_alerts(console, report["alerts"])


def _exit_code(report: dict[str, Any] | None) -> int:
    return 1 if report is not None and report["status"] == "critical" else 0


MIN_WATCH_INTERVAL = 0.1


def health(obj: Any, *, watch: bool = False, interval: float = 30.0, max_rounds: Optional[int] = None) -> None:
    """``health``: score every workflow; write monitoring/health-*.json; exit 1 if critical."""
    from workflow_cli.monitor.health import health_report, watch as watch_loop, write_files

    if watch and max_rounds is None and interval < MIN_WATCH_INTERVAL:  # an endless busy loop rewriting files
        from workflow_cli.errors import InvalidInputError

        raise InvalidInputError.at("--interval", f"must be at least {MIN_WATCH_INTERVAL:g} s with --watch "
                                   "(unless --max-rounds bounds it)")
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
    raise SystemExit(_exit_code(last))

