"""``monitor ID``: follow an instance until it stops moving, live on a terminal, one line per change elsewhere.

Exit code: the instance's (0 completed, 1 failed, 3 waiting, 6 paused, 7 cancelled, 8 deadline) when
watching ends; 0 when ``--duration`` ends while a live runner still drives it; 1 when it is created or
running but no runner moves it (a crashed runner: ``resume`` continues it).
"""

from __future__ import annotations

import json
import sys
from typing import Any, Mapping, Optional

import typer

from workflow_cli.cli.failure import guarded


def monitor_exit_code(state: Mapping[str, Any], runner_alive: bool) -> int:
    """The exit code of ``monitor`` for the state it stopped watching at."""
    from workflow_cli.ops.run import exit_code_for

    if state["status"] in ("created", "running"):
        return 0 if runner_alive else 1
    return exit_code_for(state)


def _stream(obj: Any, watcher: Any) -> tuple[dict[str, Any], bool]:
    """Plain lines (or JSON lines) on stdout, one per change; returns the last state seen."""
    from workflow_cli.clock import utc_iso
    from workflow_cli.monitor.live import start_lines

    def emit(change: Any) -> None:
        """One line, flushed at once so a CI log shows it as it happens."""
        text = json.dumps(change.to_json(watcher.paths.id), ensure_ascii=False) if obj.json else change.line()
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    frames = watcher.frames()
    first = next(frames)
    for change in start_lines(first.state, first.runner_alive, utc_iso(first.now)):
        emit(change)
    last = first
    for last in frames:
        for change in last.changes:
            emit(change)
    return last.state, last.runner_alive


def _live(obj: Any, watcher: Any) -> tuple[dict[str, Any], bool]:
    """A rich Live view redrawn every interval; returns the last state seen."""
    from rich.live import Live

    from workflow_cli.cli.live_view import LiveView

    console = obj.console()
    view = LiveView(watcher.interval, max_rows=max(console.height - 6, 5))
    frames = watcher.frames()
    last = next(frames)
    with Live(view.render(last), console=console, refresh_per_second=10) as live:
        for last in frames:
            live.update(view.render(last))
    return last.state, last.runner_alive


REASONS = {"finished": "it finished", "stopped": "it stopped moving", "no_runner": "no runner moves it",
           "duration": "--duration ended", "iterations": "iteration cap reached"}


def _farewell(obj: Any, paths_id: str, state: Mapping[str, Any], alive: bool, reason: str | None, code: int) -> None:
    """The last word: a JSON ``end`` line, or a line on stderr with the command that moves the instance on."""
    from workflow_cli.cli.render_status import next_step
    from workflow_cli.monitor.summary import status_document

    doc = status_document(state, runner_alive=alive)
    if obj.json:
        end = {"kind": "end", "instance": paths_id, "status": state["status"], "display_status": doc["display_status"],
               "runner_alive": alive, "progress": doc["progress"], "reason": reason, "exit_code": code}
        sys.stdout.write(json.dumps(end) + "\n")
        return
    obj.info(f"{paths_id} {doc['display_status']} ({doc['progress']:.0f}%): stopped watching, {REASONS.get(reason or '', reason)}")
    step = next_step(doc) if reason != "duration" else None
    if step:
        obj.info(f"next: {step}")


def register(app: typer.Typer) -> None:
    """Add ``monitor`` to the root command."""

    @app.command("monitor")
    @guarded
    def monitor(
        ctx: typer.Context,
        instance: str = typer.Argument(..., metavar="ID", help="Instance id or unique prefix."),
        duration: Optional[float] = typer.Option(None, "--duration", min=0, metavar="S", help="Stop watching after S seconds."),
        interval: float = typer.Option(0.5, "--interval", min=0.01, metavar="S", help="Seconds between refreshes."),
    ) -> None:
        """Watch an instance live until it is finished, waiting or paused (one line per change when not on a terminal).

        Example: workflow-cli monitor 20261121-2151 --interval 1
        """
        from workflow_cli.monitor.live import Watcher
        from workflow_cli.ops.query import instance_paths

        obj = ctx.obj
        watcher = Watcher(instance_paths(obj.readable_home(), instance), interval=interval, duration=duration)
        live = not obj.json and sys.stdout.isatty()
        state, alive = _live(obj, watcher) if live else _stream(obj, watcher)
        code = monitor_exit_code(state, alive)
        _farewell(obj, watcher.paths.id, state, alive, watcher.stop_reason, code)
        raise typer.Exit(code)
