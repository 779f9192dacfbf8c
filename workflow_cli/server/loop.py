"""The service loop: what ``tick`` does, every ``interval`` seconds, with runs started in the background.

Timers, approval timeouts, mailbox replies, retries that are due and dead runners are resumed by a
detached ``resume`` (so stopping ``serve`` stops no run); due schedules fire, file triggers fire and
the queue starts what fits. An instance just handed to a runner is not handed again until that
runner had time to take its lock.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from workflow_cli.errors import WorkflowError
from workflow_cli.server.context import ServerContext
from workflow_cli.store.home import Home

HANDOFF_GRACE_SECONDS = 10.0


class ServiceLoop:
    """A daemon thread making one pass per interval until :meth:`stop`."""

    def __init__(self, ctx: ServerContext, *, interval: float = 0.5) -> None:
        self.ctx = ctx
        self.interval = interval
        self._stop = threading.Event()
        self._handed: dict[str, float] = {}
        self._templates_stamp: tuple[tuple[str, int], ...] | None = None
        self._schedules: list[Any] = []
        self._next_slot: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, name="workflow-cli-service", daemon=True)

    def start(self) -> None:
        """Begin passing in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Finish the current pass and end the thread."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.one_pass()
            except Exception as exc:  # noqa: BLE001 - the service must outlive one bad pass; it says why
                self.ctx.log(f"service pass failed: {type(exc).__name__}: {exc}")
            self._stop.wait(self.interval)

    def one_pass(self) -> None:
        """Schedules, file triggers, the queue, then every instance that can move on."""
        from workflow_cli.clock import SystemClock
        from workflow_cli.ops.queue import dispatch
        from workflow_cli.ops.triggers import fire_file_triggers

        home, now = self.ctx.home, SystemClock().time()
        self._fire_schedules(now)
        for row in fire_file_triggers(home, now, start=via_queue(self.ctx, "file trigger")):
            if row.get("error"):
                self.ctx.log(f"file trigger of {row['template']} on {row['path']}: {row['error']}")
        dispatch(home, self.ctx.starter("from the queue"))
        self._resume_due(now)

    def _fire_schedules(self, now: float) -> None:
        """Due schedules (SPEC 12). Templates are parsed again only when a file changed; a schedule is
        looked at when its next slot is due (every pass with ``overlap: queue``, which drains its queue)."""
        from workflow_cli.ops.schedules import fire_schedule, home_schedules, next_slot

        try:
            stamp = tuple(sorted((e.name, e.stat().st_mtime_ns) for e in os.scandir(self.ctx.home.templates)))
        except OSError:
            stamp = ()
        if stamp != self._templates_stamp:
            self._templates_stamp, self._next_slot = stamp, {}
            self._schedules = [sched for _, sched, _ in home_schedules(self.ctx.home) if sched is not None]
        when = datetime.fromtimestamp(now, tz=timezone.utc)
        for sched in self._schedules:
            if sched.overlap != "queue" and now < self._next_slot.get(sched.template, 0.0):
                continue
            try:
                fire_schedule(self.ctx.home, sched, when, start=via_queue(self.ctx, "schedule"))
            except WorkflowError as exc:
                self.ctx.log(f"schedule of {sched.template}: {exc}")
            nxt = next_slot(sched.cron, sched.tz, when)
            self._next_slot[sched.template] = nxt.timestamp() if nxt else float("inf")

    def _resume_due(self, now: float) -> None:
        from workflow_cli.ops.run import resume
        from workflow_cli.ops.tick import due_instances

        mono = time.monotonic()
        self._handed = {k: t for k, t in self._handed.items() if mono - t < HANDOFF_GRACE_SECONDS}
        for paths, reason in due_instances(self.ctx.home, now):
            if paths.id in self._handed:
                continue
            try:
                resume(self.ctx.home, paths.id, detach_run=True)
            except WorkflowError:
                continue  # a runner took it meanwhile
            self._handed[paths.id] = mono
            self.ctx.log(f"run {paths.id} resumed ({reason})")


def via_queue(ctx: ServerContext, why: str) -> Callable[[Home, str], None]:
    """A starter for triggered and scheduled runs: through the queue when a cap is set, else at once."""
    from workflow_cli.ops.queue import cancelled_unless_started, dispatch, enqueue, needs_queue

    def start(home: Home, instance_id: str) -> None:
        with cancelled_unless_started(home, instance_id):  # never left created, holding up a schedule
            if needs_queue(home, instance_id):
                enqueue(home, instance_id)
                ctx.log(f"run {instance_id} queued ({why})")
                dispatch(home, ctx.starter("from the queue"))
            else:
                ctx.start_run(instance_id, why)

    return start
