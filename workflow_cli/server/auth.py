"""Bearer tokens and roles (SPEC 18.2): one dependency per role, applied to every route."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from fastapi import Request

from workflow_cli.ops.tokens import ROLE_RANK
from workflow_cli.store.events import acting_as
from workflow_cli.store.tokens import find_token, read_tokens, tokens_path


class HttpError(Exception):
    """An error the API answers with ``{"error": {"message", "code"}}`` and ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Identity:
    """Who made a request: the token's name and role."""

    name: str
    role: str
    via: str = "bearer"  # or "cookie": the web UI's session (SPEC 19)

    def at_least(self, role: str) -> bool:
        """Whether this identity's role includes ``role``."""
        return ROLE_RANK.get(self.role, -1) >= ROLE_RANK[role]


class TokenCache:
    """The home's token records, re-read when ``tokens.json`` changes (a revoke applies at once)."""

    def __init__(self, home_root: Path) -> None:
        self.home_root = home_root
        self._stamp: tuple[int, int] | None = None
        self._tokens: list[dict[str, Any]] = []

    def tokens(self) -> list[dict[str, Any]]:
        """The current token records."""
        try:
            st = tokens_path(self.home_root).stat()
            stamp = (st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            return []
        if stamp != self._stamp:
            self._tokens, self._stamp = read_tokens(self.home_root), stamp
        return self._tokens

    def identify(self, request: Request) -> Identity | None:
        """The identity of the request's bearer token (else the UI's session cookie), or None when it has none."""
        from workflow_cli.server.ui.session import COOKIE

        header = request.headers.get("authorization") or ""
        scheme, _, token = header.partition(" ")
        via = "bearer"
        if not header and request.cookies.get(COOKIE):
            token, scheme, via = request.cookies[COOKIE], "bearer", "cookie"
        if scheme.lower() != "bearer" or not token.strip():
            return None
        record = find_token(self.tokens(), token.strip())
        return Identity(str(record["name"]), str(record["role"]), via) if record else None


def require(role: str) -> Callable[[Request], Awaitable[Identity]]:
    """A dependency: the caller's identity, 401 without a valid token, 403 when its role is below ``role``."""

    async def dependency(request: Request) -> Identity:  # async: acting_as below holds for the whole request
        identity = request.app.state.tokens.identify(request)
        if identity is None:
            raise HttpError(401, "unauthorized", "a valid token is needed: 'Authorization: Bearer TOKEN' (workflow-cli token create)")
        if identity.via == "cookie":
            from workflow_cli.server.ui.session import check_cookie_request

            check_cookie_request(request)  # CSRF: same origin and a JSON body for anything that changes state
        if not identity.at_least(role):
            raise HttpError(403, "forbidden", f"token '{identity.name}' has role {identity.role}; this needs {role}")
        acting_as(identity.name)  # a token's name is its identity: the events and requests it causes name it
        return identity

    return dependency


viewer = require("viewer")
operator = require("operator")
