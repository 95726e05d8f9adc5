"""Resolver URLs: ``udp://``, ``tcp://``, ``tls://``, ``https://``, ``quic://``. No I/O.

Forms (host is an IP literal, IPv6 in brackets; nothing here resolves names):

- ``udp://127.0.0.1`` ``udp://[::1]:5353``, ``tcp://...`` (port 53)
- ``tls://127.0.0.1:853#resolver.test``: DoT (RFC 7858); the fragment is the
  authentication name checked against the certificate (default: the host)
- ``https://127.0.0.1/dns-query#resolver.test`` (port 443, path /dns-query): DoH (RFC
  8484); the fragment is the authentication name, as for tls and quic (the engine's
  panel URLs, probes/endpoints.py, use the same form). GET or POST is not part of the
  URL: it is the probe's ``doh_method`` or the endpoint's ``options.doh_method``
- ``quic://127.0.0.1:853#resolver.test``: DoQ (RFC 9250, default port 853)
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from fragscope.db.vocab import Transport

_SCHEMES = {
    "udp": (Transport.UDP, 53),
    "tcp": (Transport.TCP, 53),
    "tls": (Transport.TLS, 853),
    "https": (Transport.HTTPS, 443),
    "quic": (Transport.QUIC, 853),
}


class BadResolverURL(ValueError):
    """The resolver URL cannot be used; the message names the part."""


@dataclass(frozen=True, slots=True)
class ResolverURL:
    url: str
    transport: Transport
    address: str
    """IP literal the packets go to."""
    port: int
    auth_name: str
    """Name checked against the TLS certificate (DoT/DoH/DoQ) and sent as SNI."""
    path: str = "/dns-query"
    http_get: bool = False

    @property
    def doh_url(self) -> str:
        """The URL httpx is given: the authentication name as host (SNI, Host header); the
        connection itself goes to ``address``."""
        host = f"[{self.auth_name}]" if ":" in self.auth_name else self.auth_name
        return f"https://{host}:{self.port}{self.path}"

    def with_method(self, http_get: bool) -> ResolverURL:
        return ResolverURL(
            self.url, self.transport, self.address, self.port, self.auth_name, self.path, http_get
        )


def _ip(text: str, url: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise BadResolverURL(f"{url}: host {text!r} is not an IP address") from None


def parse_resolver(url: str) -> ResolverURL:
    """Parse and check a resolver URL; raise :class:`BadResolverURL` naming what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme not in _SCHEMES:
        raise BadResolverURL(
            f"{url}: scheme {parts.scheme!r} is not one of {', '.join(sorted(_SCHEMES))}"
        )
    transport, default_port = _SCHEMES[parts.scheme]
    host = parts.hostname
    if not host:
        raise BadResolverURL(f"{url}: no host")
    try:
        port = parts.port or default_port
    except ValueError:
        raise BadResolverURL(f"{url}: bad port") from None
    fragment = parts.fragment
    if transport is Transport.HTTPS:
        address = _ip(host, url)
        path = parts.path or "/dns-query"
        if parts.query:
            path += "?" + parts.query
        return ResolverURL(url, transport, address, port, fragment or address, path=path)
    address = _ip(host, url)
    if parts.path not in ("", "/") or parts.query:
        raise BadResolverURL(f"{url}: a {parts.scheme}:// resolver has no path or query")
    if transport in (Transport.UDP, Transport.TCP) and fragment:
        raise BadResolverURL(f"{url}: an authentication name only applies to tls/https/quic")
    return ResolverURL(url, transport, address, port, fragment or address)
