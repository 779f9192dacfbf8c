"""How state is serialised: compact UTF-8 JSON, one encoder for every file the runner writes.

orjson (a dependency; compiled wheels for every common platform) encodes an event in about a
microsecond, five times faster than the standard library, and an event is written for every state
change. Where orjson refuses a value that JSON can still hold (an integer beyond 64 bits, a mapping
with non-string keys) or is not installed, the standard library encodes it, so the bytes on disk are
the same JSON either way. A non-finite float (NaN, Infinity) is stored as ``null``: JSON has no such
number, and a run must not die on a value a task computed. Reading stays with the standard library,
which keeps integers of any size exact.
"""

from __future__ import annotations

import json
from typing import Any, Callable

_std = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=True)


def _std_dumps(obj: Any) -> bytes:
    text = _std.encode(obj)
    if "NaN" in text or "Infinity" in text:  # rare: re-encode with the non-finite floats as null
        text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode(_finite(obj))
    return text.encode("utf-8")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def _make_dumps() -> Callable[[Any], bytes]:
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a dependency; the standard library still works
        return _std_dumps
    fast = orjson.dumps

    def dumps(obj: Any) -> bytes:
        try:
            return fast(obj)
        except TypeError:  # a >64-bit integer, a non-string key: valid JSON the standard library writes
            return _std_dumps(obj)

    return dumps


dumps: Callable[[Any], bytes] = _make_dumps()
"""``obj`` as compact UTF-8 JSON bytes (no trailing newline)."""


def dumps_lines(objs: list[Any]) -> bytes:
    """Several objects as JSON lines, each ending in a newline (one write for a batch of events)."""
    return b"".join([dumps(o) + b"\n" for o in objs])
