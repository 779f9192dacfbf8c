"""The append-only event log ``events.jsonl`` (SPEC 7.1): one fsynced JSON line per state change."""

from __future__ import annotations

import contextlib
import getpass
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from workflow_cli.clock import utc_now
from workflow_cli.errors import StateError
from workflow_cli.store.atomic import fsync_dir
from workflow_cli.store.codec import dumps_lines

EVENT_FORMAT = 1
REPAIRED = "log.repaired"
_FIELDS = ("v", "seq", "time", "type", "actor", "data")


_ACTING_AS: ContextVar[str | None] = ContextVar("workflow_cli_acting_as", default=None)


def default_actor() -> str:
    """Who this process's events and requests are recorded as: the name a caller acts as (:func:`acting_as`:
    the token of a ``serve`` request, SPEC 18.2), else the OS user."""
    return _ACTING_AS.get() or os_user()


@lru_cache(maxsize=1)
def os_user() -> str:
    """The OS user name, or ``uid:N`` when it cannot be found (containers without a passwd entry)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def acting_as(name: str) -> None:
    """Record what the current context (one ``serve`` request) writes as done by ``name``."""
    _ACTING_AS.set(name)


def _corrupt(path: Path, lineno: int, reason: str) -> StateError:
    """A StateError naming the file, the line and the way out."""
    keep = lineno - 1
    way_out = "restore the file from a backup"
    if keep:
        way_out += (f", or keep only its first {keep} line(s), losing the later events "
                    f"(head -n {keep} {path} > {path}.fixed && mv {path}.fixed {path})")
    return StateError(f"{path}:{lineno}: corrupt event log: {reason}; {way_out}")


def _parse(raw: bytes, path: Path, lineno: int, *, last: bool, prev_seq: int) -> dict[str, Any] | None:
    """One checked event from one line; None for a torn last line (a crash mid-write)."""
    if not raw.endswith(b"\n"):
        if last:
            return None
        raise _corrupt(path, lineno, "unterminated line")  # cannot happen with line iteration
    try:
        event = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        # A whole line (newline included) that is not JSON is damage, last line or not: a crash
        # mid-write leaves a line without its newline, never a garbled terminated one.
        raise _corrupt(path, lineno, f"invalid JSON ({exc})") from exc
    if not isinstance(event, dict) or not all(k in event for k in _FIELDS):
        raise _corrupt(path, lineno, f"not an event object with the fields {', '.join(_FIELDS)}")
    problem = _field_problem(event)
    if problem:
        raise _corrupt(path, lineno, problem)
    version = event["v"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _corrupt(path, lineno, f"bad format version {version!r}")
    if version > EVENT_FORMAT:
        raise StateError(
            f"{path}:{lineno}: event format {version} was written by a newer release of workflow-cli "
            f"(this one reads up to {EVENT_FORMAT}); upgrade workflow-cli"
        )
    seq = event["seq"]
    if type(seq) is not int or seq != prev_seq + 1:
        raise _corrupt(path, lineno, f"sequence number {seq!r} after {prev_seq} (expected {prev_seq + 1})")
    return event


_TASK_EVENT_PREFIXES = ("task.", "item.", "loop.", "rollback.task")


def _field_problem(event: Mapping[str, Any]) -> str | None:
    """Why an event's fields have the wrong types, or None."""
    if type(event["type"]) is not str or type(event["time"]) is not str or type(event["data"]) is not dict:
        return "wrong field types (type and time must be strings, data an object)"
    return None


def _scan(fh: IO[bytes], path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (end offset, event) for each complete line; stop silently at a torn last line."""
    lines = iter(fh)
    raw = next(lines, None)
    lineno, prev_seq, end = 1, 0, 0
    while raw is not None:
        if not raw.endswith(b"\n"):
            # End of what was on disk when read: a crash's torn tail, or an append still in progress
            # (a reader racing the writer can see the rest of this line arrive after it). Never an error.
            return
        following = next(lines, None)
        event = _parse(raw, path, lineno, last=following is None, prev_seq=prev_seq)
        if event is None:
            return
        end += len(raw)
        prev_seq = event["seq"]
        yield end, event
        raw, lineno = following, lineno + 1


def iter_events(path: Path, *, since_seq: int = 0) -> Iterator[dict[str, Any]]:
    """Yield the events of ``path`` with ``seq > since_seq``; a missing file raises FileNotFoundError."""
    path = Path(path)
    with open(path, "rb") as fh:
        for _end, event in _scan(fh, path):
            if event["seq"] > since_seq:
                yield event


@dataclass
class LogSummary:
    """One pass over a log: the events after a point, its last sequence number and its checkpoints."""

    events: list[dict[str, Any]] = field(default_factory=list)
    last_seq: int = 0
    checkpoints: list[tuple[int, str]] = field(default_factory=list)  # (seq, checkpoint id), log order
    tasks: set[str] = field(default_factory=set)  # every task an event names


def summarize_log(path: Path, *, since_seq: int = 0) -> LogSummary:
    """Read ``path`` once (checked like :func:`read_events`); a missing file raises FileNotFoundError."""
    path = Path(path)
    out = LogSummary()
    with open(path, "rb") as fh:
        for lineno, (_end, event) in enumerate(_scan(fh, path), 1):
            seq, etype = event["seq"], event["type"]
            # the fields the state fold reads must have their types (SPEC 16: a wrong type is damage)
            if etype.startswith(_TASK_EVENT_PREFIXES):
                task = event["data"].get("task")
                if type(task) is not str:
                    raise _corrupt(path, lineno, f"a {etype} event without a task name")
                out.tasks.add(task)
            elif etype == "checkpoint.created":
                cp_id = event["data"].get("id")
                if type(cp_id) is not str:
                    raise _corrupt(path, lineno, "a checkpoint.created event without a checkpoint id")
                out.checkpoints.append((seq, cp_id))
            out.last_seq = seq
            if seq > since_seq:
                out.events.append(event)
    return out


def read_events(path: Path, *, since_seq: int = 0) -> list[dict[str, Any]]:
    """All events of ``path`` with ``seq > since_seq``, checked, oldest first.

    Raises:
        FileNotFoundError: no event log.
        StateError: a line before the last is not valid JSON, or the sequence has a gap or goes back.
    """
    return list(iter_events(path, since_seq=since_seq))


def _type_name(kind: str | Enum) -> str:
    """The JSON value of an event type (a str or a str-valued Enum such as EventType)."""
    return kind.value if isinstance(kind, Enum) else kind


class EventLog:
    """The writer of one instance's event log; only the holder of the instance lock may use it.

    The first append (or ``open()``) checks the log, cuts away a torn last line left by a crash and keeps the
    file descriptor and the last sequence number for the following appends.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._seq = 0
        self._end = 0
        self._actor = default_actor()

    def open(self) -> EventLog:
        """Open for appending (once), recovering from a torn last line."""
        if self._fd is not None:
            return self
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            seq = end = 0
            with open(os.dup(fd), "rb") as fh:
                for end, event in _scan(fh, self.path):  # noqa: B007 - `end` is read after the loop
                    seq = event["seq"]
            dropped = os.fstat(fd).st_size - end
            if dropped > 0:
                os.ftruncate(fd, end)  # the torn tail of a write that never completed
                os.fsync(fd)
            if created:
                fsync_dir(self.path.parent)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._seq, self._end = fd, seq, end
        if dropped > 0:  # the repair itself is part of the instance's history
            self.append(REPAIRED, {"dropped_bytes": dropped, "offset": end, "reason": "torn last line (a crash mid-write)"})
        return self

    @property
    def last_seq(self) -> int:
        """The sequence number of the last event in the log (0 when empty)."""
        self.open()
        return self._seq

    def _event(self, seq: int, kind: str | Enum, data: Mapping[str, Any] | None, actor: str | None,
               time: str) -> dict[str, Any]:
        return {"v": EVENT_FORMAT, "seq": seq, "time": time, "type": _type_name(kind),
                "actor": actor or self._actor, "data": dict(data) if data else {}}

    def _write(self, payload: bytes, *, fsync: bool) -> None:
        """Append ``payload`` with one write; on failure cut the file back so no torn line stays behind."""
        fd = self._fd
        assert fd is not None
        if fsync:
            self._check_unchanged(fd)
        try:
            if os.write(fd, payload) != len(payload):
                raise OSError(f"{self.path}: short write to the event log")
            if fsync:
                os.fsync(fd)
        except BaseException:
            # The fstat check above refuses further appends if this cut fails too.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._end)
            raise
        self._end += len(payload)

    def _check_unchanged(self, fd: int) -> None:
        """Refuse to go on if the file grew behind this writer (checked at each durable write)."""
        if os.fstat(fd).st_size != self._end:
            raise StateError(
                f"{self.path}: the event log changed under its writer (another process appended without "
                f"holding the instance lock); stop the other runner and run 'workflow-cli resume'"
            )

    def append(self, type: str | Enum, data: Mapping[str, Any] | None = None, *, actor: str | None = None,
               time: str | None = None, fsync: bool = True) -> dict[str, Any]:
        """Append one event, flushed to disk before returning (unless ``fsync=False``); returns it."""
        if self._fd is None:
            self.open()
        event = self._event(self._seq + 1, type, data, actor, time or utc_now())
        self._write(dumps_lines([event]), fsync=fsync)
        self._seq += 1
        return event

    def append_many(self, events: Iterable[tuple[str | Enum, Mapping[str, Any] | None]], *,
                    actor: str | None = None, time: str | None = None, fsync: bool = True) -> list[dict[str, Any]]:
        """Append several events with one write and one fsync; returns them."""
        if self._fd is None:
            self.open()
        stamp = time or utc_now()
        built = [self._event(self._seq + i, kind, data, actor, stamp) for i, (kind, data) in enumerate(events, 1)]
        if not built:
            return []
        self._write(dumps_lines(built), fsync=fsync)
        self._seq += len(built)
        return built

    def write_prepared(self, events: list[dict[str, Any]], *, fsync: bool = True) -> None:
        """Append events built by the caller (group commit); their ``seq`` must continue the log."""
        if self._fd is None:
            self.open()
        for offset, event in enumerate(events, 1):
            if event.get("seq") != self._seq + offset:
                raise StateError(f"{self.path}: event seq {event.get('seq')} does not follow {self._seq + offset - 1}")
        if events:
            self._write(dumps_lines(events), fsync=fsync)
            self._seq += len(events)

    def sync(self, *, check: bool = True) -> None:
        """Flush appends made with ``fsync=False`` (``check``: first make sure nobody else appended)."""
        fd = self._fd
        if fd is not None:
            if check:
                self._check_unchanged(fd)
            os.fsync(fd)

    def check_unchanged(self) -> None:
        """Raise StateError if the file grew behind this writer."""
        if self._fd is not None:
            self._check_unchanged(self._fd)

    def close(self) -> None:
        """Close the file descriptor; a later append reopens (and rechecks) the log."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self) -> EventLog:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
