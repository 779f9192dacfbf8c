"""The ``http`` agent kind: POST the payload as JSON, the JSON response is the result (SPEC 6.3).

Header values are never logged (they usually hold tokens), nor is the URL's user info or query. Redirects
are not followed. Cloud metadata addresses are refused (after DNS resolution) unless the home's
``allow_metadata_hosts`` is true, and an agent defined by the workflow document itself may only reach the
hosts of ``allow_hosts`` when the home's configuration lists any.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import socket
import urllib.error
import urllib.request
from typing import Any, Mapping
from urllib.parse import urlsplit

from workflow_cli.actions.base import MAX_OUTPUT_BYTES, ActionContext, ActionResult, outputs_result
from workflow_cli.agents.registry import AgentSpec

DEFAULT_TIMEOUT = 300.0
_RESPONSE_LIMIT = 4 * MAX_OUTPUT_BYTES
_METADATA = {ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: an agent endpoint answers itself, and a redirect could lead anywhere."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        """No new request: the 3xx response becomes an HTTPError."""
        return None


def safe_url(url: str) -> str:
    """``scheme://host:port/path`` without user info, query or fragment, for logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _host_problem(agent: AgentSpec, host: str, config: Mapping[str, Any]) -> str | None:
    """Why ``host`` may not be reached, or None."""
    allowed = config.get("allow_hosts")
    if agent.source == "workflow" and allowed and not any(fnmatch.fnmatch(host.lower(), str(p).lower()) for p in allowed):
        return f"host '{host}' is not in allow_hosts of the home's config.yaml"
    if config.get("allow_metadata_hosts"):
        return None
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError as exc:
        return f"cannot resolve host '{host}': {exc.strerror or exc}"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address in _METADATA or (address.version == 4 and address.is_link_local):
            return f"host '{host}' resolves to the cloud metadata address {address} (set allow_metadata_hosts to allow it)"
    return None


def _post(agent: AgentSpec, request: urllib.request.Request, wait: float) -> tuple[int, bytes] | ActionResult:
    """(status, body) of the response, or the failed result when there is none worth reading."""
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        with opener.open(request, timeout=wait) as response:
            return response.status, response.read(_RESPONSE_LIMIT + 1)
    except urllib.error.HTTPError as exc:
        snippet = exc.read(300).decode("utf-8", "replace").strip() if exc.fp is not None else ""
        return ActionResult.failure(f"agent {agent.id} answered HTTP {exc.code}" + (f": {snippet}" if snippet else ""))
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):  # socket.timeout is TimeoutError
            return ActionResult.failure(f"agent {agent.id} did not answer within {wait:g} s", kind="timeout")
        return ActionResult.failure(f"agent {agent.id} cannot be reached at {safe_url(request.full_url)}: {reason}")


def run_http(agent: AgentSpec, payload: Mapping[str, Any], ctx: ActionContext, timeout: float | None) -> ActionResult:
    """POST the payload to the agent's URL; a 2xx JSON response is the result, anything else a failure."""
    from workflow_cli._version import __version__
    from workflow_cli.actions.command import stdout_json
    from workflow_cli.agents.kinds import payload_bytes

    url = agent.url or ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ActionResult.failure(f"agent {agent.id}: url must be an http(s) URL with a host")
    problem = _host_problem(agent, parts.hostname, ctx.config or {})
    if problem:
        return ActionResult.failure(f"agent {agent.id}: {problem}")
    headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": f"workflow-cli/{__version__}"}
    headers.update(agent.headers)
    ctx.log(f"POST {safe_url(url)} (headers: {', '.join(sorted(agent.headers)) or 'none'})")
    request = urllib.request.Request(url, data=payload_bytes(payload), headers=headers, method="POST")
    answer = _post(agent, request, timeout or DEFAULT_TIMEOUT)
    if isinstance(answer, ActionResult):
        return answer
    status, data = answer
    ctx.log(f"HTTP {status}, {len(data)} bytes")
    if not 200 <= status < 300:
        return ActionResult.failure(f"agent {agent.id} answered HTTP {status}")
    if len(data) > _RESPONSE_LIMIT:
        return ActionResult.failure(f"agent {agent.id} answered more than {_RESPONSE_LIMIT} bytes", kind="output")
    value = stdout_json(data)
    if value is None:
        return ActionResult.failure(f"agent {agent.id} answered non-JSON content {data[:80]!r}", kind="output")
    return outputs_result(value)
