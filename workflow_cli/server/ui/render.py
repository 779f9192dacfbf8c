"""The jinja2 environment of the UI (autoescape on) and the HTML response of a page."""

from __future__ import annotations

import functools
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from workflow_cli.ops.query import STATUSES
from workflow_cli.server.auth import Identity

TERMINAL = ("completed", "failed", "cancelled")


@functools.lru_cache(maxsize=1)
def environment() -> Any:
    """One jinja2 environment over ``ui/templates`` (package data), HTML autoescaped."""
    import jinja2

    from workflow_cli.monitor.report_html import duration_text

    env = jinja2.Environment(loader=jinja2.PackageLoader("workflow_cli.server.ui", "templates"),
                             autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["duration"] = duration_text
    env.filters["when"] = _when
    env.filters["short"] = _short
    return env


def _when(value: Any) -> str:
    """``2026-12-05 14:03:26`` (UTC) from an ISO time or from epoch seconds (a gate's ``timeout_at``)."""
    import datetime

    if value is None or value == "":
        return "–"
    if isinstance(value, (int, float)):
        value = datetime.datetime.fromtimestamp(value, datetime.timezone.utc).isoformat()
    return str(value).replace("T", " ").rstrip("Z")[:19]


def _short(value: Any, limit: int = 200) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def page(request: Request, name: str, who: Identity | None, /, *, status: int = 200, **context: Any) -> HTMLResponse:
    """Render the template ``name`` with the common context (the identity, what it may do, the current path)."""
    html = environment().get_template(name).render(
        who=who, can_operate=bool(who and who.at_least("operator")), path=request.url.path,
        statuses=STATUSES, terminal=TERMINAL, **context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
