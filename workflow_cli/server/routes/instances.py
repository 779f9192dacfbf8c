"""``/api/v1/instances``: list, create, status, graph, logs, and the verbs that change a run (SPEC 18.2)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from workflow_cli.errors import InvalidInputError, NotFoundError
from workflow_cli.server.auth import Identity, operator, viewer
from workflow_cli.server.body import check_keys, field, json_object

router = APIRouter(prefix="/api/v1/instances", tags=["instances"])
CREATE_FIELDS = ("template", "document", "params", "name", "start", "queue")
VERBS = {"start": (), "stop": ("force",), "resume": (), "cancel": (), "retry": ("tasks", "downstream"), "rollback": ("checkpoint", "resume")}
_BODY = {"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}}


def _ctx(request: Request) -> Any:
    return request.app.state.ctx


@router.get("", summary="Instances, newest first (as list --json)")
def list_instances(request: Request, status: str | None = None, template: str | None = None, limit: int | None = None,
                   offset: int = 0, _: Identity = Depends(viewer)) -> Any:
    from workflow_cli.ops.query import list_instances as op

    if offset < 0:
        raise InvalidInputError.at("offset", "must be 0 or more")
    rows = op(_ctx(request).home, status=status or None, template=template or None,
              limit=None if limit is None else offset + limit if limit >= 0 else limit, problems=[])
    return rows[offset:]


@router.post("", status_code=201, summary="Create an instance (and start or queue it)", openapi_extra=_BODY)
def create(request: Request, body: dict[str, Any] = Depends(json_object), who: Identity = Depends(operator)) -> Any:
    from workflow_cli.ops.create import create_instance
    from workflow_cli.ops.query import get_status

    ctx = _ctx(request)
    check_keys(body, CREATE_FIELDS)
    template, document = field(body, "template", str), field(body, "document", dict)
    if (template is None) == (document is None):
        raise InvalidInputError.at("template", "give exactly one of 'template' (a name) or 'document' (an object)")
    params, start, queue = field(body, "params", dict, {}), field(body, "start", bool, True), field(body, "queue", bool, False)
    created = create_instance(ctx.home, template or "api", overrides=params, name=field(body, "name", str), document=document)
    ctx.log(f"instance {created.id} created by {who.name}")
    if queue:
        _enqueue(ctx, created.id)
    elif start:
        ctx.start_run(created.id, f"asked by {who.name}")
    return {**created.to_json(), "status": get_status(ctx.home, created.id)["status"]}


def _enqueue(ctx: Any, instance_id: str) -> None:
    from workflow_cli.ops.queue import dispatch, enqueue

    enqueue(ctx.home, instance_id)
    ctx.log(f"run {instance_id} queued")
    dispatch(ctx.home, ctx.starter("from the queue"))


@router.get("/{instance_id}", summary="One instance (as status --json)")
def status(request: Request, instance_id: str, _: Identity = Depends(viewer)) -> Any:
    from workflow_cli.ops.query import get_status

    return get_status(_ctx(request).home, instance_id)


@router.get("/{instance_id}/graph", summary="The DAG with each node's status (as graph --format json)")
def graph(request: Request, instance_id: str, _: Identity = Depends(viewer)) -> Any:
    from workflow_cli.ops.graphing import render_graph
    from workflow_cli.ops.query import instance_paths

    home = _ctx(request).home
    return render_graph(home, instance_paths(home, instance_id).id, "json")


@router.get("/{instance_id}/logs/{task}", response_class=PlainTextResponse, summary="A task's log (text/plain)")
def logs(request: Request, instance_id: str, task: str, tail: int | None = None, _: Identity = Depends(viewer)) -> PlainTextResponse:
    from workflow_cli.ops.logs import log_files, read_lines

    if tail is not None and tail < 0:
        raise InvalidInputError.at("tail", "must be 0 or more")
    _paths, files = log_files(_ctx(request).home, instance_id, task)
    lines: list[str] = []
    for label, path in files:
        if len(files) > 1:
            lines.append(f"==> {label} <==")
        lines += read_lines(path, tail)
    return PlainTextResponse("\n".join(lines) + ("\n" if lines else ""))


@router.post("/{instance_id}/tasks/{task}/{decision}", status_code=202, summary="Approve or reject a gate as the token's identity",
             openapi_extra=_BODY)
def decide(request: Request, instance_id: str, task: str, decision: str, body: dict[str, Any] = Depends(json_object),
           who: Identity = Depends(viewer)) -> Any:
    from workflow_cli.ops.decide import decide as op
    from workflow_cli.server.approvals import check_approver

    if decision not in ("approve", "reject"):
        raise NotFoundError(f"unknown decision '{decision}': approve or reject")
    check_keys(body, ("comment", "data"))
    ctx = _ctx(request)
    check_approver(ctx.home, instance_id, task, who)
    data = body.get("data")
    result = op(ctx.home, instance_id, task, decision, by=who.name, comment=field(body, "comment", str),
                data=None if data is None else json.dumps(data), continue_run=False)
    ctx.log(f"{decision} of {result['id']}.{task} by {who.name}")
    return _continue(ctx, result["id"])


@router.post("/{instance_id}/signals/{name}", status_code=202, summary="Deliver a signal (the body is its JSON payload)",
             openapi_extra=_BODY)
async def signal(request: Request, instance_id: str, name: str, who: Identity = Depends(operator)) -> Any:
    from starlette.concurrency import run_in_threadpool

    from workflow_cli.ops.decide import send_signal
    from workflow_cli.server.body import json_value

    payload = await json_value(request)
    ctx = _ctx(request)
    result = await run_in_threadpool(send_signal, ctx.home, instance_id, name,
                                     data=None if payload is None else json.dumps(payload), continue_run=False)
    ctx.log(f"signal {name} to {result['id']} by {who.name}")
    return await run_in_threadpool(_continue, ctx, result["id"])


def _continue(ctx: Any, instance_id: str) -> dict[str, Any]:
    """After a decision or signal was applied with no runner alive: resume it in the background."""
    from workflow_cli.errors import ConflictError
    from workflow_cli.ops.query import get_status
    from workflow_cli.ops.run import resume

    doc = get_status(ctx.home, instance_id)
    if doc["status"] in ("running", "waiting") and not doc["runner_alive"]:
        try:
            resume(ctx.home, instance_id, detach_run=True)
            ctx.log(f"run {instance_id} resumed")
        except ConflictError:
            pass  # a runner took it meanwhile
    return get_status(ctx.home, instance_id)


@router.post("/{instance_id}/{verb}", status_code=202, summary="start, stop, resume, cancel, retry or rollback", openapi_extra=_BODY)
def verb(request: Request, instance_id: str, verb: str, body: dict[str, Any] = Depends(json_object),
         who: Identity = Depends(operator)) -> Any:
    from workflow_cli.ops.query import get_status

    if verb not in VERBS:
        raise NotFoundError(f"unknown action '{verb}' (one of: {', '.join(VERBS)})")
    check_keys(body, VERBS[verb])
    ctx = _ctx(request)
    target = _apply_verb(ctx, instance_id, verb, body)
    ctx.log(f"{verb} of {target} by {who.name}")
    return get_status(ctx.home, target)


def _apply_verb(ctx: Any, instance_id: str, verb: str, body: dict[str, Any]) -> str:
    """Call the one ops function of ``verb``; runs continue in background runners. Returns the full id."""
    from workflow_cli.ops import control, run
    from workflow_cli.ops.query import instance_paths

    home, iid = ctx.home, instance_paths(ctx.home, instance_id).id
    if verb == "start":
        ctx.start_run(iid, "asked")
    elif verb == "resume":
        run.resume(home, iid, detach_run=True)
    elif verb == "stop":
        control.stop(home, iid, force=bool(field(body, "force", bool, False)))
    elif verb == "cancel":
        control.cancel(home, iid)
    elif verb == "retry":
        tasks = field(body, "tasks", list, [])
        if not all(isinstance(t, str) for t in tasks):
            raise InvalidInputError.at("tasks", "expected an array of task ids")
        run.retry(home, iid, tasks=tasks, downstream=bool(field(body, "downstream", bool, False)), detach_run=True)
    elif verb == "rollback":
        control.rollback(home, iid, checkpoint=field(body, "checkpoint", str))
        if field(body, "resume", bool, False):
            run.resume(home, iid, detach_run=True)
    return iid
