"""The ``http`` agent kind: POST the payload as JSON, the JSON response is the result (SPEC 6.3).

Header values are never logged (they usually hold tokens), nor is the URL's user info or query. Redirects
are not followed. The request goes through the one network policy of ``api_call`` and hooks
(:mod:`workflow_cli.actions._net`): the host is resolved once, every address is checked (cloud metadata
and link-local addresses are refused unless the home's ``allow_metadata_hosts`` is true) and the
connection dials the checked address. An agent defined by the workflow document itself may only reach
the hosts of ``allow_hosts`` when the home's configuration lists any.
"""

from __future__ import annotations

import http.client
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from workflow_cli.actions import _net as net
from workflow_cli.actions.base import (
    MAX_OUTPUT_BYTES,
    ActionContext,
    ActionResult,
    outputs_result,
)
from workflow_cli.agents.registry import AgentSpec

DEFAULT_TIMEOUT = 300.0
_RESPONSE_LIMIT = 4 * MAX_OUTPUT_BYTES


def safe_url(url: str) -> str:
    """``scheme://host:port/path`` without user info, query or fragment, for logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _policy(agent: AgentSpec, config: Mapping[str, Any]) -> dict[str, Any]:
    """The network policy for this agent: ``allow_hosts`` binds agents a workflow document defines, not the
    home's own registry (whose author is the home's owner); metadata addresses are refused for both."""
    policy = dict(config)
    if agent.source != "workflow" or not policy.get("allow_hosts"):
        policy.pop("allow_hosts", None)
    return policy


def _post(agent: AgentSpec, url: str, body: bytes, headers: Mapping[str, str], config: Mapping[str, Any],
          wait: float) -> tuple[int, bytes] | ActionResult:
    """(status, body) of the response, or the failed result when there is none worth reading.

    The URL goes through the shared policy (:func:`workflow_cli.actions._net.check_url`: resolved once,
    every address checked) and the connection dials exactly the checked addresses, the Host header and
    TLS name staying the URL's host: no second lookup can swap in another address.
    """
    try:
        target = net.check_url(url, config)
    except net.HostRefusedError as exc:
        return ActionResult.failure(f"agent {agent.id}: {exc}", kind="refused")
    except OSError as exc:
        return ActionResult.failure(f"agent {agent.id}: cannot resolve host '{urlsplit(url).hostname}': {exc.strerror or exc}")
    conn = net.connection(target, wait)
    try:
        path = urlunsplit(("", "", target.url.path or "/", target.url.query, ""))
        conn.request("POST", path, body=body, headers=dict(headers))
        resp = conn.getresponse()
        if resp.status in net.REDIRECT_STATUSES:  # an agent endpoint answers itself; a redirect could lead anywhere
            return ActionResult.failure(f"agent {agent.id} answered HTTP {resp.status} (redirects are not followed)")
        return resp.status, resp.read(_RESPONSE_LIMIT + 1)
    except TimeoutError:
        return ActionResult.failure(f"agent {agent.id} did not answer within {wait:g} s", kind="timeout")
    except (OSError, http.client.HTTPException) as exc:
        return ActionResult.failure(f"agent {agent.id} cannot be reached at {safe_url(url)}: {exc or type(exc).__name__}")
    finally:
        conn.close()


def run_http(agent: AgentSpec, payload: Mapping[str, Any], ctx: ActionContext, timeout: float | None) -> ActionResult:
    """POST the payload to the agent's URL; a 2xx JSON response is the result, anything else a failure."""
    from workflow_cli._version import __version__
    from workflow_cli.actions.command import stdout_json
    from workflow_cli.agents.kinds import payload_bytes

    url = agent.url or ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ActionResult.failure(f"agent {agent.id}: url must be an http(s) URL with a host")
    headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": f"workflow-cli/{__version__}"}
    headers.update(agent.headers)
    ctx.log(f"POST {safe_url(url)} (headers: {', '.join(sorted(agent.headers)) or 'none'})")
    answer = _post(agent, url, payload_bytes(payload), headers, _policy(agent, ctx.config or {}), timeout or DEFAULT_TIMEOUT)
    if isinstance(answer, ActionResult):
        return answer
    status, data = answer
    ctx.log(f"HTTP {status}, {len(data)} bytes")
    if not 200 <= status < 300:
        snippet = data[:300].decode("utf-8", "replace").strip()
        return ActionResult.failure(f"agent {agent.id} answered HTTP {status}" + (f": {snippet}" if snippet else ""))
    if len(data) > _RESPONSE_LIMIT:
        return ActionResult.failure(f"agent {agent.id} answered more than {_RESPONSE_LIMIT} bytes", kind="output")
    value = stdout_json(data)
    if value is None:
        return ActionResult.failure(f"agent {agent.id} answered non-JSON content {data[:80]!r}", kind="output")
    return outputs_result(value)
