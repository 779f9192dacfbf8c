"""``/healthz``, ``/api/v1/templates``, ``/api/v1/health``, ``/api/v1/queue``, ``/api/v1/openapi.json``, ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from workflow_cli.server.auth import Identity, viewer

router = APIRouter(tags=["service"])


@router.get("/healthz", response_class=PlainTextResponse, summary="Liveness (no token needed)")
def healthz() -> str:
    return "ok"


@router.get("/api/v1/templates", summary="Templates (as templates --json)")
def templates(request: Request, _: Identity = Depends(viewer)) -> Any:
    from workflow_cli.ops.templates import list_templates

    return list_templates(request.app.state.ctx.home)


@router.get("/api/v1/health", summary="Health scores and alerts (as health --json)")
def health(request: Request, _: Identity = Depends(viewer)) -> Any:
    from workflow_cli.monitor.health import health_report, write_files

    home = request.app.state.ctx.home
    report = health_report(home)
    write_files(home, report, history=False)
    return report


@router.get("/api/v1/queue", summary="Queued instances in start order (as queue --json)")
def queue(request: Request, _: Identity = Depends(viewer)) -> Any:
    from workflow_cli.ops.queue import list_queue

    return list_queue(request.app.state.ctx.home)


@router.get("/api/v1/openapi.json", include_in_schema=False)
def openapi(request: Request, _: Identity = Depends(viewer)) -> Any:
    return request.app.openapi()


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus text format")
def metrics(request: Request, _: Identity = Depends(viewer)) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
