"""Build the ASGI app: routers per resource, one error mapping, auth as a dependency, the Host check."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from workflow_cli._version import __version__
from workflow_cli.server.auth import TokenCache
from workflow_cli.server.context import ServerContext


def build_app(ctx: ServerContext) -> Any:
    """The app of one ``serve`` process (UI routes are added beside the API routers)."""
    from workflow_cli.server import errors
    from workflow_cli.server.metrics import registry_for
    from workflow_cli.server.middleware import ServiceMiddleware
    from workflow_cli.server.routes import broadcast, events, hooks, instances, service

    app = FastAPI(title="workflow-cli", version=__version__, openapi_url=None, docs_url=None, redoc_url=None,
                  description="The HTTP API of workflow-cli serve (SPEC 18.2). Every route but /healthz needs 'Authorization: Bearer TOKEN'.")
    app.state.ctx = ctx
    app.state.tokens = TokenCache(ctx.home.root)
    app.state.metrics = registry_for(ctx.home)
    for module in (service, events, instances, hooks, broadcast):
        app.include_router(module.router)
    errors.install(app)
    from workflow_cli.server import ui

    ui.install(app)  # the web UI (SPEC 19): pages, login, static files, security headers
    return ServiceMiddleware(app, ctx)
