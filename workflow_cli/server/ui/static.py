"""``GET /ui/static/{name}``: the UI's CSS and JavaScript modules, shipped as package data (no CDN, no build step)."""

from __future__ import annotations

import re
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response

from workflow_cli.errors import NotFoundError

router = APIRouter(include_in_schema=False)
TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8", "svg": "image/svg+xml", "png": "image/png"}
NAME = re.compile(r"^[a-z0-9_-]+\.(js|css|svg|png)$")


@router.get("/ui/static/{name}")
def static_file(name: str) -> Response:
    """One file of ``ui/static`` by its plain name (no folders, so no path escapes)."""
    match = NAME.match(name)
    resource = files("workflow_cli.server.ui").joinpath("static").joinpath(name)
    if not match or not resource.is_file():
        raise NotFoundError(f"no static file '{name}'")
    return Response(resource.read_bytes(), media_type=TYPES[match.group(1)], headers={"Cache-Control": "no-cache"})
