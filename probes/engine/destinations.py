"""Where an endpoint URL leads, and whether the policy lets fragscope go there. May resolve names.

The engine checks every address of an endpoint before a task is started: an IP literal
is checked as is; a host name is looked up in /etc/hosts, and through getaddrinfo only
when the system's resolvers are themselves inside the allowlist (a lookup is traffic
too: in the test suite the host's resolver is outside it). A refused endpoint turns each
of its tasks into a ``blocked_by_policy`` row; nothing is sent. :class:`DestinationGate`
keeps those verdicts (and those on pinned addresses) for a run.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from fragscope.probes.base import Task
from fragscope.probes.endpoints import EndpointURLError, contacted_urls, parse_endpoint_url
from fragscope.probes.engine.planner import PLAN_ERROR
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


class DestinationGate:
    """The policy's verdicts on a run's destinations: endpoint URLs and pinned addresses,
    each judged once (the shard runner asks before every task)."""

    def __init__(self, policy: NetworkPolicy) -> None:
        self.policy = policy
        self._verdicts: dict[str, Verdict] = {}
        self._address_ok: dict[str, bool] = {}

    def endpoint(self, url: str) -> Verdict:
        """The verdict on an endpoint URL (its addresses resolved once)."""
        v = self._verdicts.get(url)
        if v is None:
            v = self._verdicts[url] = check_endpoint(url, self.policy)
        return v

    def blocked(self, task: Task) -> str | None:
        """Why the policy refuses ``task`` (endpoint or pinned address), or None."""
        ep = task.endpoint
        if ep is not None:
            reason = self.endpoint(ep.url).blocked
            if reason is not None:
                return reason
            if "layers" in ep.options:
                # UNS reads its L2 chains too: a layer the policy refuses blocks the task
                # before anything is sent to L1 (docs/naming.md, "UNS layers").
                for url in contacted_urls(ep.url, ep.options)[1:]:
                    reason = self.endpoint(url).blocked
                    if reason is not None:
                        return reason
        params = task.params
        if params:
            if PLAN_ERROR in params:
                return None
            address = params.get("address")
            if address is not None:
                ok = self._address_ok.get(address)
                if ok is None:
                    ok = self.policy.allows(address)
                    if len(self._address_ok) < 100_000:
                        self._address_ok[address] = ok
                if not ok:
                    return f"{address} is outside the allowed networks or on the blocklist"
        return None
