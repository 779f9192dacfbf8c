"""The one network policy (SPEC 6.5, 14) of ``api_call``, ``http`` agents and hooks: schemes, the host allow-list and metadata addresses.

A URL passes when its scheme is http or https, its host matches ``allow_hosts`` (names or
:mod:`fnmatch` patterns, case-insensitive; absent means any host) and - unless
``allow_metadata_hosts`` is true - neither the name nor *any* address it resolves to is a cloud
metadata endpoint (169.254.169.254, fd00:ec2::254, 100.100.100.200, metadata.google.internal, or
any link-local address). The check runs after DNS resolution and returns the checked addresses, so
the caller connects to exactly those and a second lookup cannot swap in another address.
"""

from __future__ import annotations

import fnmatch
import http.client
import ipaddress
import re
import socket
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
SCHEMES = ("http", "https")
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})
_SECRET_WORDS = ("token", "secret", "key", "password", "auth")
REDACTED = "***"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_BODY_HEADERS = ("content-type", "content-length", "transfer-encoding")

Resolver = Callable[..., Sequence[tuple[Any, ...]]]


class HostRefusedError(Exception):
    """A URL the policy refuses: bad scheme, a host not allowed, or a metadata address."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``addresses``) and what to ask for."""

    url: SplitResult
    host: str
    port: int
    addresses: tuple[tuple[str, int], ...]

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.url.scheme.lower(), self.host, self.port)


@dataclass(frozen=True)
class Request:
    """One hop's request."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None


def _normal_host(host: str) -> str:
    return host.strip().rstrip(".").lower()


def is_metadata_ip(address: str) -> bool:
    """Whether an IP address is a cloud metadata endpoint or link-local (IPv4-mapped forms included)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip in METADATA_ADDRESSES or ip.is_link_local


def host_allowed(host: str, patterns: Sequence[str] | None) -> bool:
    """Whether ``host`` matches ``allow_hosts`` (None: every host does)."""
    if patterns is None:
        return True
    name = _normal_host(host)
    return any(fnmatch.fnmatchcase(name, _normal_host(str(p))) for p in patterns)


def check_host(host: str, config: Mapping[str, Any]) -> None:
    """Check a host name (or IP literal) against the policy, before any lookup.

    Raises:
        HostRefusedError: the host is not in ``allow_hosts`` or is a metadata endpoint.
    """
    name = _normal_host(host)
    if not name:
        raise HostRefusedError("the URL has no host")
    patterns = config.get("allow_hosts")
    if not host_allowed(name, list(patterns) if patterns is not None else None):
        raise HostRefusedError(f"host '{name}' is not in allow_hosts of the home's config.yaml")
    if not config.get("allow_metadata_hosts") and (name in METADATA_NAMES or is_metadata_ip(name)):
        raise HostRefusedError(f"host '{name}' is a cloud metadata address (set allow_metadata_hosts to allow it)")


def resolve_checked(
    host: str, port: int, config: Mapping[str, Any], *, resolver: Resolver | None = None
) -> tuple[tuple[str, int], ...]:
    """Check ``host``, resolve it and check every address it resolves to; return those addresses.

    Raises:
        HostRefusedError: the name or any resolved address is refused.
        OSError: the name cannot be resolved.
    """
    check_host(host, config)
    infos = (resolver or socket.getaddrinfo)(_normal_host(host), port, type=socket.SOCK_STREAM)
    addresses: list[tuple[str, int]] = []
    for info in infos:
        address = str(info[4][0])
        if not config.get("allow_metadata_hosts") and is_metadata_ip(address):
            raise HostRefusedError(
                f"host '{_normal_host(host)}' resolves to {address}, a cloud metadata or link-local address"
                " (set allow_metadata_hosts to allow it)"
            )
        if (address, port) not in addresses:
            addresses.append((address, port))
    if not addresses:
        raise OSError(f"host '{host}' has no address")
    return tuple(addresses)


def check_url(url: str, config: Mapping[str, Any], *, resolver: Resolver | None = None) -> Target:
    """Parse and check one URL (every redirect hop goes through here too)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise HostRefusedError(f"invalid URL '{redact_url(url)}': {exc}") from exc
    if parts.scheme.lower() not in SCHEMES:
        raise HostRefusedError(f"URL scheme '{parts.scheme}' is not allowed (only http and https)")
    host = parts.hostname or ""
    port = port or (443 if parts.scheme.lower() == "https" else 80)
    return Target(parts, _normal_host(host), port, resolve_checked(host, port, config, resolver=resolver))


def connection(target: Target, timeout: float) -> http.client.HTTPConnection:
    """A connection to ``target`` that dials only its checked addresses (TLS still verifies the name)."""
    cls = http.client.HTTPSConnection if target.url.scheme.lower() == "https" else http.client.HTTPConnection
    conn = cls(target.host, target.port, timeout=timeout)

    def dial(_address: Any, timeout: Any = None, source_address: Any = None) -> socket.socket:
        error: OSError | None = None
        for address in target.addresses:
            try:
                return socket.create_connection(address, timeout, source_address)
            except OSError as exc:
                error = exc
        raise error or OSError("no address to connect to")

    conn._create_connection = dial  # type: ignore[attr-defined]  # http.client's own dialing hook
    return conn


def is_secret_header(name: str) -> bool:
    """Whether a header carries a credential (its value is shown as ``***``)."""
    lowered = name.lower()
    return lowered in SECRET_HEADERS or any(word in lowered for word in _SECRET_WORDS)


def redact_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``headers`` with every secret header's value replaced by ``***``."""
    return {name: REDACTED if is_secret_header(name) else value for name, value in headers.items()}


def redact_url(url: str) -> str:
    """``url`` with a password and secret-looking query values replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"//[^/@]*@", "//***@", url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_header(k) for k, _ in pairs):
            query = urlencode([(k, REDACTED if is_secret_header(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, default ports filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, _normal_host(parts.hostname or ""), parts.port or (443 if scheme == "https" else 80)


def redirected(req: Request, status: int, location: str, *, same_origin: bool) -> Request:
    """The next hop's request: 303 (and 301/302 after POST) become GET; credentials stay on their origin."""
    method, body, headers = req.method, req.body, dict(req.headers)
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, body = "GET", None
        headers = {k: v for k, v in headers.items() if k.lower() not in _BODY_HEADERS}
    if not same_origin:
        headers = {k: v for k, v in headers.items() if not is_secret_header(k)}
    return replace(req, method=method, url=location, headers=headers, body=body)


def is_json_type(content_type: str) -> bool:
    """Whether a Content-Type is JSON (``application/json`` or ``*/*+json``)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")
