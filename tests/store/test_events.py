"""The append-only event log: format, recovery from a torn write, corruption detection, concurrent readers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from workflow_cli.errors import StateError
from workflow_cli.model.states import EventType
from workflow_cli.store.events import EventLog, iter_events, read_events


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "events.jsonl"


def test_append_writes_one_versioned_line_per_event(log_path: Path) -> None:
    with EventLog(log_path) as log:
        first = log.append(EventType.WORKFLOW_CREATED, {"name": "demo"}, actor="alice")
        second = log.append("task.started", {"task": "a"}, time="2026-11-21T21:51:49.123456Z")
    lines = log_path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [first, second]
    assert list(first) == ["v", "seq", "time", "type", "actor", "data"]
    assert first["v"] == 1 and first["seq"] == 1 and second["seq"] == 2
    assert first["type"] == "workflow.created" and first["actor"] == "alice" and second["actor"]
    assert first["time"].endswith("Z") and second["time"] == "2026-11-21T21:51:49.123456Z"
    assert second["data"] == {"task": "a"}
    assert log_path.stat().st_mode & 0o777 == 0o600


def test_reopened_log_continues_the_sequence(log_path: Path) -> None:
    with EventLog(log_path) as log:
        log.append("a")
        log.append("b")
    reopened = EventLog(log_path)
    assert reopened.last_seq == 2
    assert reopened.append("c")["seq"] == 3
    reopened.close()
    assert [e["seq"] for e in read_events(log_path)] == [1, 2, 3]
    assert [e["type"] for e in read_events(log_path, since_seq=2)] == ["c"]
    assert [e["seq"] for e in iter_events(log_path, since_seq=1)] == [2, 3]


def test_append_many_is_contiguous_and_one_write(log_path: Path) -> None:
    with EventLog(log_path) as log:
        log.append("first")
        batch = log.append_many([("task.completed", {"task": "a"}), ("checkpoint.created", {"id": "cp-0001"}),
                                 (EventType.TASK_STARTED, None)])
        assert log.append_many([]) == []
        after = log.append("last")
    assert [e["seq"] for e in batch] == [2, 3, 4] and after["seq"] == 5
    assert [e["seq"] for e in read_events(log_path)] == [1, 2, 3, 4, 5]


def test_unserializable_data_writes_nothing(log_path: Path) -> None:
    with EventLog(log_path) as log:
        log.append("ok")
        with pytest.raises(TypeError):
            log.append("bad", {"x": {1, 2}})
        with pytest.raises(TypeError):
            log.append_many([("good", None), ("bad", {"x": object()})])
        assert log.append("next")["seq"] == 2
        log.append("nan", {"x": float("nan"), "big": 2**70})  # JSON has no NaN: stored as null; big ints stay exact
    events = read_events(log_path)
    assert [e["type"] for e in events] == ["ok", "next", "nan"]
    assert events[-1]["data"] == {"x": None, "big": 2**70}


@pytest.mark.parametrize("tail", [b'{"v":1,"seq":3,"ti', b'{"v":1,"seq":3,"time":"x","type":"t","actor":"a","data":{}}',
                                  b"\0\0\0\0"])
def test_torn_last_line_is_ignored_then_cut_away_and_the_repair_recorded(log_path: Path, tail: bytes) -> None:
    with EventLog(log_path) as log:
        log.append("a")
        log.append("b")
    with open(log_path, "ab") as fh:  # a crash in the middle of the third write
        fh.write(tail)
    assert [e["seq"] for e in read_events(log_path)] == [1, 2]
    with EventLog(log_path) as log:
        assert log.last_seq == 3  # the repair is event 3
        assert log.append("c")["seq"] == 4
    events = read_events(log_path)
    assert [e["type"] for e in events] == ["a", "b", "log.repaired", "c"]
    assert events[2]["data"]["dropped_bytes"] == len(tail)
    assert log_path.read_bytes().count(b"\n") == 4


def test_a_whole_garbled_last_line_is_damage_not_a_torn_tail(log_path: Path) -> None:
    with EventLog(log_path) as log:
        log.append("a")
    with open(log_path, "ab") as fh:
        fh.write(b"garbage\n")  # a crash never leaves a terminated line that is not JSON
    with pytest.raises(StateError, match=":2: corrupt event log"):
        read_events(log_path)
    with pytest.raises(StateError):
        EventLog(log_path).open()
    assert log_path.read_bytes().endswith(b"garbage\n")


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _event(seq: object, **extra: object) -> str:
    return json.dumps({"v": 1, "seq": seq, "time": "t", "type": "x", "actor": "a", "data": {}, **extra})


@pytest.mark.parametrize(
    ("lines", "bad_line"),
    [
        ([_event(1), "{not json", _event(3)], 2),
        ([_event(1), "", _event(2)], 2),
        ([_event(1), _event(3)], 2),
        ([_event(1), _event(2), _event(2)], 3),
        ([_event(2)], 1),
        ([_event(1), '{"seq": 2}', _event(3)], 2),
        ([_event(1), _event(2.0)], 2),
        ([_event(1), _event(True)], 2),
    ],
)
def test_corruption_is_reported_with_line_number(log_path: Path, lines: list[str], bad_line: int) -> None:
    _write_lines(log_path, lines)
    for action in (lambda: read_events(log_path), lambda: EventLog(log_path).open()):
        with pytest.raises(StateError) as info:
            action()
        assert f"{log_path}:{bad_line}:" in str(info.value)
        assert "backup" in str(info.value)


def test_newer_format_is_a_clear_error(log_path: Path) -> None:
    _write_lines(log_path, [_event(1), json.dumps({**json.loads(_event(2)), "v": 99})])
    with pytest.raises(StateError, match="newer release"):
        read_events(log_path)


def test_corrupt_log_is_left_untouched_by_the_writer(log_path: Path) -> None:
    _write_lines(log_path, [_event(1), "oops", _event(3)])
    before = log_path.read_bytes()
    with pytest.raises(StateError):
        EventLog(log_path).append("x")
    assert log_path.read_bytes() == before


def test_foreign_append_is_detected(log_path: Path) -> None:
    with EventLog(log_path) as log:
        log.append("a")
        with open(log_path, "a", encoding="utf-8") as fh:
            fh.write(_event(2) + "\n")
        with pytest.raises(StateError, match="changed under its writer"):
            log.append("b")


def test_missing_log_raises_file_not_found(log_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_events(log_path)


_WRITER = textwrap.dedent(
    """
    import sys
    from workflow_cli.store.events import EventLog
    log = EventLog(sys.argv[1])
    sys.stdin.readline()  # wait until the readers run
    for i in range(int(sys.argv[2])):
        if i % 7 == 0:
            log.append_many([("batch", {"i": i, "pad": "x" * (i % 300)}), ("batch", {"i": i})], fsync=False)
        else:
            log.append("single", {"i": i, "pad": "y" * (i % 500)}, fsync=False)
    log.close()
    """
)


def test_concurrent_readers_never_see_a_torn_line_before_the_last(log_path: Path) -> None:
    EventLog(log_path).append("start")
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(log_path), "3000"], stdin=subprocess.PIPE)
    errors: list[BaseException] = []
    counts: list[int] = []

    def reader() -> None:
        try:
            while writer.poll() is None:
                events = read_events(log_path)
                assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
                counts.append(len(events))
        except BaseException as exc:  # noqa: BLE001 - surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    assert writer.stdin is not None
    writer.stdin.write(b"go\n")
    writer.stdin.close()
    for thread in threads:
        thread.join(timeout=120)
    assert writer.wait(timeout=120) == 0
    assert errors == []
    assert counts, "the readers never ran while the writer appended"
    final = read_events(log_path)
    assert len(final) == 1 + 3000 + 3000 // 7 + 1
