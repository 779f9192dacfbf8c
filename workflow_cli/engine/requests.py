"""The runner's side of requests from other processes (SPEC 6.6) and of the workflow deadline.

``stop``, ``cancel``, ``approve``, ``reject`` and ``signal`` drop a request file in the instance's
``requests/`` folder; the live runner takes them in at the top of each loop pass (one ``stat`` of the
folder when nothing changed, at most every 5 ms), records each one, acknowledges it, and acts on it.
"""

from __future__ import annotations

import os
import time

from workflow_cli.engine.context import RunContext
from workflow_cli.engine.runner_waits import Waits
from workflow_cli.model.states import EventType

REQUESTS_EVERY = 0.005  # seconds: how stale the runner's view of the requests folder may be


class RequestInbox:
    """Takes in requests posted to the instance and acts on them."""

    def __init__(self, run: RunContext, waits: Waits) -> None:
        self.run = run
        self.waits = waits
        self._mtime: int | None = None
        self._looked = float("-inf")

    def take(self, *, force: bool = False) -> None:
        """Take in the requests posted since the last pass (``force``: look even if the folder looks unchanged)."""
        from workflow_cli.store.requests import ack_request, pending_requests

        run = self.run
        if not force:
            now = time.monotonic()
            if now - self._looked < REQUESTS_EVERY:
                return  # looked a moment ago (a pass runs per finished task: a stat each would be waste)
            self._looked = now
        try:  # adding or removing a request file changes the folder's mtime: one stat instead of a listing
            mtime: int | None = os.stat(run.paths.requests).st_mtime_ns
        except FileNotFoundError:
            mtime = None
        if mtime == self._mtime and not force:
            return
        self._mtime = mtime
        requests = pending_requests(run.paths.root)
        for path, request in requests:
            kind = request.get("kind")
            run.journal.record(EventType.REQUEST_RECEIVED, {"kind": kind, "id": request.get("id"), "data": request.get("data")},
                               actor=request.get("actor"))
            run.journal.flush()
            ack_request(path)
            if kind == "stop":
                run.stop_requested = "stopped by request"
                run.sched.stopping = True
                self._forward_to_children("stop")
                if (request.get("data") or {}).get("force"):
                    self.cancel_live("stop")
            elif kind == "cancel":
                run.cancel_requested = True
                self.cancel_live("cancel")
                self._forward_to_children("cancel")
            elif kind in ("approve", "reject"):
                self.waits.decision(request)
            elif kind == "signal":
                self.waits.signal(request)
        if requests:
            run.journal.flush()

    def _forward_to_children(self, kind: str) -> None:
        """Cancel and stop propagate to child instances started by workflow_trigger tasks."""
        from workflow_cli.store.requests import post_request

        run = self.run
        children = list(run.children) + [c for c in run.state.get("children") or [] if c]
        for child in dict.fromkeys(children):
            child_dir = run.home.instances / str(child)
            if child_dir.is_dir():
                post_request(child_dir, kind, {"reason": f"parent {kind}"})

    def cancel_live(self, reason: str) -> None:
        """Ask every attempt in flight (foreach items included) to stop, giving the reason its result will carry."""
        for live in self.run.live.values():
            self.run.cancel_attempt(live, reason)

    def hit_deadline(self) -> None:
        """The workflow's ``timeout_seconds`` expired: running attempts are terminated."""
        self.run.deadline_hit = True
        self.cancel_live("deadline")
