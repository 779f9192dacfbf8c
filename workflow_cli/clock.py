"""Time, injectable: the engine asks a Clock, tests hand it a fake one.

A neutral module (it imports nothing of the package): every layer may read the clock and format or
parse timestamps. :func:`utc_iso` is the one timestamp formatter (its per-second cache included).

``WORKFLOW_CLI_TIME_OFFSET`` (seconds) shifts the system clock for every command of a process tree,
which is how end-to-end tests move time forward (an approval timing out) without sleeping.
"""

from __future__ import annotations

import os
import re
import time
from datetime import datetime, timezone

_SECOND: tuple[int, str] = (-1, "")  # the last second formatted, reused: strftime is the costly part


def _utc_micros(micros: int) -> str:
    """ISO 8601 UTC of a time in whole microseconds (the seconds part is formatted once per second)."""
    global _SECOND
    second, fraction = divmod(micros, 1_000_000)
    cached = _SECOND
    if cached[0] != second:
        cached = _SECOND = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{fraction:06d}Z"


def utc_iso(ts: float) -> str:
    """ISO 8601 UTC with microseconds and a ``Z`` (3 events per task: formatting must be cheap)."""
    return _utc_micros(round(ts * 1_000_000))


def utc_now() -> str:
    """The current wall time as :func:`utc_iso` formats it (no clock offset: event-log appends)."""
    return _utc_micros(time.time_ns() // 1000)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str) -> float | None:
    """Seconds in ``30s``, ``10m``, ``2h``, ``1d``, ``1w`` or a sum like ``1h30m``; None if not a duration."""
    compact = text.strip().lower().replace(" ", "")
    if not compact or _DURATION.sub("", compact):
        return None
    return sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(compact))


def parse_iso(text: str) -> float:
    """Seconds since the epoch from an ISO 8601 time (naive means UTC)."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


class SystemClock:
    """Wall time for timestamps, monotonic time for durations, both shifted by the test offset."""

    def __init__(self, offset: float | None = None) -> None:
        if offset is None:
            offset = float(os.environ.get("WORKFLOW_CLI_TIME_OFFSET", "0") or 0)
        self.offset = offset

    def time(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def now_iso(self) -> str:
        return utc_iso(self.time())

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock(SystemClock):
    """A clock that moves only when told to (``advance``) or when slept on."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        super().__init__(offset=0.0)
        self.now = start

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(max(seconds, 0.0))
