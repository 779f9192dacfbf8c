"""The runner's side of requests from other processes (SPEC 6.6) and of the workflow deadline.

``stop``, ``cancel``, ``approve``, ``reject`` and ``signal`` drop a request file in the instance's
``requests/`` folder; the live runner takes them in at the top of each loop pass (one ``stat`` of the
folder when nothing changed, at most every 5 ms), records each one, acknowledges it, and acts on it.
"""

from __future__ import annotations

from workflow_cli.model.states import EventType
import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workflow_cli.engine.runner import Runner

REQUESTS_EVERY = 0.005  # seconds: how stale the runner's view of the requests folder may be


class RequestsMixin:
    """Methods of :class:`Runner` that take in requests and stop attempts."""

    stop_requested: str | None

    def _process_requests(self: Runner, *, force: bool = False) -> None:
        """Take in the requests posted since the last pass (``force``: look even if the folder looks unchanged)."""
        from workflow_cli.store.requests import ack_request, pending_requests

        if not force:
            now = time.monotonic()
            if now - self._requests_looked < REQUESTS_EVERY:
                return  # looked a moment ago (a pass runs per finished task: a stat each would be waste)
            self._requests_looked = now
        try:  # adding or removing a request file changes the folder's mtime: one stat instead of a listing
            mtime = os.stat(self.paths.requests).st_mtime_ns
        except FileNotFoundError:
            mtime = None
        if mtime == self._requests_mtime and not force:
            return
        self._requests_mtime = mtime
        requests = pending_requests(self.paths.root)
        for path, request in requests:
            kind = request.get("kind")
            self.journal.record(EventType.REQUEST_RECEIVED, {"kind": kind, "id": request.get("id"), "data": request.get("data")},
                                actor=request.get("actor"))
            self.journal.flush()
            ack_request(path)
            if kind == "stop":
                self.stop_requested = "stopped by request"
                self.scheduler.stopping = True
                self._forward_to_children("stop")
                if (request.get("data") or {}).get("force"):
                    self._cancel_live("stop")
            elif kind == "cancel":
                self.cancel_requested = True
                self._cancel_live("cancel")
                self._forward_to_children("cancel")
            elif kind in ("approve", "reject"):
                self._decision_request(request)
            elif kind == "signal":
                self._signal_request(request)
        if requests:
            self.journal.flush()

    def _forward_to_children(self: Runner, kind: str) -> None:
        """Cancel and stop propagate to child instances started by workflow_trigger tasks."""
        from workflow_cli.store.requests import post_request

        children = list(self.children) + [c for c in self.state.get("children") or [] if c]
        for child in dict.fromkeys(children):
            child_dir = self.home.instances / str(child)
            if child_dir.is_dir():
                post_request(child_dir, kind, {"reason": f"parent {kind}"})

    def _cancel_live(self: Runner, reason: str) -> None:
        """Ask every attempt in flight (foreach items included) to stop, giving the reason its result will carry."""
        for live in self.live.values():
            live.cancel_reason = reason
            if live.key is not None:
                self.executor.cancel((live.key, live.attempt))

    def _hit_deadline(self: Runner) -> None:
        """The workflow's ``timeout_seconds`` expired: running attempts are terminated."""
        self.deadline_hit = True
        self._cancel_live("deadline")
