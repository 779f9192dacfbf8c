"""Firing due slots in-process with an injected clock: first sight, catchup, overlap, locking."""

from __future__ import annotations

import fcntl
import json
import os
from datetime import datetime
from typing import Any, Callable

import pytest

from workflow_cli.ops import schedules as sched
from workflow_cli.ops.query import instance_paths
from workflow_cli.ops.schedules import fire_due_schedules, read_state
from workflow_cli.store.home import Home
from workflow_cli.store.instances import load_state

HOURLY = "0 * * * *"


def _fired(result: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for row in result for f in row.get("fired", [])]


def _skipped(result: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for row in result for s in row.get("skipped", [])]


def _status(home: Home, instance_id: str) -> str:
    return str(load_state(instance_paths(home, instance_id))["status"])


def test_first_sight_fires_nothing_from_the_past(schedule_home: Home, scheduled: Callable[..., str], recorder: Any, utc: Any) -> None:
    scheduled(HOURLY, catchup="all")
    assert _fired(fire_due_schedules(schedule_home, utc(2026, 1, 5, 10, 30), start=recorder)) == []
    state = read_state(schedule_home, "job")
    assert state is not None and state["last_slot"] == "2026-01-05T10:00:00Z" and state["runs"] == []
    assert _fired(fire_due_schedules(schedule_home, utc(2026, 1, 5, 10, 59), start=recorder)) == []


def test_a_slot_fires_once_with_the_schedule_params(schedule_home: Home, scheduled: Callable[..., str], recorder: Any, utc: Any) -> None:
    scheduled(HOURLY, params={"who": "cron"})
    fire_due_schedules(schedule_home, utc(2026, 1, 5, 10, 30), start=recorder)
    fired = _fired(fire_due_schedules(schedule_home, utc(2026, 1, 5, 11, 0, 20), start=recorder))
    assert [(f["slot"], f["action"]) for f in fired] == [("2026-01-05T11:00:00Z", "started")]
    assert _fired(fire_due_schedules(schedule_home, utc(2026, 1, 5, 11, 0, 50), start=recorder)) == []
    assert recorder.started == [fired[0]["id"]]
    state = load_state(instance_paths(schedule_home, fired[0]["id"]))
    assert state["params"]["who"] == "cron" and state["name"] == "job @ 2026-01-05T11:00:00Z"
    saved = read_state(schedule_home, "job")
    assert saved is not None and saved["runs"] == [fired[0]["id"]] and saved["last_fired"] == "2026-01-05T11:00:00Z"


def test_catchup_none_skips_a_missed_window(schedule_home: Home, scheduled: Callable[..., str], recorder: Any, utc: Any) -> None:
    scheduled(HOURLY)
    fire_due_schedules(schedule_home, utc(2026, 1, 5, 10, 30), start=recorder)
    result = fire_due_schedules(schedule_home, utc(2026, 1, 5, 13, 10), start=recorder)
    assert _fired(result) == [] and _skipped(result) == [{"slot": "2026-01-05T13:00:00Z", "reason": "missed"}]
    assert read_state(schedule_home, "job")["last_slot"] == "2026-01-05T13:00:00Z"  # type: ignore[index]
    assert len(_fired(fire_due_schedules(schedule_home, utc(2026, 1, 5, 14, 1, 5), start=recorder))) == 1


def test_catchup_latest_fires_the_latest_slot_once(schedule_home: Home, scheduled: Callable[..., str], recorder: Any, utc: Any) -> None:
    scheduled(HOURLY, catchup="latest")
    fire_due_schedules(schedule_home, utc(2026, 1, 5, 10, 30), start=recorder)
    fired = _fired(fire_due_schedules(schedule_home, utc(2026, 1, 5, 13, 10), start=recorder))
    assert [f["slot"] for f in fired] == ["2026-01-05T13:00:00Z"]


def test_catchup_all_fires_every_slot_in_order_capped_per_pass(
    schedule_home: Home, scheduled: Callable[..., str], recorder: Any, utc: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sched, "ALL_CAP", 2)
    scheduled(HOURLY, catchup="all", overlap="allow")
    fire_due_schedules(schedule_home, utc(2026, 1, 5, 10, 30), start=recorder)
    now = utc(2026, 1, 5, 13, 10)
    first = fire_due_schedules(schedule_home, now, start=recorder)
    assert [f["slot"] for f in _fired(first)] == ["2026-01-05T11:00:00Z", "2026-01-05T12:00:00Z"]
    assert first[0]["remaining"] == 1
    assert [f["slot"] for f in _fired(fire_due_schedules(schedule_home, now, start=recorder))] == ["2026-01-05T13:00:00Z"]
    assert len(recorder.started) == 3


def test_overlap_skip_waits_for_the_previous_run(
    schedule_home: Home, scheduled: Callable[..., str], recorder: Any, run_now: Any, utc: Any
) -> None:
    scheduled(HOURLY)
    fire_due_schedules(schedule_home, utc(2026, 1, 5, 10, 30), start=recorder)
    first = _fired(fire_due_schedules(schedule_home, utc(2026, 1, 5, 11, 0, 10), start=recorder))
    result = fire_due_schedules(schedule_home, utc(2026, 1, 5, 12, 0, 10), start=recorder)
    assert _fired(result) == [] and _skipped(result) == [{"slot": "2026-01-05T12:00:00Z", "reason": "overlap"}]
    run_now(schedule_home, first[0]["id"])
    assert len(_fired(fire_due_schedules(schedule_home, utc(2026, 1, 5, 13, 0, 10), start=recorder))) == 1


def test_overlap_allow_starts_anyway(schedule_home: Home, scheduled: Callable[..., str], recorder: Any, utc: Any) -> None:
    scheduled(HOURLY, overlap="allow")
    fire_due_schedules(schedule_home, utc(2026, 1, 5, 10, 30), start=recorder)
    fire_due_schedules(schedule_home, utc(2026, 1, 5, 11, 0, 10), start=recorder)
    fire_due_schedules(schedule_home, utc(2026, 1, 5, 12, 0, 10), start=recorder)
    assert len(recorder.started) == 2


def test_overlap_queue_starts_the_oldest_queued_run_when_the_previous_ends(
    schedule_home: Home, scheduled: Callable[..., str], recorder: Any, run_now: Any, utc: Any
) -> None:
    scheduled(HOURLY, overlap="queue")
    fire_due_schedules(schedule_home, utc(2026, 1, 5, 10, 30), start=recorder)
    first = _fired(fire_due_schedules(schedule_home, utc(2026, 1, 5, 11, 0, 10), start=recorder))[0]
    second = _fired(fire_due_schedules(schedule_home, utc(2026, 1, 5, 12, 0, 10), start=recorder))[0]
    assert (first["action"], second["action"]) == ("started", "queued")
    assert _status(schedule_home, second["id"]) == "created"
    assert _fired(fire_due_schedules(schedule_home, utc(2026, 1, 5, 12, 5), start=recorder)) == []  # first still going
    run_now(schedule_home, first["id"])
    drained = _fired(fire_due_schedules(schedule_home, utc(2026, 1, 5, 12, 6), start=recorder))
    assert drained == [{"id": second["id"], "action": "started", "from_queue": True}]
    assert recorder.started == [first["id"], second["id"]]
    assert read_state(schedule_home, "job")["queued"] == []  # type: ignore[index]


def test_a_held_lock_skips_the_template(schedule_home: Home, scheduled: Callable[..., str], recorder: Any, utc: Any) -> None:
    scheduled(HOURLY)
    fire_due_schedules(schedule_home, utc(2026, 1, 5, 10, 30), start=recorder)
    fd = os.open(schedule_home.root / "schedules" / "job.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        result = fire_due_schedules(schedule_home, utc(2026, 1, 5, 11, 0, 10), start=recorder)
    finally:
        os.close(fd)
    assert result[0]["busy"] is True and recorder.started == []
    assert len(_fired(fire_due_schedules(schedule_home, utc(2026, 1, 5, 11, 0, 20), start=recorder))) == 1


def test_changed_cron_re_anchors(schedule_home: Home, scheduled: Callable[..., str], recorder: Any, utc: Any) -> None:
    scheduled(HOURLY)
    fire_due_schedules(schedule_home, utc(2026, 1, 5, 10, 30), start=recorder)
    scheduled("*/15 * * * *")
    assert _fired(fire_due_schedules(schedule_home, utc(2026, 1, 5, 10, 46), start=recorder)) == []
    state = read_state(schedule_home, "job")
    assert state is not None and (state["cron"], state["last_slot"]) == ("*/15 * * * *", "2026-01-05T10:45:00Z")


def test_state_file_shape_and_builtins_are_never_scheduled(schedule_home: Home, scheduled: Callable[..., str], recorder: Any, utc: Any) -> None:
    scheduled(HOURLY, timezone="Europe/Paris")
    result = fire_due_schedules(schedule_home, utc(2026, 1, 5, 10, 30), start=recorder)
    assert [row["template"] for row in result] == ["job"]
    raw = json.loads((schedule_home.root / "schedules" / "job.json").read_text())
    assert {"format", "template", "cron", "timezone", "last_slot", "runs"} <= set(raw)
    assert raw["format"] == 1 and raw["timezone"] == "Europe/Paris"
    datetime.fromisoformat(raw["last_slot"].replace("Z", "+00:00"))
