"""Cron schedules of home templates (SPEC 12): slots, validation, state in ``<home>/schedules/`` and firing.

No slot fires twice: one process at a time holds ``<template>.lock`` (non-blocking ``flock``) and writes the
new ``last_slot`` before any run starts. Every function takes ``now`` (aware UTC) so tests move time freely.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from collections.abc import Mapping
from typing import Any, Callable, Iterator

from workflow_cli.errors import Issue, StateError, WorkflowError
from workflow_cli.model.schedule_check import schedule_issues
from workflow_cli.store.atomic import read_json, write_json_atomic
from workflow_cli.store.home import Home, make_private_dir
from workflow_cli.store.locks import try_lock_file

STATE_FORMAT = 1
KEEP = 20  # run ids and skipped slots kept in a state file
ALL_CAP = 100  # slots fired per pass with catchup: all; the rest wait for the next pass
COUNT_CAP = 1000  # how far the rest are counted for the report
NONE_WINDOW = timedelta(seconds=65)  # catchup: none fires a slot at most this old
ACTIVE = ("created", "queued", "running", "waiting", "paused")
Starter = Callable[[Home, str], None]


@dataclass(frozen=True)
class Schedule:
    """The ``schedule`` block of a template, checked."""

    template: str
    cron: str
    timezone: str = "UTC"
    params: dict[str, Any] = field(default_factory=dict)
    catchup: str = "none"
    overlap: str = "skip"

    @property
    def tz(self) -> tzinfo:
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.timezone)


def iso(dt: datetime) -> str:
    """A slot as ISO 8601 UTC with a ``Z``."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cron(expr: str, start: datetime, tz: tzinfo, *, reverse: bool = False) -> Iterator[datetime]:
    """Slots strictly after (or before) ``start``, in UTC; cronsim walks local time, so DST is handled there."""
    from cronsim import CronSim

    for slot in CronSim(expr, start.astimezone(tz), reverse=reverse):
        yield slot.astimezone(timezone.utc)


def previous_slot(expr: str, tz: tzinfo, now: datetime) -> datetime | None:
    """The latest slot at or before ``now``."""
    return next(_cron(expr, now + timedelta(microseconds=1), tz, reverse=True), None)


def next_slot(expr: str, tz: tzinfo, now: datetime) -> datetime | None:
    """The first slot strictly after ``now``."""
    return next(_cron(expr, now, tz), None)


def due_slots(expr: str, tz: tzinfo, after: datetime, now: datetime, *, cap: int = ALL_CAP) -> tuple[list[datetime], int]:
    """Up to ``cap`` slots in (after, now], oldest first, and how many more are due (counted up to COUNT_CAP)."""
    slots: list[datetime] = []
    rest = 0
    for slot in _cron(expr, after, tz):
        if slot > now or rest >= COUNT_CAP:
            break
        if len(slots) < cap:
            slots.append(slot)
        else:
            rest += 1
    return slots, rest


def home_schedules(home: Home) -> list[tuple[str, Schedule | None, str | None]]:
    """(template, schedule, error) for every home template holding a ``schedule`` block."""
    from workflow_cli.model.loader import load_document
    from workflow_cli.ops.sources import discover_templates

    found: list[tuple[str, Schedule | None, str | None]] = []
    for ref in [r for r in discover_templates(home).values() if r.source == "home"]:  # built-ins are never scheduled
        try:
            doc = load_document(ref.path)
        except WorkflowError as exc:
            found.append((ref.name, None, str(exc)))
            continue
        block = doc.get("schedule") if isinstance(doc, Mapping) else None
        if not isinstance(block, Mapping):
            continue
        issues = schedule_issues(doc) or ([] if isinstance(block.get("cron"), str) else [Issue("schedule.cron", "required")])
        keys = ("timezone", "params", "catchup", "overlap")
        schedule = None if issues else Schedule(ref.name, block["cron"], **{k: block[k] for k in keys if block.get(k) is not None})
        found.append((ref.name, schedule, "; ".join(map(str, issues)) or None))
    return found


def read_state(home: Home, template: str) -> dict[str, Any] | None:
    """The schedule state, None before first sight; StateError when corrupt or newer."""
    path = home.root / "schedules" / f"{template}.json"
    try:
        state = read_json(path, what="schedule state", way_out="remove it to start the schedule afresh")
    except FileNotFoundError:
        return None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise StateError(f"{path}: unsupported schedule state (format {state.get('format') if isinstance(state, dict) else '?'}); remove it")
    for key in ("runs", "queued", "skipped"):
        state.setdefault(key, [])
    return state


@contextmanager
def _template_lock(home: Home, template: str) -> Iterator[bool]:
    """Hold ``<template>.lock`` exclusively for the block; yields False when another process holds it."""
    folder = make_private_dir(home.root / "schedules")
    fd = try_lock_file(folder / f"{template}.lock")
    if fd is None:
        yield False
        return
    try:
        yield True
    finally:
        os.close(fd)  # closing drops the lock


def detach_start(home: Home, instance_id: str) -> None:
    """Start an instance in a background runner, so a pass returns quickly."""
    from workflow_cli.ops.query import instance_paths
    from workflow_cli.ops.run import detach

    detach(home, instance_paths(home, instance_id), "start")


class _Pass:
    """One template's decisions under its lock: the state, what fired and what was skipped."""

    def __init__(self, home: Home, schedule: Schedule, state: dict[str, Any], start: Starter) -> None:
        self.home, self.schedule, self.state, self.start = home, schedule, state, start
        self.report: dict[str, Any] = {"template": schedule.template, "fired": [], "skipped": []}

    def save(self) -> None:
        self.state["runs"] = self.state["runs"][-KEEP:]
        self.state["skipped"] = self.state["skipped"][-KEEP:]
        write_json_atomic(self.home.root / "schedules" / f"{self.schedule.template}.json", self.state)

    def previous_active(self) -> bool:
        """Whether the last started run is still going (a pruned one counts as finished)."""
        from workflow_cli.ops.query import instance_paths
        from workflow_cli.store.instances import load_state

        started = [i for i in self.state["runs"] if i not in self.state["queued"]]
        try:
            return bool(started) and load_state(instance_paths(self.home, started[-1]))["status"] in ACTIVE
        except WorkflowError:
            return False

    def skip(self, slot: str, reason: str) -> None:
        self.state["skipped"].append({"slot": slot, "reason": reason})
        self.report["skipped"].append({"slot": slot, "reason": reason})

    def drain_queue(self) -> None:
        """Start the oldest queued run once the previous one is finished."""
        if self.state["queued"] and not self.previous_active():
            instance_id = self.state["queued"].pop(0)
            self.save()
            self.start(self.home, instance_id)
            self.report["fired"].append({"id": instance_id, "action": "started", "from_queue": True})

    def fire(self, slot: datetime) -> None:
        """Create the run of one slot and start it, queue it or skip it, as ``overlap`` says."""
        from workflow_cli.ops.create import create_instance

        overlap, text = self.schedule.overlap, iso(slot)
        if overlap == "skip" and self.previous_active():
            return self.skip(text, "overlap")
        queue = overlap == "queue" and (bool(self.state["queued"]) or self.previous_active())
        try:
            created = create_instance(self.home, self.schedule.template, overrides=self.schedule.params, name=f"{self.schedule.template} @ {text}")
        except WorkflowError as exc:
            self.report["fired"].append({"slot": text, "error": str(exc)})
            return None
        self.state["runs"].append(created.id)
        self.state["queued"] += [created.id] if queue else []
        self.state["last_fired"] = text
        self.save()
        if not queue:
            self.start(self.home, created.id)
        self.report["fired"].append({"slot": text, "id": created.id, "action": "queued" if queue else "started"})


def _fresh_state(schedule: Schedule, now: datetime, old: dict[str, Any]) -> dict[str, Any]:
    """Anchor at the latest slot at or before now (firing nothing from the past); runs and queue are kept."""
    anchor = previous_slot(schedule.cron, schedule.tz, now)
    return {"format": STATE_FORMAT, "template": schedule.template, "cron": schedule.cron, "timezone": schedule.timezone,
            "last_slot": iso(anchor or now), "last_fired": old.get("last_fired"), **{k: old.get(k, []) for k in ("runs", "queued", "skipped")}}


def _to_fire(step: _Pass, now: datetime) -> tuple[list[datetime], datetime | None]:
    """The slots to fire in this pass (per ``catchup``) and the new ``last_slot``."""
    schedule, last = step.schedule, datetime.fromisoformat(step.state["last_slot"].replace("Z", "+00:00"))
    latest = previous_slot(schedule.cron, schedule.tz, now)
    if latest is None or latest <= last:
        return [], None
    if schedule.catchup == "all":
        slots, rest = due_slots(schedule.cron, schedule.tz, last, now, cap=ALL_CAP)
        if rest:
            step.report["remaining"] = rest  # fired by the next passes
        return slots, slots[-1]
    if schedule.catchup == "none" and now - latest > NONE_WINDOW:
        step.skip(iso(latest), "missed")
        return [], latest
    return [latest], latest


def fire_schedule(home: Home, schedule: Schedule, now: datetime, *, start: Starter = detach_start) -> dict[str, Any]:
    """One pass over one schedule: fire its due slots, under its lock."""
    with _template_lock(home, schedule.template) as held:
        if not held:
            return {"template": schedule.template, "busy": True, "fired": [], "skipped": []}
        state = read_state(home, schedule.template) or {}
        fresh = (state.get("cron"), state.get("timezone")) != (schedule.cron, schedule.timezone)
        step = _Pass(home, schedule, _fresh_state(schedule, now, state) if fresh else state, start)
        if fresh:
            step.save()  # first sight, or a changed schedule: re-anchor, firing nothing from the past
        if schedule.overlap == "queue":
            step.drain_queue()
        slots, new_last = _to_fire(step, now)
        if new_last is not None:
            step.state["last_slot"] = iso(new_last)
            step.save()  # claim the slots before any run starts
        for slot in slots:
            step.fire(slot)
        return step.report


def fire_due_schedules(home: Home, now: datetime, *, start: Starter = detach_start) -> list[dict[str, Any]]:
    """One pass over every scheduled home template; per-template problems are reported, not raised."""
    results: list[dict[str, Any]] = []
    for name, schedule, error in home_schedules(home):
        try:
            results.append(fire_schedule(home, schedule, now, start=start) if schedule else {"template": name, "error": error})
        except WorkflowError as exc:
            results.append({"template": name, "error": str(exc)})
    return results


def list_schedules(home: Home, now: datetime) -> list[dict[str, Any]]:
    """The ``schedules --json`` rows: name, cron, time zone, next run, last fired slot."""
    rows: list[dict[str, Any]] = []
    for name, schedule, error in home_schedules(home):
        if schedule is None:
            rows.append({"name": name, "error": error})
            continue
        state, nxt = read_state(home, name) or {}, next_slot(schedule.cron, schedule.tz, now)
        rows.append({"name": name, "cron": schedule.cron, "timezone": schedule.timezone, "catchup": schedule.catchup,
                     "overlap": schedule.overlap, "next_run": iso(nxt) if nxt else None, **{k: state.get(k) for k in ("last_slot", "last_fired", "runs", "queued")}})
    return rows


def next_due(home: Home, now: datetime) -> datetime | None:
    """The earliest next slot over every valid schedule (for the scheduler's sleep)."""
    slots = [next_slot(s.cron, s.tz, now) for _, s, _ in home_schedules(home) if s is not None]
    return min((s for s in slots if s is not None), default=None)
