"""Plain ASGI middleware: the Host check (DNS rebinding) and one log line per request."""

from __future__ import annotations

import json
import time
from typing import Any, Awaitable, Callable

from workflow_cli.server.context import ServerContext

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def allowed_hosts(ctx: ServerContext) -> frozenset[str]:
    """Host names a request may name: the bound host, localhost and its addresses, ``server.hosts``."""
    names = {ctx.host, "localhost", "127.0.0.1", "::1", "[::1]", *ctx.hosts}
    return frozenset(n.lower() for n in names if n and n not in ("0.0.0.0", "::"))


def _host_name(value: str) -> str:
    """``example.org`` from ``example.org:8787``, ``[::1]`` from ``[::1]:8787``."""
    if value.startswith("["):
        return value.partition("]")[0] + "]"
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class ServiceMiddleware:
    """Refuse a foreign ``Host`` with 400, then log ``METHOD path status ms`` once per request."""

    def __init__(self, app: Callable[..., Awaitable[None]], ctx: ServerContext) -> None:
        self.app, self.ctx = app, ctx
        self.hosts = allowed_hosts(ctx)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = {"code": 500}

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = _host_name(headers.get("host", "")).lower()
        try:
            if host not in self.hosts:
                await _refuse(sending, f"host '{host}' is not served here (add it to server.hosts in config.yaml)")
            else:
                await self.app(scope, receive, sending)
        except Exception:
            # Starlette re-raises an unexpected error after its handler answered 500 and wrote the
            # details to <home>/logs/; without this uvicorn would print the traceback on stderr too.
            if status["code"] != 500:
                raise
        finally:
            ms = (time.monotonic() - started) * 1000
            self.ctx.log(f"{scope['method']} {scope['path']} {status['code']} {ms:.1f}ms")


async def _refuse(send: Send, message: str) -> None:
    body = json.dumps({"error": {"message": message, "code": "bad_host"}}).encode("utf-8")
    await send({"type": "http.response.start", "status": 400, "headers": [(b"content-type", b"application/json"),
                                                                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
