"""The web UI of ``serve`` (SPEC 19): server-rendered pages, small JavaScript modules, the same API for every action."""

from __future__ import annotations

from typing import Any


def install(app: Any) -> None:
    """Add the UI's routes (pages, login, static files) and its security headers to the API app."""
    from workflow_cli.server.ui import api, pages, session, static
    from workflow_cli.server.ui.headers import SecurityHeaders

    for module in (api, session, static, pages):
        app.include_router(module.router)
    app.add_middleware(SecurityHeaders)
