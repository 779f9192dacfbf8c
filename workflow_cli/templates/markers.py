"""Cheap checks for template markup, without importing jinja2 (start-up and the scheduler's hot path use them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BLOCK_MARKERS = ("{{", "{%")
ALL_MARKERS = ("{{", "{%", "{#")


def has_markup(value: Any, *, markers: tuple[str, ...] = BLOCK_MARKERS) -> bool:
    """Whether any string inside ``value`` (keys of mappings included) holds one of ``markers``."""
    kind = type(value)
    if kind is str or isinstance(value, str):
        if "{" not in value:  # the common case, one scan
            return False
        for marker in markers:
            if marker in value:
                return True
        return False
    if kind is dict or isinstance(value, Mapping):
        for key, item in value.items():
            if has_markup(key, markers=markers) or has_markup(item, markers=markers):
                return True
        return False
    if kind is list or kind is tuple or isinstance(value, (list, tuple)):
        for item in value:
            if has_markup(item, markers=markers):
                return True
    return False
