"""The ``api_call`` action: one HTTP request, with the host policy on every hop (SPEC 6.4, 6.5, 14).

Parameters: ``method`` (default GET), ``url`` (http or https), ``headers``, ``query`` (merged into the
URL), ``json`` (sent as JSON) or ``body`` (text; a non-string is sent as JSON), ``timeout_seconds``
(default 30, for the whole call including redirects), ``expected_status`` (an int or a list; default
any 2xx) and ``retry_on_status`` (default 429, 502, 503, 504). Outputs: ``{status, headers, json}``
when the response is JSON, else ``{status, headers, text}``; header names are lower-case.

Failure kinds. The task's retry policy retries only kinds ``error`` and ``timeout``, so the kind
carries the retry decision:

- a status other than ``expected_status`` that IS in ``retry_on_status``: kind ``error`` (retried);
- a status other than ``expected_status`` that is NOT in ``retry_on_status``: kind ``http_status``
  (never retried);
- a connection error (refused, reset, DNS failure, TLS failure): kind ``error`` (retried);
- no answer within ``timeout_seconds`` (or the task's timeout): kind ``timeout`` (retried);
- a URL the policy refuses (scheme, ``allow_hosts``, metadata address, also on a redirect), or more
  than 10 redirects: kind ``refused`` (never retried); a response over 1 MiB: kind ``output``.

Redirects are followed by hand (at most 10), each ``Location`` checked like the first URL, and
credentials are dropped when a redirect changes scheme, host or port. The request dials the very
addresses the policy checked. Secret headers (see :func:`workflow_cli.actions._net.is_secret_header`)
are shown as ``***`` in the log and in the outputs, and their values are scrubbed from messages.
Proxy variables of the environment are not used: the address dialled is the address checked.
"""

from __future__ import annotations

import base64
import codecs
import functools
import http.client
import json
import time
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any, Callable
from urllib.parse import unquote, urlencode, urljoin, urlsplit, urlunsplit

from workflow_cli._version import __version__
from workflow_cli.actions import _net as net
from workflow_cli.actions.base import MAX_OUTPUT_BYTES, ActionContext, ActionResult, outputs_result, unknown_key_issues
from workflow_cli.errors import Issue

ALLOWED = ("method", "url", "headers", "query", "json", "body", "timeout_seconds", "expected_status", "retry_on_status")
DEFAULT_RETRY_ON_STATUS = (429, 502, 503, 504)
DEFAULT_TIMEOUT = 30.0
MAX_REDIRECTS = 10


class _CallError(Exception):
    """A call that cannot go on; ``kind`` is the failure kind of the attempt."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class _Response:
    """The final response, its body capped at one byte over the outputs limit."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    charset: str
    is_json: bool


def _status_codes(value: Any, name: str, default: tuple[int, ...] | None) -> frozenset[int] | None:
    if value is None or value == "":
        return frozenset(default) if default is not None else None
    items = value if isinstance(value, (list, tuple)) else [value]
    try:
        if any(isinstance(item, (bool, float)) for item in items):
            raise TypeError(name)
        codes = frozenset(int(item) for item in items)
    except (TypeError, ValueError) as exc:
        raise _CallError(f"parameter '{name}' must be a status code or a list of them") from exc
    if not all(100 <= code <= 599 for code in codes):
        raise _CallError(f"parameter '{name}' must hold HTTP status codes (100-599)")
    return codes


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _CallError("parameter 'headers' must be a mapping of header names to values")
    headers = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items() if v is not None}
    if any(ch in item for k, v in headers.items() for item in (k, v) for ch in "\r\n\x00"):
        raise _CallError("a header name or value contains a line break")
    return headers


def _has(headers: Mapping[str, str], name: str) -> bool:
    return any(key.lower() == name for key in headers)


def _url(params: Mapping[str, Any], headers: dict[str, str]) -> str:
    """The URL with ``query`` merged in; user:password moves into a Basic Authorization header."""
    url = params.get("url")
    if not isinstance(url, str) or not url.strip():
        raise _CallError("parameter 'url' must be a non-empty string")
    parts = urlsplit(url.strip())
    query = params.get("query")
    if query:
        if not isinstance(query, Mapping):
            raise _CallError("parameter 'query' must be a mapping")
        pairs = [(str(k), _query_value(v)) for k, v in query.items() if v is not None]
        extra = urlencode(pairs, doseq=True)
        parts = parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra)
    if "@" in parts.netloc:
        userinfo, _, hostport = parts.netloc.rpartition("@")
        if not _has(headers, "authorization"):
            user, _, password = userinfo.partition(":")
            token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        parts = parts._replace(netloc=hostport)
    return urlunsplit(parts)


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return [_query_value(item) for item in value]
    return value if isinstance(value, (str, int, float)) else json.dumps(value)


def _build(params: Mapping[str, Any]) -> net.Request:
    method = str(params.get("method") or "GET").strip().upper()
    if not method.isalpha():
        raise _CallError(f"invalid HTTP method '{method}'")
    headers = _headers(params.get("headers"))
    url = _url(params, headers)
    if params.get("json") is not None and params.get("body") is not None:
        raise _CallError("give either 'json' or 'body', not both")
    payload, body = params.get("json"), params.get("body")
    data: bytes | None = None
    try:
        if payload is not None or (body is not None and not isinstance(body, (str, bytes))):
            data = json.dumps(payload if payload is not None else body, allow_nan=False).encode("utf-8")
            if not _has(headers, "content-type"):
                headers["Content-Type"] = "application/json"
        elif body is not None:
            data = body.encode("utf-8") if isinstance(body, str) else body
    except (TypeError, ValueError) as exc:
        raise _CallError(f"the request body is not JSON-serialisable: {exc}") from exc
    if not _has(headers, "user-agent"):
        headers["User-Agent"] = f"workflow-cli/{__version__}"
    return net.Request(method, url, headers, data)


def _exchange(ctx: ActionContext, req: net.Request, follow: Callable[[int], bool], deadline: float) -> _Response:
    """Send ``req``, following redirects by hand; every hop is checked before it is dialled."""
    for _hop in range(MAX_REDIRECTS + 1):
        if ctx.cancel.is_set():
            raise _CallError("cancelled before the request", "cancelled")
        try:
            target = net.check_url(req.url, ctx.config)
        except net.HostRefusedError as exc:
            raise _CallError(f"refused {net.redact_url(req.url)}: {exc}", "refused") from exc
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no time left for the request")
        ctx.log(f"-> {req.method} {net.redact_url(req.url)}")
        ctx.log(f"   headers: {json.dumps(net.redact_headers(req.headers), ensure_ascii=False)}")
        conn = net.connection(target, remaining)
        try:
            path = urlunsplit(("", "", target.url.path or "/", target.url.query, ""))
            conn.request(req.method, path, body=req.body, headers=req.headers)
            resp = conn.getresponse()
            ctx.log(f"<- {resp.status} {resp.reason}")
            location = resp.getheader("Location")
            if resp.status in net.REDIRECT_STATUSES and location and follow(resp.status):
                nxt = urljoin(req.url, location.strip())
                req = net.redirected(req, resp.status, nxt, same_origin=net.origin_of(nxt) == target.origin)
                continue
            headers: dict[str, str] = {}
            for name, value in resp.getheaders():
                key = name.lower()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            return _Response(
                resp.status, resp.reason, headers, resp.read(MAX_OUTPUT_BYTES + 1),
                _charset(resp), net.is_json_type(headers.get("content-type", "")),
            )
        finally:
            conn.close()
    raise _CallError(f"more than {MAX_REDIRECTS} redirects, last to {net.redact_url(req.url)}", "refused")


def _charset(resp: http.client.HTTPResponse) -> str:
    try:
        return codecs.lookup(resp.headers.get_content_charset() or "utf-8").name
    except LookupError:
        return "utf-8"


def _outputs(resp: _Response) -> dict[str, Any]:
    outputs: dict[str, Any] = {"status": resp.status, "headers": net.redact_headers(resp.headers)}
    text = resp.body.decode(resp.charset, errors="replace")
    if resp.is_json and text.strip():
        from workflow_cli.errors import InvalidInputError
        from workflow_cli.model.loader import parse_text

        try:
            outputs["json"] = parse_text(text, fmt="json")
            return outputs
        except InvalidInputError:
            pass
    outputs["text"] = text
    return outputs


class ApiCallAction:
    """One HTTP(S) request under the home's host policy."""

    name = "api_call"
    shell_fields: tuple[str, ...] = ()
    inline = False

    def run(self, ctx: ActionContext) -> ActionResult:
        """Make the call; see the module docstring for parameters, outputs and failure kinds."""
        params = ctx.parameters
        try:
            req = _build(params)
            expected = _status_codes(params.get("expected_status"), "expected_status", None)
            retry_on = _status_codes(params.get("retry_on_status"), "retry_on_status", DEFAULT_RETRY_ON_STATUS) or frozenset()
            timeout = float(params.get("timeout_seconds") or DEFAULT_TIMEOUT)
        except (_CallError, TypeError, ValueError) as exc:
            return ActionResult.failure(str(exc), kind="error")
        if timeout <= 0:
            return ActionResult.failure("parameter 'timeout_seconds' must be positive", kind="error")
        if ctx.timeout:
            timeout = min(timeout, ctx.timeout)
        secrets = [v for k, v in req.headers.items() if net.is_secret_header(k) and len(v) >= 4]

        def scrub(text: str) -> str:
            return functools.reduce(lambda t, v: t.replace(v, net.REDACTED), secrets, text)

        follow = (lambda status: True) if expected is None else (lambda status: status not in expected)
        shown = f"{req.method} {net.redact_url(req.url)}"
        try:
            resp = _exchange(ctx, req, follow, time.monotonic() + timeout)
        except _CallError as exc:
            return ActionResult.failure(scrub(str(exc)), kind=exc.kind)
        except TimeoutError:
            return ActionResult.failure(f"{shown}: no answer within {timeout:g} s", kind="timeout")
        except (OSError, http.client.HTTPException) as exc:
            return ActionResult.failure(scrub(f"{shown}: connection failed: {exc or type(exc).__name__}"), kind="error")
        return _result(resp, shown, expected, retry_on, scrub)

    def validate(self, parameters: Mapping[str, Any], path: str) -> list[Issue]:
        """Static checks: known keys, a URL, one body at most, well-typed status lists and timeout."""
        issues = unknown_key_issues(parameters, ALLOWED, path)
        url = parameters.get("url")
        if url in (None, ""):
            issues.append(Issue(f"{path}.url", "missing required field 'url'"))
        elif isinstance(url, str) and "{{" not in url and urlsplit(url).scheme.lower() not in ("http", "https"):
            issues.append(Issue(f"{path}.url", "must be an http:// or https:// URL"))
        if parameters.get("json") is not None and parameters.get("body") is not None:
            issues.append(Issue(f"{path}.body", "give either 'json' or 'body', not both"))
        for key in ("headers", "query"):
            value = parameters.get(key)
            if value is not None and not isinstance(value, (Mapping, str)):
                issues.append(Issue(f"{path}.{key}", "must be a mapping"))
        for key in ("expected_status", "retry_on_status"):
            value = parameters.get(key)
            if isinstance(value, str) and "{{" in value:
                continue
            try:
                _status_codes(value, key, ())
            except _CallError as exc:
                issues.append(Issue(f"{path}.{key}", str(exc)))
        timeout = parameters.get("timeout_seconds")
        if timeout is not None and not (isinstance(timeout, str) and "{{" in timeout):
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
                issues.append(Issue(f"{path}.timeout_seconds", "must be a positive number of seconds"))
        return issues


def _result(
    resp: _Response, shown: str, expected: frozenset[int] | None, retry_on: frozenset[int], scrub: Callable[[str], str]
) -> ActionResult:
    """Success when the status is expected, else a failure whose kind decides whether it is retried."""
    ok = 200 <= resp.status < 300 if expected is None else resp.status in expected
    if not ok:
        wanted = "2xx" if expected is None else ", ".join(str(c) for c in sorted(expected))
        preview = resp.body[:300].decode(resp.charset, errors="replace").strip()
        message = f"{shown} returned HTTP {resp.status} {resp.reason} (expected {wanted})"
        kind = "error" if resp.status in retry_on else "http_status"
        outputs = _outputs(resp) if len(resp.body) <= MAX_OUTPUT_BYTES else None
        return ActionResult.failure(scrub(f"{message}: {preview}" if preview else message), kind=kind, outputs=outputs)
    if len(resp.body) > MAX_OUTPUT_BYTES:
        return ActionResult.failure(f"{shown}: the response body is larger than 1 MiB", kind="output")
    return outputs_result(_outputs(resp))
