"""The runner's write path: events applied to the in-memory state at once, made durable in batches.

Group commit: events recorded while deciding are written with one ``write`` and one ``fsync``
(:meth:`Journal.flush`) before anything outside the process can observe them: before a command
returns, before the runner sleeps. An in-process ``noop`` has no side effect, so a chain of them
shares one fsync, and a crash loses nothing that was acted on. A task that may run twice
(``on_interrupt: rerun``) is launched after its start was *written* (:meth:`Journal.write`, in the
page cache: a killed runner loses nothing) and fsynced with the next group commit; only a power
loss can forget such a start, and then the task process died with the machine. While attempts run,
the runner thread makes the group commit ``commit_interval_ms`` after the oldest unsynced event
(:meth:`Journal.commit_wait`), its fsync outside the runner's state lock (:meth:`Journal.begin_commit`):
the worker threads that start attempts neither fsync for it nor wait for it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping

from workflow_cli.clock import SystemClock
from workflow_cli.model.states import EventType
from workflow_cli.store.atomic import write_bytes_atomic
from workflow_cli.store.codec import dumps, dumps_lines
from workflow_cli.store.events import EVENT_FORMAT, EventLog, default_actor
from workflow_cli.store.index import TERMINAL as TERMINAL_STATUSES
from workflow_cli.store.index import note_state
from workflow_cli.store.instances import InstancePaths
from workflow_cli.store.integrity import cut_index_past
from workflow_cli.store.state import INSTANCE_STATUS_EVENTS, apply_event

EventSink = Callable[[dict[str, Any]], None]
Mask = Callable[[Any], Any]


class Journal:
    """Event log + live state + periodic snapshot + checkpoint index of one instance."""

    def __init__(self, paths: InstancePaths, checkpoints_dir: Path, state: dict[str, Any], clock: SystemClock,
                 *, sink: EventSink | None = None, actor: str | None = None, mask: Mask | None = None) -> None:
        self.paths = paths
        self.mask = mask  # masks secret values in every event's data (None: the instance has no secret)
        self.checkpoints_dir = checkpoints_dir
        self.state = state
        self.clock = clock
        self.sink = sink
        self.actor = actor or default_actor()
        self.log = EventLog(paths.events).open()
        cut_index_past(checkpoints_dir / "checkpoints.jsonl", self.log.last_seq)
        self.pending: list[dict[str, Any]] = []  # recorded, not yet written
        self.unsynced: list[dict[str, Any]] = []  # written, not yet fsynced
        self._oldest = 0.0
        self._checkpoints_dir_made = False
        self._index_dirty = False
        self.since_snapshot = 0
        self.defer_snapshots = False  # set by a runner whose own thread writes the periodic snapshot
        self.snapshot_due = False
        items = sum(len(ts.get("items") or ()) for ts in state["tasks"].values())
        self.snapshot_every = max(500, 2 * (len(state["tasks"]) + items))
        self.state["last_seq"] = max(self.state["last_seq"], 0)
        self._index_due = False  # a finished status recorded, to enter in the home's index once durable

    def record(self, etype: EventType | str, data: Mapping[str, Any] | None = None, *, actor: str | None = None) -> dict[str, Any]:
        """Apply an event to the state now; it reaches the disk at the next :meth:`flush`.

        With secrets, every string of ``data`` holding a secret's value is masked first, so the log,
        the state, the checkpoint index, the subscribers and the hooks never see the value (SPEC 14).
        """
        seq = self.log.last_seq + len(self.pending) + 1
        body = dict(data) if data else {}
        if self.mask is not None and body:
            body = self.mask(body)
        event = {"v": EVENT_FORMAT, "seq": seq, "time": self.clock.now_iso(), "type": str(etype),  # plain data from here on
                 "actor": actor or self.actor, "data": body}
        apply_event(self.state, event)
        if etype in INSTANCE_STATUS_EVENTS:
            self._status_changed()
        if not self.pending and not self.unsynced:
            self._oldest = self.clock.monotonic()
        self.pending.append(event)
        return event

    def grow(self, records: int) -> None:
        """The state gained ``records`` records (foreach items): snapshot less often (O(1) snapshot work per event)."""
        self.snapshot_every += 2 * max(0, records)

    @property
    def dirty(self) -> bool:
        """Whether some recorded event is not fsynced yet."""
        return bool(self.pending or self.unsynced)

    def commit_wait(self, interval: float) -> float:
        """Seconds until the group commit is due (``interval`` when nothing waits for one)."""
        if not self.dirty:
            return interval
        return max(0.0, self._oldest + interval - self.clock.monotonic())

    def write(self) -> None:
        """Write the recorded events to the log without fsync: they survive the death of this process."""
        if self.pending:
            events, self.pending = self.pending, []
            self._index_checkpoints(events)
            self.log.write_prepared(events, fsync=False)
            self.unsynced.extend(events)

    def flush(self) -> None:
        """Write and fsync every recorded event; then tell the subscriber and maybe snapshot."""
        if not self.pending and not self.unsynced:
            return
        if self.unsynced:
            self.write()
            self.log.sync()
            events, self.unsynced = self.unsynced, []
        else:
            events, self.pending = self.pending, []
            self._index_checkpoints(events)
            self.log.write_prepared(events)
        self._durable(events)

    # The runner thread's group commit, in three steps so that the fsync runs without the runner's state
    # lock: workers go on recording and writing meanwhile. Whatever fsync makes an event durable first
    # (this one, or a worker's own :meth:`flush`) hands it on; events are handed on in log order.
    def begin_commit(self, interval: float) -> int | None:
        """(state lock held) When the group commit is due: write what is pending and return the last
        sequence number the coming :meth:`sync_unlocked` makes durable; else None."""
        if not self.dirty or (len(self.pending) + len(self.unsynced) < 512
                              and self.clock.monotonic() - self._oldest < interval):
            return None
        self.log.check_unchanged()
        self.write()
        self._oldest = self.clock.monotonic()  # what is recorded from now on is younger
        return int(self.unsynced[-1]["seq"])

    def sync_unlocked(self) -> None:
        """fsync the event log (no lock needed: only the file descriptor is touched)."""
        self.log.sync(check=False)

    def end_commit(self, upto: int) -> None:
        """(state lock held) The events up to ``upto`` are on disk: hand them on."""
        done = 0
        for event in self.unsynced:
            if event["seq"] > upto:
                break
            done += 1
        if done:
            events, self.unsynced = self.unsynced[:done], self.unsynced[done:]
            self._durable(events)

    def _status_changed(self) -> None:
        """The instance's status changed: the home's index learns an unfinished status at once, a finished
        one once it is durable (so a crash between the two leaves a row that readers check against the files)."""
        if self.state["status"] in TERMINAL_STATUSES:
            self._index_due = True
        else:
            self._index_due = False
            note_state(self.paths.root.parent, self.state)

    def _durable(self, events: list[dict[str, Any]]) -> None:
        """``events`` are fsynced: tell the home's index and the subscriber, maybe snapshot."""
        if self._index_due and any(e["type"] in INSTANCE_STATUS_EVENTS for e in events):
            self._index_due = False
            note_state(self.paths.root.parent, self.state)
        if self.sink is not None:
            for event in events:
                self.sink(event)
        self.since_snapshot += len(events)
        if self.since_snapshot >= self.snapshot_every:
            if self.defer_snapshots:
                self.snapshot_due = True  # the runner thread writes it outside its state lock
            else:
                self.snapshot()

    def _index_checkpoints(self, events: list[dict[str, Any]]) -> None:
        """Index the checkpoints of ``events`` *before* the events reach the log: a killed runner can leave
        index entries past the log's end (cut at the next open), never a log checkpoint the index lacks -
        which therefore means damage (SPEC 16). The index is fsynced when the journal closes, not per
        batch (that would double the fsyncs of a run); see docs/security.md for a power loss mid-run."""
        checkpoints = [{"id": e["data"]["id"], "seq": e["seq"], "created_at": e["time"], **e["data"]} for e in events
                       if e["type"] == "checkpoint.created"]
        if not checkpoints:
            return
        if not self._checkpoints_dir_made:  # made at create; an instance of an older release may lack it
            self.checkpoints_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._checkpoints_dir_made = True
        with open(self.checkpoints_dir / "checkpoints.jsonl", "ab") as fh:
            fh.write(dumps_lines(checkpoints))
        self._index_dirty = True

    def snapshot(self) -> None:
        """Replace ``state.json`` with the state as of the last flushed event."""
        self.write_snapshot(self.snapshot_data())

    def write_snapshot(self, data: bytes) -> None:
        """Replace ``state.json`` with ``data`` from :meth:`snapshot_data` (no lock needed)."""
        # the data is fsynced before the rename; the rename is not waited for: if a crash loses it, the old
        # snapshot plus the events logged after it give the same state
        write_bytes_atomic(self.paths.snapshot, data, sync_dir=False)

    def snapshot_data(self) -> bytes:
        """(under the runner's state lock) The snapshot's content, after a flush; the file can then be
        written without the lock (:func:`write_bytes_atomic`), while attempts go on."""
        if self.dirty:
            self.flush()
        self.since_snapshot, self.snapshot_due = 0, False
        return dumps(self.state) + b"\n"

    def close(self) -> None:
        """Flush, snapshot and release the log (the checkpoint index is made durable too)."""
        self.flush()
        self.snapshot()
        if self._index_dirty:
            fd = os.open(self.checkpoints_dir / "checkpoints.jsonl", os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._index_dirty = False
        self.log.close()
