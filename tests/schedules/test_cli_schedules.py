"""The CLI face of schedules: validate, ``schedules --json``, ``scheduler`` and overlapping ``tick`` processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pytest

from workflow_cli.ops.schedules import iso, next_slot

CONSOLE_SCRIPT = Path(sys.executable).with_name("workflow-cli")
DAILY = "0 3 * * *"


def _offset_to(slot: datetime, seconds: float) -> str:
    """The WORKFLOW_CLI_TIME_OFFSET that puts the clock ``seconds`` after ``slot`` (before it when negative)."""
    return str(slot.timestamp() + seconds - time.time())


@pytest.fixture
def slot() -> datetime:
    """The next daily 03:00 UTC slot, at least two minutes away in real time."""
    found = next_slot(DAILY, timezone.utc, datetime.now(timezone.utc) + timedelta(minutes=2))
    assert found is not None
    return found


def _wait_terminal(sh: Any, instance_id: str) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = sh("status", instance_id, "--json").json()["status"]
        if status not in ("created", "running"):
            return str(status)
        time.sleep(0.1)
    raise AssertionError(f"{instance_id} did not finish")


@pytest.mark.parametrize(
    ("fields", "path", "message"),
    [
        ({"cron": "61 * * * *"}, "schedule.cron", "invalid cron expression '61 * * * *'"),
        ({"cron": "0 9 * *"}, "schedule.cron", "invalid cron expression '0 9 * *'"),
        ({"cron": "0 9 * * 1", "timezone": "Mars/Base"}, "schedule.timezone", "unknown time zone 'Mars/Base'"),
    ],
)
def test_validate_rejects_a_bad_schedule_with_its_path(cli: Any, scheduled: Callable[..., str], fields: dict[str, Any], path: str, message: str) -> None:
    scheduled(**fields)
    result = cli("validate", "job", "--json")
    assert result.exit_code == 2, result
    assert {"path": path, "message": message} in [{k: e[k] for k in ("path", "message")} for e in result.json()["errors"]]
    assert cli("validate", "job").exit_code == 2


def test_validate_accepts_a_good_schedule(cli: Any, scheduled: Callable[..., str]) -> None:
    scheduled("0 9 * * 1", timezone="Europe/Paris", catchup="latest", overlap="queue", params={"who": "x"})
    assert cli("validate", "job", "--json").json()["valid"] is True


def test_schedules_json_lists_next_run_and_last_fired(cli: Any, scheduled: Callable[..., str]) -> None:
    scheduled("0 9 * * 1", timezone="Europe/Paris")
    rows = cli("schedules", "--json").json()
    assert [r["name"] for r in rows] == ["job"]
    row = rows[0]
    assert (row["cron"], row["timezone"], row["last_fired"]) == ("0 9 * * 1", "Europe/Paris", None)
    nxt = datetime.fromisoformat(row["next_run"].replace("Z", "+00:00"))
    local = nxt.astimezone(ZoneInfo("Europe/Paris"))
    assert nxt > datetime.now(timezone.utc) and (local.weekday(), local.hour, local.minute) == (0, 9, 0)


def test_scheduler_once_fires_a_due_slot(sh: Any, scheduled: Callable[..., str], slot: datetime) -> None:
    scheduled(DAILY)
    first = sh("scheduler", "--once", "--json", env={"WORKFLOW_CLI_TIME_OFFSET": _offset_to(slot, -30)})
    assert first.exit_code == 0 and first.json()[0]["fired"] == [], first
    second = sh("scheduler", "--once", "--json", env={"WORKFLOW_CLI_TIME_OFFSET": _offset_to(slot, 5)})
    fired = second.json()[0]["fired"]
    assert [(f["slot"], f["action"]) for f in fired] == [(iso(slot), "started")], second
    assert _wait_terminal(sh, fired[0]["id"]) == "completed"
    listed = sh("schedules", "--json", env={"WORKFLOW_CLI_TIME_OFFSET": _offset_to(slot, 10)}).json()
    assert listed[0]["last_fired"] == iso(slot) and listed[0]["runs"] == [fired[0]["id"]]


def test_scheduler_max_loops(sh: Any, scheduled: Callable[..., str]) -> None:
    scheduled(DAILY)
    result = sh("scheduler", "--max-loops", "2", "--max-sleep", "0.1", "--json")
    assert result.exit_code == 0 and len(result.json()["passes"]) == 2, result


def test_scheduler_stops_cleanly_on_sigterm(sh: Any, home: Path, scheduled: Callable[..., str]) -> None:
    scheduled(DAILY)
    proc = subprocess.Popen([str(CONSOLE_SCRIPT), "scheduler"], env=sh.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    while not (home / "schedules" / "job.json").exists():  # the first pass is done: the loop is asleep
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err


def test_two_overlapping_ticks_fire_one_instance_for_the_slot(sh: Any, home: Path, scheduled: Callable[..., str], slot: datetime) -> None:
    scheduled(DAILY, overlap="allow")
    assert sh("tick", env={"WORKFLOW_CLI_TIME_OFFSET": _offset_to(slot, -30)}).exit_code == 0  # first sight
    env = {**sh.env, "WORKFLOW_CLI_TIME_OFFSET": _offset_to(slot, 3)}
    procs = [subprocess.Popen([str(CONSOLE_SCRIPT), "tick", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=30) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    fired = [f for out, _ in outputs for row in json.loads(out)["scheduled"] for f in row.get("fired", [])]
    assert len(fired) == 1 and fired[0]["slot"] == iso(slot), outputs
    state = json.loads((home / "schedules" / "job.json").read_text())
    assert state["runs"] == [fired[0]["id"]]
    assert [r["id"] for r in sh("list", "--json").json()] == [fired[0]["id"]]
    assert _wait_terminal(sh, fired[0]["id"]) == "completed"


def test_a_slot_whose_start_fails_does_not_hold_up_the_next(sh: Any, home: Path, scheduled: Callable[..., str]) -> None:
    """A broken config.yaml makes the start of a slot's run fail: tick reports it, the instance ends
    cancelled with the reason (not `created` for ever), and once the config is fixed the next slot runs,
    although overlap is `skip`."""
    scheduled("* * * * *", overlap="skip")
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    first, second = now + timedelta(minutes=5), now + timedelta(minutes=6)
    assert sh("tick", env={"WORKFLOW_CLI_TIME_OFFSET": _offset_to(first, -30)}).exit_code == 0  # first sight
    (home / "config.yaml").write_text("max_paralel: 2\n")
    broken = sh("--json", "tick", env={"WORKFLOW_CLI_TIME_OFFSET": _offset_to(first, 5)})
    row = broken.json()["scheduled"][0]
    assert "max_paralel" in row["error"], row
    [stuck] = sh("list", "--json").json()
    status = sh("status", stuck["id"], "--json").json()
    assert status["status"] == "cancelled" and status["error"].startswith("could not start: ") and "max_paralel" in status["error"]
    (home / "config.yaml").write_text("max_parallel: 2\n")
    fixed = sh("--json", "tick", env={"WORKFLOW_CLI_TIME_OFFSET": _offset_to(second, 5)}).json()["scheduled"][0]
    assert [f["slot"] for f in fixed["fired"]] == [iso(second)] and not fixed["skipped"], fixed
    assert _wait_terminal(sh, fixed["fired"][0]["id"]) == "completed"
