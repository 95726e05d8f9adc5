"""Endpoint URLs: parse and validate the panel's ``udp://``, ``tls://``, ``https://`` ... URLs.

No I/O. A campaign names every resolver, host or RPC node as one URL; probes and the
engine parse it here so a typo is caught when the campaign loads, not mid-run.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# Default ports: Do53 (RFC 1035 section 4.2), DoT (RFC 7858 section 3.1), DoH (RFC 8484
# uses https, 443), DoQ (RFC 9250 section 4.1.1: 853), a local Ethereum JSON-RPC node (8545),
# a plain-HTTP gateway (RFC 9110 section 4.2.1: 80; e.g. a local IPFS gateway, the lab's bridges).
DEFAULT_PORTS: dict[str, int] = {
    "http": 80,
    "udp": 53,
    "tcp": 53,
    "tls": 853,
    "https": 443,
    "quic": 853,
    "eth+http": 8545,
    "eth+https": 443,
}
SCHEMES = frozenset(DEFAULT_PORTS)
_WITH_PATH = frozenset({"http", "https", "eth+http", "eth+https"})
_WITH_AUTHNAME = frozenset({"tls", "https", "quic"})
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?)+$")


class EndpointURLError(ValueError):
    """The URL is not a valid endpoint URL; the message says why."""


@dataclass(frozen=True, slots=True)
class EndpointURL:
    """A parsed endpoint URL."""

    scheme: str
    host: str
    """An IP literal (without brackets) or a host name."""
    port: int
    path: str = ""
    auth_name: str | None = None
    """The name to authenticate (TLS SNI/verification), from ``#authname``."""

    @property
    def is_ip_literal(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


def parse_endpoint_url(url: str) -> EndpointURL:
    """Parse ``url``; raise :class:`EndpointURLError` naming what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise EndpointURLError("empty URL")
    if any(c.isspace() for c in url):
        raise EndpointURLError(f"{url!r}: whitespace in URL")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise EndpointURLError(
            f"{url!r}: scheme {parts.scheme!r} is not one of {', '.join(sorted(SCHEMES))}"
        )
    try:
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise EndpointURLError(f"{url!r}: {exc}") from None
    if not host:
        raise EndpointURLError(f"{url!r}: no host")
    if parts.username or parts.password:
        raise EndpointURLError(f"{url!r}: credentials do not belong in an endpoint URL")
    if not _is_ip(host):
        if not _HOSTNAME.match(host):
            raise EndpointURLError(f"{url!r}: {host!r} is neither an IP address nor a host name")
        if host.rstrip(".").rpartition(".")[2].isdigit():
            # RFC 3696 section 2: a top-level label is never all digits, so 127.81.0.999
            # or 1.2.3 is a broken IP literal, not a name to look up.
            raise EndpointURLError(f"{url!r}: {host!r} is not a valid IP address")
    if port == 0:
        raise EndpointURLError(f"{url!r}: port 0")
    path = parts.path
    if path and path != "/" and scheme not in _WITH_PATH:
        raise EndpointURLError(f"{url!r}: a {scheme}:// endpoint has no path")
    if parts.query and scheme not in _WITH_PATH:
        raise EndpointURLError(f"{url!r}: a {scheme}:// endpoint has no query")
    if scheme == "https" and not path:
        path = "/dns-query"  # RFC 8484 section 3 leaves the path to the server; common default
    auth_name = parts.fragment or None
    if auth_name is not None:
        if scheme not in _WITH_AUTHNAME:
            raise EndpointURLError(f"{url!r}: #authname is only for tls, https and quic")
        if not _HOSTNAME.match(auth_name):
            raise EndpointURLError(f"{url!r}: #{auth_name} is not a host name")
    if parts.query:
        path = f"{path}?{parts.query}"
    return EndpointURL(
        scheme=scheme,
        host=host,
        port=port if port is not None else DEFAULT_PORTS[scheme],
        path=path if scheme in _WITH_PATH else "",
        auth_name=auth_name,
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def contacted_urls(url: str, options: Mapping[str, Any]) -> tuple[str, ...]:
    """Every URL an endpoint's tasks reach: its own and, for UNS, the URL of each of
    ``options.layers`` (the L2 chains read beside L1; docs/naming.md, "UNS layers"). The
    policy judges them all (the dry run, ``campaign check`` and the engine's gate)."""
    layers = options.get("layers")
    if not isinstance(layers, list):
        return (url,)
    extra = (layer.get("url") for layer in layers if isinstance(layer, Mapping))
    return tuple(dict.fromkeys([url, *(u for u in extra if isinstance(u, str))]))
