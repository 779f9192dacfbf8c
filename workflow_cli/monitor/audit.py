"""``audit``: an instance's event history, filtered by time, with a one-line summary of each event."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from collections.abc import Mapping
from typing import Any

from workflow_cli.clock import parse_duration
from workflow_cli.errors import InvalidInputError
from workflow_cli.monitor.summary import describe_waiting
from workflow_cli.store.events import read_events
from workflow_cli.store.instances import InstancePaths

VALUE_WIDTH = 60
DETAILS_WIDTH = 160
# the keys worth reading first, in this order; the others follow in their stored order
LEADING = ("task", "attempt", "id", "kind", "error", "by", "name")


def parse_since(text: str, now: float) -> float:
    """Epoch seconds from an ISO 8601 time (naive means UTC) or a duration back from ``now``.

    Raises:
        InvalidInputError: neither form.
    """
    seconds = parse_duration(text)
    if seconds is not None:
        return now - seconds
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError.at("--since", f"not an ISO time or a duration: {text!r}",
                                   "e.g. 2026-11-21T09:00:00Z, 2026-11-21, 10m, 2h, 1d") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def audit_events(paths: InstancePaths, *, since: float | None = None) -> list[dict[str, Any]]:
    """The events of the instance as stored, oldest first, those at or after ``since`` only."""
    events = read_events(paths.events)
    if since is None:
        return events
    return [e for e in events if _epoch(e["time"]) >= since]


def _short(value: Any) -> str:
    if isinstance(value, str):
        text = value if value and " " not in value and "=" not in value else json.dumps(value, ensure_ascii=False)
    elif isinstance(value, Mapping) and len(json.dumps(value, default=str)) > VALUE_WIDTH:
        text = "{" + ", ".join(list(map(str, value))[:6]) + (", …}" if len(value) > 6 else "}")
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def summarize(event: Mapping[str, Any]) -> str:
    """The event's data as one short line of ``key=value`` pairs (the task id first)."""
    data = dict(event.get("data") or {})
    keys = [k for k in LEADING if k in data] + [k for k in data if k not in LEADING]
    parts = []
    for key in keys:
        value = data[key]
        if value is None or value == {} or value == []:
            continue
        if key == "waiting" and isinstance(value, Mapping):
            parts.append(f"waiting for {describe_waiting(value)}")
            continue
        parts.append(f"{key}={_short(value)}")
    line = " ".join(parts)
    return line if len(line) <= DETAILS_WIDTH else line[: DETAILS_WIDTH - 1] + "…"


def audit_line(event: Mapping[str, Any]) -> str:
    """``time  type  actor  details`` for people."""
    return f"{event['time']}  {event['type']:<19} {event.get('actor') or '-':<12} {summarize(event)}".rstrip()
