"""``discovery``: a name through resolvers a directory API lists (OpenNIC's GeoIP API). Does I/O.

OpenNIC's Tier-2 resolvers come and go, so a campaign names the API that lists them,
not the servers (docs/naming.md, "OpenNIC"). The endpoint URL is the API with its
``json`` result parameter, e.g. ``https://api.opennicproject.org/geoip/?json&res=3&ipv=4``
(wiki.opennic.org/api/geoip: ``res`` servers, ``ipv`` 4 or 6, nearest first). Its JSON is a
list of objects, one per server: ``{"host": "ns10.fr.dns.opennic.glue", "short": "ns10.fr",
"ip": "87.98.175.85", "loc": "FR", "stat": "98.65", ...}``; only ``ip`` is required here.

The list is fetched once per API URL and kept for :data:`LIST_TTL_S` (the API is a shared
volunteer service: one request per campaign, not one per name); then the name is asked
of the listed servers in the API's order over Do53 (``udp://IP:53``, the dns method),
until one answers. The row records the servers listed, the one that answered and why the
others failed. Options: ``servers`` (how many listed servers to try, default 3),
``dns_port`` (the lab's stand-in servers listen on high ports; OpenNIC's on 53), and the
dns method's ``qtypes``. A listed address the network policy refuses is refused like any
other (blocked_by_policy): the API cannot widen what a campaign may reach.
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.errors import MeasurementError
from fragscope.probes.naming import http
from fragscope.probes.naming.methods.base import MethodResult, Request
from fragscope.probes.naming.methods.dns import resolve_dns
from fragscope.probes.safety import NetworkPolicy

LIST_TTL_S = 3600.0
"""How long a fetched server list is reused before the API is asked again."""
DEFAULT_SERVERS = 3
MAX_SERVERS = 10
_lists: dict[str, tuple[float, tuple[str, ...]]] = {}
"""API URL -> (monotonic time fetched, server addresses in the API's order)."""


def forget_lists() -> None:
    """Drop the fetched server lists (tests; a long-running process may call it too)."""
    _lists.clear()


def parse_server_list(body: bytes) -> tuple[str, ...]:
    """The ``ip`` of every server of the API's JSON reply, in order; raises ValueError
    naming what is wrong (not JSON, not a list, an entry without an IP literal)."""
    try:
        data: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, list):
        raise ValueError(f"expected a JSON list of servers, got {type(data).__name__}")
    out: list[str] = []
    for i, entry in enumerate(data):
        ip = entry.get("ip") if isinstance(entry, dict) else None
        if not isinstance(ip, str):
            raise ValueError(f'server #{i + 1}: no "ip" string')
        try:
            out.append(str(ipaddress.ip_address(ip.strip())))
        except ValueError:
            raise ValueError(f"server #{i + 1}: {ip[:64]!r} is not an IP address") from None
    if not out:
        raise ValueError("the list is empty")
    return tuple(out)


async def server_list(req: Request) -> tuple[tuple[str, ...], bool]:
    """The API's servers (fetched, or reused within :data:`LIST_TTL_S`) and whether they
    were reused."""
    return await fetch_server_list(
        req.endpoint, policy=req.policy, headers=req.headers, timeout=req.timeout
    )


async def fetch_server_list(
    api: str, *, policy: NetworkPolicy, headers: Mapping[str, str], timeout: float
) -> tuple[tuple[str, ...], bool]:
    """The servers the directory API ``api`` lists (fetched, or reused within
    :data:`LIST_TTL_S`) and whether they were reused; raises MeasurementError
    (``http_error``, or the transport's failure) naming what went wrong. ``fragscope
    run`` calls it at run start too (probes/engine/discovered.py), so a run's dns.query
    resolvers and its naming.resolve rows share one request."""
    now = time.monotonic()
    cached = _lists.get(api)
    if cached is not None and now - cached[0] < LIST_TTL_S:
        return cached[1], True
    resp = await http.request("GET", api, policy=policy, headers=dict(headers), timeout=timeout)
    if resp.status != 200:
        raise MeasurementError(
            Failure.HTTP_ERROR,
            Operation.HTTP_REQUEST,
            f"discovery API answered HTTP {resp.status} {resp.reason}".rstrip(),
        )
    try:
        servers = parse_server_list(resp.body)
    except ValueError as exc:
        raise MeasurementError(
            Failure.HTTP_ERROR, Operation.HTTP_REQUEST, f"discovery API: {exc}"
        ) from None
    _lists[api] = (now, servers)
    return servers, False


def server_count(options: Mapping[str, Any]) -> int:
    """How many listed servers are asked: ``options.servers`` (default
    :data:`DEFAULT_SERVERS`), between 1 and :data:`MAX_SERVERS`."""
    return max(1, min(int(options.get("servers", DEFAULT_SERVERS)), MAX_SERVERS))


def servers_to_ask(servers: Sequence[str], options: Mapping[str, Any]) -> tuple[str, ...]:
    """The first :func:`server_count` listed servers: those a name is asked of."""
    return tuple(servers[: server_count(options)])


def dns_port(options: Mapping[str, Any]) -> int:
    """The port the listed servers are asked on (``options.dns_port``; OpenNIC's: 53)."""
    return int(options.get("dns_port", 53))


def server_url(address: str, port: int) -> str:
    """The Do53 resolver URL of a listed server (probes/dns/resolvers.py form)."""
    host = f"[{address}]" if ":" in address else address
    return f"udp://{host}:{port}"


async def resolve_discovered(req: Request) -> MethodResult:
    servers, reused = await server_list(req)
    port = dns_port(req.options)
    tried = servers_to_ask(servers, req.options)
    failed: dict[str, str] = {}
    last: MeasurementError | None = None
    for address in tried:
        try:
            result = await resolve_dns(replace(req, endpoint=server_url(address, port)))
        except MeasurementError as exc:
            failed[address] = str(exc.failure)
            last = exc
            continue
        result.detail.update(
            api=req.endpoint,
            listed=list(servers),
            server=address,
            failed=failed,
            list_reused=reused,
        )
        return result
    assert last is not None
    raise MeasurementError(
        last.failure,
        last.operation,
        f"none of the {len(tried)} listed servers answered: "
        + ", ".join(f"{a} {f}" for a, f in failed.items()),
    )
