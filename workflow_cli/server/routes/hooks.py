"""``POST /hooks/{name}``: a webhook trigger (SPEC 18.3), signed as GitHub signs, or with an operator token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from workflow_cli.server.auth import HttpError
from workflow_cli.store.events import acting_as

router = APIRouter(tags=["triggers"])
# Headers a run sees as trigger.headers (never Authorization nor the signature).
KEPT_HEADERS = ("x-github-event", "x-github-delivery", "x-github-hook-id", "idempotency-key", "user-agent", "content-type")


@router.post("/hooks/{name}", status_code=201, summary="Start the run of a webhook trigger",
             openapi_extra={"requestBody": {"content": {"application/json": {"schema": {}}}}})
async def hook(request: Request, name: str) -> Any:
    from workflow_cli.ops.triggers import find_webhook, signature_ok
    from workflow_cli.server.body import raw_json

    ctx = request.app.state.ctx
    trigger = await run_in_threadpool(find_webhook, ctx.home, name)
    body, payload = await raw_json(request)
    identity = request.app.state.tokens.identify(request)
    signed = signature_ok(trigger, body, request.headers.get("x-hub-signature-256"))
    if not signed and not (identity and identity.at_least("operator")):
        if identity is not None:
            raise HttpError(403, "forbidden", f"token '{identity.name}' has role {identity.role}; a webhook needs operator")
        raise HttpError(401, "unauthorized", f"webhook '{name}': bad or missing X-Hub-Signature-256, and no operator token")
    acting_as(identity.name if identity and not signed else f"webhook:{name}")  # the audit trail's actor
    if request.headers.get("x-github-event") == "ping":  # GitHub's check when a webhook is added: no run
        return JSONResponse({"ping": "ok", "webhook": name}, status_code=200)
    headers = {k: v for k, v in request.headers.items() if k.lower() in KEPT_HEADERS}
    delivery = request.headers.get("x-github-delivery") or request.headers.get("idempotency-key")
    if trigger.emit is not None:  # this webhook broadcasts an event instead of starting a run
        event, new = await run_in_threadpool(_emit, ctx, trigger, payload, headers, delivery)
        return JSONResponse({**event, "new": new}, status_code=202 if new else 200)
    instance_id, new = await run_in_threadpool(_fire, ctx, trigger, payload, headers, delivery)
    status = (await run_in_threadpool(_status, ctx, instance_id))
    return JSONResponse({"id": instance_id, "status": status, "new": new}, status_code=201 if new else 200)


def _fire(ctx: Any, trigger: Any, payload: Any, headers: dict[str, str], delivery: str | None) -> tuple[str, bool]:
    from workflow_cli.clock import SystemClock
    from workflow_cli.ops.triggers import fire_webhook
    from workflow_cli.server.loop import via_queue

    with ctx.lock:  # a redelivery racing the first delivery waits and then finds its record
        instance_id, new = fire_webhook(ctx.home, trigger, payload, headers, delivery=delivery, now_iso=SystemClock().now_iso(),
                                        start=via_queue(ctx, f"webhook {trigger.name}"))
    if not new:
        ctx.log(f"webhook {trigger.name}: delivery {delivery} already started {instance_id}")
    return instance_id, new


def _emit(ctx: Any, trigger: Any, payload: Any, headers: dict[str, str], delivery: str | None) -> tuple[dict[str, Any], bool]:
    from workflow_cli.clock import SystemClock
    from workflow_cli.ops.triggers import emit_webhook
    from workflow_cli.server.routes.broadcast import emit_and_continue

    def emit(spec: Any, event_id: str) -> dict[str, Any]:
        return emit_and_continue(ctx, str(spec.get("name") or ""), key=spec.get("key"), template=spec.get("template"),
                                 data=spec.get("data"), event_id=event_id)

    with ctx.lock:  # a redelivery racing the first delivery waits and then finds its record
        event, new = emit_webhook(ctx.home, trigger, payload, headers, delivery=delivery, now_iso=SystemClock().now_iso(), emit=emit)
    ctx.log(f"webhook {trigger.name}: event {event.get('name')} reached {len(event.get('reached') or [])} instance(s)"
            + ("" if new else f" (delivery {delivery} again: not sent twice)"))
    return event, new


def _status(ctx: Any, instance_id: str) -> str:
    from workflow_cli.ops.query import get_status

    return str(get_status(ctx.home, instance_id)["status"])
