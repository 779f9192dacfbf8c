"""What every route and the service loop share: the home, the bound address, how runs start, the log."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from workflow_cli.store.home import Home


@dataclass
class ServerContext:
    """One per ``serve`` process."""

    home: Home
    host: str
    port: int
    hosts: tuple[str, ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)  # webhook deliveries: one at a time

    def log(self, text: str) -> None:
        """One line on stderr (requests, runs started, loop problems)."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        sys.stderr.write(f"{stamp} {text}\n")
        sys.stderr.flush()

    def start_run(self, instance_id: str, why: str) -> dict[str, Any]:
        """Start an instance in its own background runner (as ``start --detach``) and log it."""
        from workflow_cli.ops.run import start

        result = start(self.home, instance_id, detach_run=True)
        self.log(f"run {instance_id} started ({why})")
        return result.status

    def starter(self, why: str) -> Any:
        """A ``(home, instance_id)`` starter for ops that start runs (queue, triggers, schedules)."""

        def start(home: Home, instance_id: str) -> None:
            self.start_run(instance_id, why)

        return start
