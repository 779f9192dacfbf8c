"""Where the notes of in-memory migrations go while a command loads its source (kept light: no migration code)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

NOTE_SINK: ContextVar[Callable[[str], None] | None] = ContextVar("migration_note_sink", default=None)


@contextmanager
def source_notes(sink: Callable[[str], None]) -> Iterator[None]:
    """Send the note of every in-memory migration made inside the block to ``sink`` (one line each)."""
    token = NOTE_SINK.set(sink)
    try:
        yield
    finally:
        NOTE_SINK.reset(token)
