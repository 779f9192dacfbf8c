"""Pure slot arithmetic: cron slots in local time, compared in UTC, across daylight saving changes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from workflow_cli.ops.schedules import due_slots, iso, next_slot, previous_slot

PARIS = ZoneInfo("Europe/Paris")
UTC = timezone.utc


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_spring_forward_day_fires_a_daily_0230_job_once() -> None:
    # 2026-03-29: Paris clocks jump from 02:00 to 03:00, so 02:30 does not exist; the job runs once, at 03:00 CEST.
    slots, rest = due_slots("30 2 * * *", PARIS, _utc(2026, 3, 28, 12), _utc(2026, 3, 30, 0))
    assert [iso(s) for s in slots] == ["2026-03-29T01:00:00Z"] and rest == 0


def test_fall_back_day_fires_a_daily_0230_job_once() -> None:
    # 2026-10-25: 02:00-03:00 happens twice in Paris; a daily 02:30 job still runs once (the first 02:30, CEST).
    slots, _ = due_slots("30 2 * * *", PARIS, _utc(2026, 10, 24, 12), _utc(2026, 10, 26, 0))
    assert [iso(s) for s in slots] == ["2026-10-25T00:30:00Z"]


def test_hourly_job_on_fall_back_day_runs_for_each_real_hour() -> None:
    slots, _ = due_slots("30 * * * *", PARIS, _utc(2026, 10, 24, 22), _utc(2026, 10, 25, 2))
    assert [iso(s) for s in slots] == ["2026-10-24T22:30:00Z", "2026-10-24T23:30:00Z", "2026-10-25T00:30:00Z",
                                       "2026-10-25T01:30:00Z"]


def test_non_utc_zone_weekly_slot() -> None:
    # Monday 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer.
    assert iso(next_slot("0 9 * * 1", PARIS, _utc(2026, 1, 1))) == "2026-01-05T08:00:00Z"
    assert iso(next_slot("0 9 * * 1", PARIS, _utc(2026, 7, 1))) == "2026-07-06T07:00:00Z"
    assert iso(next_slot("0 9 * * 1", ZoneInfo("America/New_York"), _utc(2026, 1, 1))) == "2026-01-05T14:00:00Z"


def test_previous_slot_is_inclusive_and_next_slot_exclusive() -> None:
    slot = _utc(2026, 1, 5, 9)
    assert previous_slot("0 9 * * *", UTC, slot) == slot
    assert previous_slot("0 9 * * *", UTC, slot - timedelta(seconds=1)) == slot - timedelta(days=1)
    assert next_slot("0 9 * * *", UTC, slot) == slot + timedelta(days=1)


@pytest.mark.parametrize(("cap", "fired", "rest"), [(100, 10, 0), (4, 4, 6)])
def test_due_slots_are_ordered_capped_and_counted(cap: int, fired: int, rest: int) -> None:
    slots, more = due_slots("* * * * *", UTC, _utc(2026, 1, 1, 0, 0), _utc(2026, 1, 1, 0, 10), cap=cap)
    assert len(slots) == fired and more == rest
    assert slots == sorted(slots) and slots[0] == _utc(2026, 1, 1, 0, 1)
