"""``scheduler``: fire due cron schedules in a long-running loop; ``schedules``: list them (SPEC 12)."""

from __future__ import annotations

import signal
import time
from datetime import datetime, timezone
from typing import Any, Iterator, Optional

import typer

from workflow_cli.cli.failure import guarded


class _Stop(Exception):
    """Raised by the signal handler to cut a sleep short."""


class _Stopper:
    """SIGTERM and Ctrl-C end the loop: at once while sleeping, after the current pass otherwise."""

    def __init__(self) -> None:
        self.stopping = False
        self.sleeping = False

    def handle(self, signum: int, frame: Any) -> None:
        self.stopping = True
        if self.sleeping:
            raise _Stop()

    def sleep(self, seconds: float) -> None:
        try:
            self.sleeping = True
            if not self.stopping:
                time.sleep(max(seconds, 0.0))
        except _Stop:
            pass
        finally:
            self.sleeping = False


def _now(clock: Any) -> datetime:
    return datetime.fromtimestamp(clock.time(), tz=timezone.utc)


def _passes(home: Any, stopper: _Stopper, *, max_loops: int | None, max_sleep: float) -> Iterator[list[dict[str, Any]]]:
    """Run passes until stopped or ``max_loops`` is reached, sleeping until the next due slot in between."""
    from workflow_cli.clock import SystemClock
    from workflow_cli.ops.schedules import fire_due_schedules, next_due

    clock = SystemClock()
    loops = 0
    while not stopper.stopping:
        yield fire_due_schedules(home, _now(clock))
        loops += 1
        if max_loops is not None and loops >= max_loops:
            return
        now = _now(clock)
        due = next_due(home, now)
        wait = max_sleep if due is None else min(max_sleep, (due - now).total_seconds() + 0.05)
        stopper.sleep(wait)


def _print_pass(obj: Any, results: list[dict[str, Any]]) -> None:
    for row in results:
        if row.get("error"):
            obj.info(f"{row['template']}: {row['error']}")
        for fired in row.get("fired", []):
            what = fired.get("error") or f"{fired['action']} {fired['id']}"
            obj.out(f"{row['template']} @ {fired.get('slot', 'queue')}: {what}")
        for skipped in row.get("skipped", []):
            obj.out(f"{row['template']} @ {skipped['slot']}: skipped ({skipped['reason']})")


def register(app: typer.Typer) -> None:
    @app.command("scheduler")
    @guarded
    def scheduler(
        ctx: typer.Context,
        once: bool = typer.Option(False, "--once", help="One pass over the schedules, then exit (what tick does for them)."),
        max_loops: Optional[int] = typer.Option(None, "--max-loops", min=1, help="Stop after this many passes."),
        max_sleep: float = typer.Option(60.0, "--max-sleep", min=0.0, help="Longest sleep between passes, in seconds."),
    ) -> None:
        """Fire due cron schedules of home templates until SIGTERM or Ctrl-C.

        Example: workflow-cli --home ~/flows scheduler
        """
        obj = ctx.obj
        home = obj.writable_home()
        stopper = _Stopper()
        previous = {sig: signal.signal(sig, stopper.handle) for sig in (signal.SIGTERM, signal.SIGINT)}
        passes: list[list[dict[str, Any]]] = []
        try:
            for results in _passes(home, stopper, max_loops=1 if once else max_loops, max_sleep=max_sleep):
                if obj.json:
                    passes.append(results)
                else:
                    _print_pass(obj, results)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if obj.json:
            obj.emit_json(passes[0] if once else {"passes": passes})

    @app.command("schedules")
    @guarded
    def schedules(ctx: typer.Context) -> None:
        """List the home templates that have a cron schedule, with their next run and last fired slot."""
        from workflow_cli.clock import SystemClock
        from workflow_cli.ops.schedules import list_schedules

        obj = ctx.obj
        rows = list_schedules(obj.readable_home(), _now(SystemClock()))
        if obj.json:
            obj.emit_json(rows)
            return
        for row in rows:
            if row.get("error"):
                obj.out(f"{row['name']}: error: {row['error']}")
            else:
                obj.out(f"{row['name']}  {row['cron']}  {row['timezone']}  next {row['next_run']}  last fired {row['last_fired'] or '-'}")
