"""The one error mapping of the API: ``WorkflowError.exit_code`` -> HTTP status, as cli/failure.py maps it to an exit code."""

from __future__ import annotations

import os
import time
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from workflow_cli.errors import InvalidInputError, WorkflowError
from workflow_cli.server.auth import HttpError

STATUS_BY_EXIT = {2: 400, 4: 404, 5: 409}
CODE_BY_STATUS = {400: "invalid_input", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                  409: "conflict", 413: "too_large", 500: "internal"}


def error_response(status: int, message: str, code: str | None = None, **extra: Any) -> JSONResponse:
    """``{"error": {"message", "code", ...}}`` with ``status``."""
    return JSONResponse({"error": {"message": message, "code": code or CODE_BY_STATUS.get(status, "error"), **extra}}, status_code=status)


def workflow_error_response(exc: WorkflowError) -> JSONResponse:
    """A user-facing error with the CLI's message: 400, 404, 409 (500 for a damaged state file)."""
    status = STATUS_BY_EXIT.get(exc.exit_code, 500)
    extra: dict[str, Any] = {"exit_code": exc.exit_code}
    if isinstance(exc, InvalidInputError) and exc.issues:
        extra["issues"] = [i.to_json() for i in exc.issues]
    return error_response(status, str(exc), **extra)


def _log_unexpected(request: Request, exc: BaseException) -> str:
    """The traceback goes to ``<home>/logs/`` (never to the client); returns the file's path."""
    folder = request.app.state.ctx.home.logs
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"server-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    path.write_text("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    return str(path)


def _wants_page(request: Request) -> bool:
    """A browser's GET of an address outside the API: it gets the UI's HTML 404 page."""
    api = request.url.path.startswith(("/api/", "/hooks/", "/metrics", "/healthz", "/ui/static/"))
    return request.method == "GET" and not api and "text/html" in request.headers.get("accept", "")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(WorkflowError)
    async def _workflow(request: Request, exc: WorkflowError) -> JSONResponse:
        return workflow_error_response(exc)

    @app.exception_handler(HttpError)
    async def _http(request: Request, exc: HttpError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.code)

    @app.exception_handler(StarletteHTTPException)
    async def _starlette(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and _wants_page(request):
            from workflow_cli.server.ui.pages import not_found_page

            return not_found_page(request)
        message = "no such route" if exc.status_code == 404 else str(exc.detail)
        return error_response(exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body")) or "request"
        message = str(first.get("msg", "invalid value"))
        if first.get("type") == "int_parsing":  # ?limit=abc: said as the CLI says its own checks
            message = f"expected an integer, got {first.get('input')!r}"
        return workflow_error_response(InvalidInputError.at(where, message))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log = _log_unexpected(request, exc)
        request.app.state.ctx.log(f"unexpected {type(exc).__name__} on {request.method} {request.url.path}: {exc} (details in {log})")
        return error_response(500, f"unexpected {type(exc).__name__}; details in the server's log")
