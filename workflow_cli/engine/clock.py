"""Kept for imports written before the clock moved: the clock lives in :mod:`workflow_cli.clock`."""

from workflow_cli.clock import FakeClock, SystemClock, parse_duration, parse_iso, utc_iso, utc_now

__all__ = ["FakeClock", "SystemClock", "parse_duration", "parse_iso", "utc_iso", "utc_now"]
