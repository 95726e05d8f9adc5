"""Where a vantage lives: namespace names, interface names and addresses. No I/O.

One vantage takes one IPv4 subnet (and optionally one IPv6 subnet) and splits it in two
halves: the lower half is the client's LAN, the upper half the transit link to the
upstream namespace. On each link the side nearer the client takes the first host (client
``.1``, middlebox ``.2``; then middlebox ``.1``, upstream ``.2``), as lab.core.topology's
``transit_link`` plan says, unless the caller names the upstream address.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from fragscope.lab.vantages.model import VantageError

# Interface names (each lives in its own namespace, so only the upstream end must be
# unique: it carries the vantage name).
CLIENT_IF = "vc0"  # client ns, towards the middlebox
MBOX_CLIENT_IF = "vm-c"  # middlebox ns, towards the client
MBOX_UPSTREAM_IF = "vm-u"  # middlebox ns, towards the upstream
DELAY_IF = "dly0"  # middlebox ns, the delay relay's TUN device
DELAY_TABLE = "100"  # middlebox ns, policy-routing table that leads into the TUN

_NS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Link:
    """The addresses of one family for one vantage."""

    lan: IPNet
    transit: IPNet
    mbox_lan: IPAddr
    client: IPAddr
    upstream: IPAddr
    mbox_transit: IPAddr

    @property
    def family(self) -> str:
        return "-4" if self.lan.version == 4 else "-6"


def _split(subnet: IPNet, upstream: IPAddr | None, *, where: str) -> Link:
    max_prefix = 29 if subnet.version == 4 else 125
    if subnet.prefixlen > max_prefix:
        raise VantageError(f"{where}: subnet {subnet} is smaller than a /{max_prefix}")
    lan, transit = subnet.subnets(prefixlen_diff=1)
    first, second = transit.network_address + 1, transit.network_address + 2
    if upstream is None:
        upstream = second
    elif upstream not in transit or upstream in (transit.network_address, transit[-1]):
        raise VantageError(
            f"{where}: field 'upstream_address' {upstream} is not a host of the transit "
            f"half {transit} of {subnet}"
        )
    mbox_transit = first if upstream != first else second
    return Link(
        lan=lan,
        transit=transit,
        mbox_lan=lan.network_address + 2,
        client=lan.network_address + 1,
        upstream=upstream,
        mbox_transit=mbox_transit,
    )


@dataclass(frozen=True)
class Layout:
    """The namespaces and addresses of one non-clean vantage."""

    name: str
    client_ns: str
    mbox_ns: str
    upstream_ns: str
    v4: Link
    v6: Link | None = None

    @property
    def upstream_if(self) -> str:
        """The upstream namespace's end of the transit veth (unique per vantage)."""
        return f"vu-{self.name}"

    @property
    def links(self) -> tuple[Link, ...]:
        return (self.v4,) if self.v6 is None else (self.v4, self.v6)

    @property
    def namespaces(self) -> tuple[str, str]:
        """The namespaces this vantage owns (the upstream one belongs to the lab)."""
        return (self.client_ns, self.mbox_ns)


def make_layout(
    name: str,
    *,
    upstream_ns: str,
    subnet: str,
    upstream_address: str | None = None,
    subnet6: str | None = None,
    upstream_address6: str | None = None,
    prefix: str = "fs-",
    client_ns: str | None = None,
    mbox_ns: str | None = None,
) -> Layout:
    """The layout of vantage ``name``: namespaces ``client_ns`` and ``mbox_ns``, by default
    ``<prefix>v-<name>`` and ``<prefix>m-<name>`` (the lab's naming), attached to
    ``upstream_ns``."""
    where = f"vantage {name!r}"
    try:
        net4 = ipaddress.IPv4Network(subnet)
        up4 = ipaddress.IPv4Address(upstream_address) if upstream_address else None
        net6 = ipaddress.IPv6Network(subnet6) if subnet6 else None
        up6 = ipaddress.IPv6Address(upstream_address6) if upstream_address6 else None
    except ValueError as exc:
        raise VantageError(f"{where}: {exc}") from None
    names = {"upstream_ns": upstream_ns, "client_ns": client_ns, "mbox_ns": mbox_ns}
    for key, ns in names.items():
        if ns is not None and not _NS_RE.match(ns):
            raise VantageError(f"{where}: field {key!r} is not a namespace name: {ns!r}")
    return Layout(
        name=name,
        client_ns=client_ns or f"{prefix}v-{name}",
        mbox_ns=mbox_ns or f"{prefix}m-{name}",
        upstream_ns=upstream_ns,
        v4=_split(net4, up4, where=where),
        v6=_split(net6, up6, where=where) if net6 is not None else None,
    )
