"""Instance ids: unique, filesystem safe, sortable by creation time, addressable by any unique prefix (SPEC 8)."""

from __future__ import annotations

import os
import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from workflow_cli.errors import InvalidInputError, NotFoundError
from workflow_cli.store.atomic import fsync_dir

ID_PATTERN = re.compile(r"^\d{8}-\d{6}-\d{3}[0-9a-f]{3}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SUFFIX_MAX = 0xFFF
_SUFFIX_START = 0x800  # a random start below this leaves room to count up within one millisecond
_MAX_CANDIDATES = 5

_lock = threading.Lock()
_last_requested = -1  # the millisecond asked for by the call that made the previous id
_last_ms = -1  # the millisecond of the previous id (later than asked for after 4096 ids in one ms)
_last_suffix = 0


def _random_start() -> int:
    """A random suffix below _SUFFIX_START (a power of two, so the modulo is uniform)."""
    return int.from_bytes(os.urandom(2), "big") % _SUFFIX_START


def _epoch_ms(now: datetime) -> int:
    """Milliseconds since the epoch; a naive datetime is taken as UTC."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return (now - _EPOCH) // timedelta(milliseconds=1)


def _next_stamp(requested: int, *, clamp: bool) -> tuple[int, int]:
    """The (millisecond, suffix) pair of a new id, after the previous one of this process.

    ``clamp`` (the real clock) never goes back in time, so a clock stepping back keeps creation order; an
    explicit older time (a test's fake clock) is honoured and does not disturb the sequence.
    """
    global _last_requested, _last_ms, _last_suffix
    with _lock:
        if requested == _last_requested or (requested <= _last_ms and (clamp or requested == _last_ms)):
            ms, suffix = _last_ms, _last_suffix + 1
            if suffix > _SUFFIX_MAX:
                ms, suffix = ms + 1, _random_start()
        elif requested > _last_ms:
            ms, suffix = requested, _random_start()
        else:
            return requested, _random_start()
        _last_requested, _last_ms, _last_suffix = requested, ms, suffix
    return ms, suffix


def new_instance_id(now: datetime | None = None) -> str:
    """A new id like ``20261121-215149-123a4f``: UTC date, time, milliseconds, then 3 hex digits."""
    requested = _epoch_ms(now if now is not None else datetime.now(timezone.utc))
    ms, suffix = _next_stamp(requested, clamp=now is None)
    moment = _EPOCH + timedelta(milliseconds=ms)
    return f"{moment:%Y%m%d-%H%M%S}-{ms % 1000:03d}{suffix:03x}"


def reserve_instance_id(instances_dir: Path, now: datetime | None = None) -> str:
    """Create ``instances_dir/<new id>`` (mode 0700) and return the id; mkdir makes it unique across processes."""
    for _ in range(100):
        instance_id = new_instance_id(now)
        try:
            os.mkdir(instances_dir / instance_id, 0o700)
        except FileExistsError:
            continue
        os.chmod(instances_dir / instance_id, 0o700)
        fsync_dir(instances_dir)
        return instance_id
    raise FileExistsError(f"{instances_dir}: could not find a free instance id")


def _check_prefix(prefix: str) -> None:
    """Raise InvalidInputError for a prefix that could escape the instances folder."""
    if len(prefix.encode("utf-8", "surrogateescape")) > 255:  # longer than any file name: no instance has it
        raise NotFoundError(f"no instance matches '{prefix[:40]}...' ({len(prefix)} characters: longer than any instance id)")
    if not prefix or "/" in prefix or "\\" in prefix or ".." in prefix or "\0" in prefix or prefix.startswith("."):
        raise InvalidInputError(
            f"invalid instance id {prefix!r}: expected an id or a prefix of one, like 20261121-2151"
        )


def resolve_instance_id(instances_dir: Path, prefix: str) -> str:
    """The id of the instance whose id is ``prefix`` or, failing that, the only one starting with it.

    Raises:
        InvalidInputError: the prefix is empty or holds ``/`` or ``..``, or several instances match.
        NotFoundError: no instance matches.
    """
    _check_prefix(prefix)
    if (instances_dir / prefix).is_dir():
        return prefix
    try:
        with os.scandir(instances_dir) as entries:
            matches = sorted(
                e.name for e in entries if e.name.startswith(prefix) and not e.name.startswith(".") and e.is_dir()
            )
    except FileNotFoundError:
        matches = []
    return pick_match(prefix, matches)


def pick_match(prefix: str, matches: list[str], count: int | None = None) -> str:
    """The one id among ``matches`` (sorted; ``count`` of them in all), else NotFoundError or InvalidInputError."""
    count = len(matches) if count is None else count
    if not matches:
        raise NotFoundError(f"no instance matches '{prefix}' (see 'workflow-cli list')")
    if count > 1:
        shown = ", ".join(matches[:_MAX_CANDIDATES]) + (", ..." if count > _MAX_CANDIDATES else "")
        raise InvalidInputError(
            f"'{prefix}' matches {count} instances: {shown} (give more characters of the id)"
        )
    return matches[0]
