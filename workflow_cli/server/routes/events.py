"""``GET /api/v1/instances/{id}/events``: the stored events, or a live Server-Sent Events stream (SPEC 18.2)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from workflow_cli.errors import InvalidInputError
from workflow_cli.server.auth import Identity, viewer
from workflow_cli.store.instances import InstancePaths

router = APIRouter(prefix="/api/v1/instances", tags=["events"])
POLL_SECONDS = 0.2
KEEPALIVE_SECONDS = 15.0
TERMINAL = ("completed", "failed", "cancelled")


def _since(after: int | None, last_event_id: str | None) -> int:
    """The sequence number to stream after: ``Last-Event-ID`` (a reconnect) wins over ``after``."""
    if last_event_id:
        try:
            return int(last_event_id)
        except ValueError as exc:
            raise InvalidInputError.at("Last-Event-ID", f"expected an event sequence number, got {last_event_id!r}") from exc
    if after is not None and after < 0:
        raise InvalidInputError.at("after", "must be 0 or more")
    return after or 0


class EventTail:
    """New complete lines of an event log, read from where the last read stopped (no re-parse per poll).

    The instance's status is followed from the ``workflow.*`` events, as the state fold does, so a
    poll reads neither the snapshot nor the whole log. A log that shrank (a torn line repaired) is
    read again from the start; events already sent are skipped by their sequence number.
    """

    def __init__(self, paths: InstancePaths) -> None:
        self.path = paths.events
        self.offset = 0
        self.status = "created"

    def read(self, since: int) -> tuple[list[dict[str, Any]], bool]:
        """Events after ``since`` that reached the log, and whether the instance is now terminal."""
        from workflow_cli.store.state import status_after

        with open(self.path, "rb") as fh:
            if fh.seek(0, 2) < self.offset:
                self.offset = 0
            fh.seek(self.offset)
            data = fh.read()
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        out = []
        for line in complete.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a damaged line: status and audit report it; the stream goes on
            if not isinstance(event, dict) or not isinstance(event.get("seq"), int):
                continue  # valid JSON but not an event (a damaged log): skipped as above
            self.status = status_after(str(event.get("type")), self.status)
            if event.get("seq", 0) > since:
                out.append(event)
        return out, self.status in TERMINAL


def _message(event: dict[str, Any]) -> str:
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event['seq']}\nevent: {event['type']}\ndata: {data}\n\n"


async def _stream(request: Request, paths: InstancePaths, since: int) -> AsyncIterator[str]:
    """One message per event until the instance is terminal and every event was sent."""
    idle, tail = 0.0, EventTail(paths)
    yield "retry: 1000\n\n"
    while True:
        events, terminal = await run_in_threadpool(tail.read, since)
        for event in events:
            since = event["seq"]
            yield _message(event)
        if terminal:
            return
        if await request.is_disconnected():
            return
        idle = 0.0 if events else idle + POLL_SECONDS
        if idle >= KEEPALIVE_SECONDS:
            idle = 0.0
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_SECONDS)


@router.get("/{instance_id}/events", summary="Events as stored, or a live SSE stream with Accept: text/event-stream")
async def events(request: Request, instance_id: str, after: int | None = None, _: Identity = Depends(viewer)) -> Any:
    from workflow_cli.ops.query import instance_paths
    from workflow_cli.store.events import read_events

    home = request.app.state.ctx.home
    since = _since(after, request.headers.get("last-event-id"))
    paths = await run_in_threadpool(instance_paths, home, instance_id)
    if "text/event-stream" in request.headers.get("accept", ""):
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(_stream(request, paths, since), media_type="text/event-stream", headers=headers)
    return await run_in_threadpool(read_events, paths.events, since_seq=since)
