"""API tokens of a home (SPEC 18.2): only a SHA-256 of each token is stored, in ``tokens.json`` mode 0600."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

from workflow_cli.errors import StateError
from workflow_cli.store.atomic import read_json, write_json_atomic

TOKENS_FORMAT = 1
TOKENS_FILE = "tokens.json"


def tokens_path(home_root: Path) -> Path:
    """Where the token hashes of a home live."""
    return Path(home_root) / TOKENS_FILE


def token_hash(token: str) -> str:
    """The stored form of a token (tokens are 256 random bits: a plain hash is enough)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def read_tokens(home_root: Path) -> list[dict[str, Any]]:
    """Every token record (name, role, hash, created_at); [] when the file does not exist."""
    path = tokens_path(home_root)
    try:
        data = read_json(path, what="token file", way_out="remove it and create the tokens again")
    except FileNotFoundError:
        return []
    if not isinstance(data, dict) or data.get("format") != TOKENS_FORMAT or not isinstance(data.get("tokens"), list):
        raise StateError(f"{path}: unsupported token file; remove it and create the tokens again")
    return [t for t in data["tokens"] if isinstance(t, dict)]


def write_tokens(home_root: Path, tokens: list[dict[str, Any]]) -> None:
    """Replace the token file atomically, owner-only."""
    write_json_atomic(tokens_path(home_root), {"format": TOKENS_FORMAT, "tokens": tokens}, mode=0o600)


def find_token(tokens: list[dict[str, Any]], token: str) -> dict[str, Any] | None:
    """The record whose hash matches ``token`` (constant-time compare), or None."""
    wanted = token_hash(token)
    found = None
    for record in tokens:
        if hmac.compare_digest(str(record.get("hash", "")), wanted):
            found = record
    return found
