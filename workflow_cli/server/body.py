"""Request bodies: JSON only (state-changing requests), parsed as the CLI parses ``--data``."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from workflow_cli.errors import InvalidInputError, did_you_mean

MAX_BODY_BYTES = 1 << 20


async def raw_json(request: Request) -> tuple[bytes, Any]:
    """The body bytes and their JSON value (None for an empty body); 400 for anything that is not JSON."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:  # refused before it is read into memory
        raise InvalidInputError.at("body", f"the request body is over {MAX_BODY_BYTES} bytes")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise InvalidInputError.at("body", f"the request body is over {MAX_BODY_BYTES} bytes")
    if not body.strip():
        return body, None
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise InvalidInputError.at("body", f"request bodies must be JSON (Content-Type: application/json), not '{ctype or 'none'}'")
    from workflow_cli.model.loader import parse_text

    try:
        return body, parse_text(body.decode("utf-8"), fmt="json")
    except UnicodeDecodeError as exc:
        raise InvalidInputError.at("body", "the request body is not valid UTF-8") from exc


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object ({} when empty)."""
    _, value = await raw_json(request)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInputError.at("body", f"expected a JSON object, got {type(value).__name__}")
    return value


async def json_value(request: Request) -> Any:
    """The body as any JSON value (None when empty)."""
    return (await raw_json(request))[1]


def check_keys(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """400 naming an unknown field of the body, with a "did you mean" hint."""
    for key in body:
        if key not in allowed:
            raise InvalidInputError.at(key, f"unknown field '{key}'", did_you_mean(key, allowed) or f"allowed: {', '.join(allowed)}")


def field(body: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    """``body[key]`` checked against ``kind`` (400 naming the field otherwise)."""
    value = body.get(key, default)
    if value is None or value is default:
        return value
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,))):
        names = "/".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise InvalidInputError.at(key, f"expected {names.replace('dict', 'object').replace('str', 'string').replace('list', 'array')}")
    return value
