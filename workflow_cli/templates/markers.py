"""Cheap checks for template markup, without importing jinja2 (start-up and the scheduler's hot path use them)."""

from __future__ import annotations

from typing import Any, Mapping

BLOCK_MARKERS = ("{{", "{%")
ALL_MARKERS = ("{{", "{%", "{#")


def has_markup(value: Any, *, markers: tuple[str, ...] = BLOCK_MARKERS) -> bool:
    """Whether any string inside ``value`` (keys of mappings included) holds one of ``markers``."""
    if isinstance(value, str):
        return any(m in value for m in markers)
    if isinstance(value, Mapping):
        return any(has_markup(k, markers=markers) or has_markup(v, markers=markers) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(has_markup(v, markers=markers) for v in value)
    return False
