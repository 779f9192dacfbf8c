"""Checks of a template's ``schedule`` block that the JSON Schema cannot make (SPEC 12)."""

from __future__ import annotations

from datetime import datetime, timezone
from collections.abc import Mapping
from typing import Any

from workflow_cli.errors import Issue


def schedule_issues(doc: Mapping[str, Any]) -> list[Issue]:
    """An invalid cron expression or an unknown time zone, located by path."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from cronsim import CronSim, CronSimError

    block = doc.get("schedule")
    block = block if isinstance(block, Mapping) else {}
    issues: list[Issue] = []
    expr, name = block.get("cron"), block.get("timezone", "UTC")
    if isinstance(expr, str):
        try:
            if len(expr.split()) != 5:
                raise CronSimError("expected five fields: minute hour day month weekday")
            CronSim(expr, datetime.now(timezone.utc))
        except CronSimError as exc:
            issues.append(Issue("schedule.cron", f"invalid cron expression '{expr}'", str(exc)))
    if isinstance(name, str):
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            issues.append(Issue("schedule.timezone", f"unknown time zone '{name}'", "an IANA name such as 'Europe/Paris'"))
    return issues
