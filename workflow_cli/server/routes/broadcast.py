"""``POST /api/v1/events/{name}``: broadcast an event to every instance waiting for it (SPEC 8 ``emit``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from workflow_cli.server.auth import Identity, operator
from workflow_cli.server.body import check_keys, field, json_object

router = APIRouter(prefix="/api/v1/events", tags=["events"])
FIELDS = ("key", "template", "data")
_BODY = {"requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
    "key": {"type": ["string", "number"]}, "template": {"type": "string"}, "data": {}}}}}}}


@router.post("/{name}", status_code=202, summary="Emit an event: every instance waiting for it (with the key) gets it once",
             openapi_extra=_BODY)
async def emit(request: Request, name: str, body: dict[str, Any] = Depends(json_object),
               who: Identity = Depends(operator)) -> Any:
    check_keys(body, FIELDS)
    key = field(body, "key", (str, int, float))
    template = field(body, "template", str)
    ctx = request.app.state.ctx
    result = await run_in_threadpool(emit_and_continue, ctx, name, key=key, template=template, data=body.get("data"))
    ctx.log(f"event {name}" + (f" key {result['key']}" if result["key"] is not None else "")
            + f" by {who.name}: {len(result['reached'])} instance(s)")
    return result


def emit_and_continue(ctx: Any, name: str, *, key: Any, template: str | None, data: Any,
                      event_id: str | None = None) -> dict[str, Any]:
    """Deliver the event (no run is driven in the request), then resume each reached instance in the background."""
    from workflow_cli.ops.events import emit_event
    from workflow_cli.server.routes.instances import _continue

    result = emit_event(ctx.home, name, key=key, template=template, data=data, continue_run=False, event_id=event_id)
    for row in result["reached"]:
        if not row["handed_to_runner"]:
            _continue(ctx, row["id"])
    return {"event": result["event"], "name": name, "key": result["key"], "template": template,
            "reached": [row["id"] for row in result["reached"]]}
