"""The pages of SPEC 19: Runs, a Run, Approvals, Templates, a Template, Health; the login page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from workflow_cli.errors import InvalidInputError, NotFoundError, WorkflowError
from workflow_cli.server.auth import Identity
from workflow_cli.server.ui.render import page
from workflow_cli.server.ui.session import safe_next, token_redirect

router = APIRouter(include_in_schema=False)


def login_page(request: Request, target: str, error: str = "") -> HTMLResponse:
    """The login form (401): a token field, labelled, posting to ``/login``."""
    return page(request, "login.html", None, status=401, title="Log in", next=safe_next(target), error=error)


def not_found_page(request: Request) -> HTMLResponse:
    """The UI's 404 page for an address that is no page (a browser asking for HTML gets no JSON)."""
    who = request.app.state.tokens.identify(request)
    return page(request, "error.html", who, status=404, title="Not found", message=f"There is no page at {request.url.path}.")


def _guard(request: Request) -> Identity | Response:
    """The caller's identity; or the redirect of ``?token=T``; or the login page."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if "token" in request.query_params:
        redirect = token_redirect(request)
        if redirect is not None:
            return redirect
        return login_page(request, here.split("?")[0], "That token is not valid (it may have been revoked).")
    who = request.app.state.tokens.identify(request)
    return who if who is not None else login_page(request, here)


def _show(request: Request, name: str, build: Any, title: str, /, **extra: Any) -> Response:
    """Guard, build the page's data (a user error becomes an error page with its status), render."""
    who = _guard(request)
    if isinstance(who, Response):
        return who
    try:
        data = build(request.app.state.ctx.home, who)
    except NotFoundError as exc:
        return page(request, "error.html", who, status=404, title="Not found", message=str(exc))
    except InvalidInputError as exc:
        return page(request, "error.html", who, status=400, title="Invalid", message=str(exc))
    except WorkflowError as exc:
        return page(request, "error.html", who, status=409, title="Error", message=str(exc))
    return page(request, name, who, title=title, **data, **extra)


@router.get("/")
def runs(request: Request, status: str = "", template: str = "") -> Response:
    """Runs: the instances, newest first, filtered by status and template."""
    from workflow_cli.server.ui.views import runs_view

    return _show(request, "runs.html", lambda home, who: runs_view(home, status, template), "Runs")


@router.get("/instances/{instance_id}")
def run(request: Request, instance_id: str, task: str = "") -> Response:
    """A run: its graph, timeline, tasks, variables, checkpoints, gates and the chosen task."""
    from workflow_cli.server.ui.views import run_view

    return _show(request, "run.html", lambda home, who: run_view(home, instance_id, who, task or None), f"Run {instance_id}")


@router.get("/approvals")
def approvals(request: Request) -> Response:
    """Approvals: the gates waiting for the logged-in identity."""
    from workflow_cli.server.ui.views import approvals_for

    return _show(request, "approvals.html", lambda home, who: {"gates": approvals_for(home, who)}, "Approvals")


@router.get("/templates")
def templates(request: Request) -> Response:
    """Templates: each with its description and parameters."""
    from workflow_cli.ops.templates import list_templates

    return _show(request, "templates.html", lambda home, who: {"templates": list_templates(home)}, "Templates")


@router.get("/templates/{name}")
def template(request: Request, name: str) -> Response:
    """A template: description, parameter table, graph, and the run form."""
    from workflow_cli.server.ui.views import template_view

    return _show(request, "template.html", lambda home, who: template_view(home, name), f"Template {name}")


@router.get("/health")
def health(request: Request) -> Response:
    """Health: the scores and alerts (as ``health``)."""
    from workflow_cli.monitor.health import health_report

    return _show(request, "health.html", lambda home, who: {"report": health_report(home)}, "Health")
