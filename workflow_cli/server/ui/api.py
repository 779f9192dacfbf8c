"""``GET /api/v1/approvals``: the gates the caller's token may decide, across all instances (the Approvals page's data)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from workflow_cli.server.auth import Identity, viewer

router = APIRouter(prefix="/api/v1", tags=["approvals"])


@router.get("/approvals", summary="Gates waiting for the token's identity (its name among the approvers)")
def approvals(request: Request, who: Annotated[Identity, Depends(viewer)]) -> Any:
    """Each waiting gate this token may approve or reject, with ``instance``, ``task`` and the gate's fields."""
    from workflow_cli.server.ui.views import approvals_json

    return approvals_json(request.app.state.ctx.home, who)
