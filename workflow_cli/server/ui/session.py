"""Logging in to the UI (SPEC 19): ``?token=T`` or the login form set an HttpOnly, SameSite=Strict cookie.

The API accepts that cookie like a bearer token; a cookie-authenticated request that changes state
must come from this origin (``Sec-Fetch-Site``/``Origin``) with a JSON body, which a cross-site form
cannot send (CSRF).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from workflow_cli.server.auth import HttpError

COOKIE = "wfc_session"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_AGE = 30 * 24 * 3600
router = APIRouter(include_in_schema=False)


def _same_origin(request: Request) -> bool:
    """Whether the browser says the request comes from a page of this server."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if origin == "null":  # what a browser sends under a strict referrer policy: Sec-Fetch-Site decides
        origin = None
    if site is not None and site != "same-origin":
        return False
    if origin is not None:
        return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()
    return site == "same-origin"


def check_cookie_request(request: Request) -> None:
    """403 for a state-changing cookie request from another origin; 400 when its body is not declared JSON."""
    if request.method in SAFE_METHODS:
        return
    if not _same_origin(request):
        raise HttpError(403, "forbidden", "a request authenticated by the UI's cookie must come from the UI's own pages (Origin)")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise HttpError(400, "invalid_input", "body: a request authenticated by the UI's cookie must send Content-Type: application/json")


def safe_next(target: str | None) -> str:
    """A local address to go back to (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def with_cookie(response: Response, request: Request, token: str) -> Response:
    """``response`` setting the session cookie."""
    response.set_cookie(COOKIE, token, max_age=MAX_AGE, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


def known(request: Request, token: str) -> bool:
    """Whether ``token`` is a current token of the home."""
    from workflow_cli.store.tokens import find_token

    return bool(token) and find_token(request.app.state.tokens.tokens(), token) is not None


def token_redirect(request: Request) -> Response | None:
    """For ``?token=T``: set the cookie and redirect to the same address without it (None when T is not valid)."""
    token = request.query_params.get("token", "").strip()
    if not known(request, token):
        return None
    rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
    return with_cookie(RedirectResponse(target, status_code=303), request, token)


@router.post("/login")
async def login(request: Request) -> Response:
    """The login form: ``token`` and ``next`` (form-encoded); a wrong token shows the form again (401)."""
    from workflow_cli.server.ui.pages import login_page

    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0].strip()
    target = safe_next((form.get("next") or ["/"])[0])
    if request.headers.get("origin") and not _same_origin(request):
        raise HttpError(403, "forbidden", "log in from this server's own login page")
    if not known(request, token):
        return login_page(request, target, "That token is not valid (it may have been revoked).")
    return with_cookie(RedirectResponse(target, status_code=303), request, token)


@router.post("/logout")
def logout(request: Request) -> Response:
    """Forget the session cookie."""
    if not _same_origin(request):
        raise HttpError(403, "forbidden", "log out from this server's own pages")
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
