"""``token create|list|revoke``: who may use the HTTP API of ``serve``, and with which role (SPEC 18.2)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from workflow_cli.errors import ConflictError, InvalidInputError, NotFoundError, did_you_mean
from workflow_cli.store.home import Home
from workflow_cli.store.locks import home_lock
from workflow_cli.store.tokens import read_tokens, token_hash, write_tokens

ROLES = ("viewer", "operator", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def check_role(role: str) -> str:
    """``role`` if it is one of viewer, operator, admin."""
    if role not in ROLES:
        raise InvalidInputError.at("--role", f"unknown role '{role}'", did_you_mean(role, ROLES) or f"one of: {', '.join(ROLES)}")
    return role


def create_token(home: Home, name: str, role: str, *, clock: Any = None) -> dict[str, Any]:
    """A new token for ``name``: returned once (``token``), stored only as a hash."""
    from workflow_cli.clock import SystemClock

    if not _NAME.match(name or ""):
        raise InvalidInputError.at("NAME", f"invalid token name {name!r}: letters, digits, '_', '.', '@' and '-', at most 64")
    check_role(role)
    home.ensure()
    token = "wfc_" + secrets.token_urlsafe(32)
    with home_lock(home.root):
        tokens = read_tokens(home.root)
        if any(t.get("name") == name for t in tokens):
            raise ConflictError(f"a token named '{name}' exists; revoke it first ('workflow-cli token revoke {name}')")
        record = {"name": name, "role": role, "hash": token_hash(token), "created_at": (clock or SystemClock()).now_iso()}
        write_tokens(home.root, [*tokens, record])
    return {"name": name, "role": role, "created_at": record["created_at"], "token": token}


def list_tokens(home: Home) -> list[dict[str, Any]]:
    """The tokens (name, role, created_at), never their hashes."""
    return [{"name": t.get("name"), "role": t.get("role"), "created_at": t.get("created_at")} for t in read_tokens(home.root)]


def revoke_token(home: Home, name: str) -> dict[str, Any]:
    """Remove the token ``name``; a request with it is refused from then on."""
    with home_lock(home.root):
        tokens = read_tokens(home.root)
        kept = [t for t in tokens if t.get("name") != name]
        if len(kept) == len(tokens):
            names = [str(t.get("name")) for t in tokens]
            raise NotFoundError(f"no token named '{name}' in {home.root} ({did_you_mean(name, names) or 'see workflow-cli token list'})")
        write_tokens(home.root, kept)
    return {"name": name, "revoked": True}
