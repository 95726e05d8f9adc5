"""Where an endpoint URL leads, and whether the policy lets fragscope go there. May resolve names.

The engine checks every address of an endpoint before a task is started: an IP literal
is checked as is; a host name is looked up in /etc/hosts, and through getaddrinfo only
when the system's resolvers are themselves inside the allowlist (a lookup is traffic
too: in the test suite the host's resolver is outside it). A refused endpoint turns each
of its tasks into a ``blocked_by_policy`` row; nothing is sent.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from fragscope.probes.endpoints import EndpointURLError, parse_endpoint_url
from fragscope.probes.safety import NetworkPolicy

HOSTS_FILE = Path("/etc/hosts")
RESOLV_CONF = Path("/etc/resolv.conf")


@dataclass(frozen=True, slots=True)
class Verdict:
    addresses: tuple[str, ...]
    blocked: str | None
    """None when every address is allowed, else why not (stored as failure_detail)."""


def _hosts_lookup(host: str) -> tuple[str, ...]:
    found: list[str] = []
    try:
        text = HOSTS_FILE.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    for line in text.splitlines():
        cols = line.split("#", 1)[0].split()
        if len(cols) >= 2 and host.lower() in (c.lower() for c in cols[1:]):
            found.append(cols[0])
    return tuple(found)


def _system_resolvers() -> tuple[str, ...]:
    try:
        text = RESOLV_CONF.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    return tuple(
        cols[1]
        for cols in (line.split() for line in text.splitlines())
        if len(cols) >= 2 and cols[0] == "nameserver"
    )


def resolve_host(
    host: str, port: int, *, policy: NetworkPolicy
) -> tuple[tuple[str, ...], str | None]:
    """(addresses, error) for a host name, never querying a resolver the policy refuses."""
    found = _hosts_lookup(host)
    if found:
        return found, None
    resolvers = _system_resolvers()
    if not resolvers or not all(policy.allows(r) for r in resolvers):
        return (), (
            f"cannot resolve {host!r}: not in {HOSTS_FILE} and the system resolvers "
            f"({', '.join(resolvers) or 'none'}) are outside the allowed networks"
        )
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return (), f"cannot resolve {host!r}: {exc}"
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos)), None


def check_endpoint(url: str, policy: NetworkPolicy) -> Verdict:
    """Every address ``url`` leads to, and whether all of them may be contacted."""
    try:
        parsed = parse_endpoint_url(url)
    except EndpointURLError as exc:
        return Verdict((), f"bad endpoint URL: {exc}")
    if parsed.is_ip_literal:
        addresses: tuple[str, ...] = (parsed.host,)
    else:
        addresses, error = resolve_host(parsed.host, parsed.port, policy=policy)
        if error:
            return Verdict((), error)
    refused = [a for a in addresses if not policy.allows(a)]
    if refused:
        return Verdict(
            addresses,
            f"{url}: {', '.join(refused)} outside the allowed networks or on the blocklist",
        )
    return Verdict(addresses, None)
