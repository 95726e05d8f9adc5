"""The lab's network: the "fs-net" namespace (the lab Internet) joined to the host by a veth.

Does I/O: runs `ip` (iproute2) as root. Address plan (everything exists only inside the
lab; the host reaches it through explicit routes via the veth, never via its default route):

    10.99.0.0/17      service addresses, /32s on fs-net's `lo` (one per nameserver, port 53:
                      delegations and glue carry no port)
        10.99.0.x     ICANN-like root servers        10.99.53.x   resolvers (+ .1xx egress)
        10.99.1.x     TLD servers (Knot)             10.99.54.x   OpenNIC-like root and TLDs
        10.99.2.x     second-level zones (NSD)       10.99.55.x   Handshake-like root and TLDs
        10.99.3.x     whoami (Knot mod-whoami)       10.99.66.x   addresses planted by the
        10.99.80-82.x web hosts named in the zones                manipulating resolver
    fd99::/48         IPv6 service addresses (fd99::53:1 is the validating resolver)
    10.99.255.0/30    host <-> fs-net transit: fs-h0 10.99.255.1 (host) / fs-n0 10.99.255.2
    fd99:ffff::/64    the same link in IPv6: fd99:ffff::1 (host) / fd99:ffff::2
    10.99.128.0/18    vantage and middlebox namespaces (fs-v-*, fs-m-*),
                      one /30 per link from 10.99.128.0 upwards (vantage<->middlebox, then
                      middlebox<->fs-net; see transit_link); fs-net routes each vantage /30
                      back via its middlebox. IPv6 links likewise from fd99:8000::/33 (/64).

Every namespace and host-side link of the lab is named with the "fs-" prefix so a crashed
run's leftovers can be found and removed without touching anything else.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

from fragscope.lab.core.guard import LAB_NETS, in_lab

PREFIX = "fs-"
NAMESPACE = "fs-net"
# The kernel rate-limits the ICMP errors it sends, per destination (icmp_ratelimit,
# icmp6 ratelimit, ms between messages) and overall (icmp_msgs_per_sec, a token bucket of
# icmp_msgs_burst): with a round's probes sharing a few client addresses, whether a UDP
# datagram to a closed port or a rejected flow got its ICMP error would depend on what
# else was sent that second, so path.udp443's and C1's outcomes would not follow from the
# lab truth. Inside the lab's namespaces (each its own per-netns copy on Linux >= 6.x)
# every error is sent.
ICMP_UNLIMITED = (
    ("net.ipv4.icmp_ratelimit", "0"),
    ("net.ipv6.icmp.ratelimit", "0"),
    ("net.ipv4.icmp_msgs_per_sec", "1000000"),
    ("net.ipv4.icmp_msgs_burst", "1000000"),
)
HOST_VETH = "fs-h0"
NS_VETH = "fs-n0"
HOST4, NS4, TRANSIT4_LEN = "10.99.255.1", "10.99.255.2", 30
HOST6, NS6, TRANSIT6_LEN = "fd99:ffff::1", "fd99:ffff::2", 64
SERVICE_NET4 = ipaddress.ip_network("10.99.0.0/17")
SERVICE_NET6 = ipaddress.ip_network("fd99::/48")
VANTAGE_NET4 = ipaddress.IPv4Network("10.99.128.0/18")
VANTAGE_NET6 = ipaddress.IPv6Network("fd99:8000::/33")


@dataclass(frozen=True)
class Link:
    """A point-to-point /30 (and /64) between two namespaces: side ``a`` and side ``b``."""

    net4: ipaddress.IPv4Network
    a4: str
    b4: str
    net6: ipaddress.IPv6Network
    a6: str
    b6: str


def transit_link(n: int) -> Link:
    """The n-th transit link of the part-2 plan (n >= 0): /30 number n of 10.99.128.0/18,
    /64 number n of fd99:8000::/33. Vantage i uses links 2i (vantage<->middlebox) and
    2i+1 (middlebox<->fs-net); side ``a`` is the one nearer the vantage."""
    if not 0 <= n < VANTAGE_NET4.num_addresses // 4:
        raise ValueError(f"transit link {n} outside {VANTAGE_NET4}")
    base4 = int(VANTAGE_NET4.network_address) + 4 * n
    net4 = ipaddress.IPv4Network((base4, 30))
    net6 = ipaddress.IPv6Network((int(VANTAGE_NET6.network_address) + (n << 64), 64))
    return Link(
        net4=net4,
        a4=str(net4.network_address + 1),
        b4=str(net4.network_address + 2),
        net6=net6,
        a6=str(net6.network_address + 1),
        b6=str(net6.network_address + 2),
    )


class TopologyError(RuntimeError):
    """An `ip` command failed; the message has the command and its stderr."""


def run_in(namespace: str, *argv: str) -> None:
    """Run ``argv`` inside ``namespace`` (``ip netns exec``); a failure raises."""
    subprocess.run(["ip", "netns", "exec", namespace, *argv], check=True, capture_output=True)


def ip(*args: str, check: bool = True, stdin: str | None = None) -> str:
    """Run ``ip ARGS``; raise TopologyError with stderr when ``check`` and it fails."""
    proc = subprocess.run(
        ["ip", *args], input=stdin, capture_output=True, text=True, check=False, timeout=30
    )
    if check and proc.returncode != 0:
        raise TopologyError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def namespaces() -> list[str]:
    """Names of the network namespaces that exist now."""
    out = ip("-json", "netns", "list", check=False).strip()
    return [n["name"] for n in json.loads(out)] if out else []


def lab_namespaces() -> list[str]:
    return [n for n in namespaces() if n.startswith(PREFIX)]


def namespace_pids(ns: str) -> list[int]:
    """PIDs of the processes running in namespace ``ns`` (the kernel's list, not names)."""
    return [int(p) for p in ip("netns", "pids", ns, check=False).split()]


def host_links() -> list[str]:
    out = ip("-json", "link", "show", check=False).strip()
    return [link["ifname"] for link in json.loads(out)] if out else []


def host_lab_routes() -> list[str]:
    """Host routes that go through a lab link (the only ones `down` removes)."""
    found = []
    for family in ("-4", "-6"):
        out = ip(family, "-json", "route", "show", check=False).strip()
        for r in json.loads(out) if out else []:
            if str(r.get("dev", "")).startswith(PREFIX):
                found.append(f"{r['dst']} dev {r['dev']}")
    return found


@dataclass(frozen=True)
class Topology:
    """The lab Internet namespace with ``addresses`` on its loopback.

    ``unreachable`` addresses get an `unreachable` route inside the namespace: a sender
    there gets EHOSTUNREACH at once, like the ICMP host-unreachable a router returns for a
    server that is down (a silent address would make resolvers retry for tens of seconds).
    """

    addresses: tuple[str, ...]
    unreachable: tuple[str, ...] = ()

    def up(self) -> None:
        """Create the namespace, the veth pair, the service addresses and host routes."""
        for a in self.addresses + self.unreachable:
            if not in_lab(a):
                raise TopologyError(f"address {a} is outside the lab networks {LAB_NETS}")
        ip("netns", "add", NAMESPACE)
        ip("-n", NAMESPACE, "link", "set", "lo", "up")
        for key, value in ICMP_UNLIMITED:
            run_in(NAMESPACE, "sysctl", "-qw", f"{key}={value}")
        ip("link", "add", HOST_VETH, "type", "veth", "peer", "name", NS_VETH, "netns", NAMESPACE)
        # nodad: duplicate address detection would leave the IPv6 addresses "tentative"
        # (unusable) for about a second after creation.
        batch_host = [
            f"addr add {HOST4}/{TRANSIT4_LEN} dev {HOST_VETH}",
            f"addr add {HOST6}/{TRANSIT6_LEN} dev {HOST_VETH} nodad",
            f"link set {HOST_VETH} up",
            f"route add {SERVICE_NET4} via {NS4} dev {HOST_VETH}",
            f"route add {SERVICE_NET6} via {NS6} dev {HOST_VETH}",
        ]
        batch_ns = [
            f"addr add {NS4}/{TRANSIT4_LEN} dev {NS_VETH}",
            f"addr add {NS6}/{TRANSIT6_LEN} dev {NS_VETH} nodad",
            f"link set {NS_VETH} up",
        ]
        for a in self.addresses:
            plen = 32 if ipaddress.ip_address(a).version == 4 else 128
            batch_ns.append(f"addr add {a}/{plen} dev lo")
        for a in self.unreachable:
            batch_ns.append(f"route add unreachable {a}")
        # The namespace side first, so the host route's gateway is reachable when added.
        ip("-n", NAMESPACE, "-batch", "-", stdin="\n".join(batch_ns) + "\n")
        ip("-batch", "-", stdin="\n".join(batch_host) + "\n")
        install_safety_routes()

    @staticmethod
    def down() -> None:
        """Remove every fs-* namespace, the host veth and lab routes (idempotent).

        Processes still inside a lab namespace must have been stopped before (see
        lab.core.process.kill_namespace_leftovers): deleting a namespace does not kill them.
        """
        for ns in lab_namespaces():
            ip("netns", "del", ns, check=False)
        for link in host_links():
            if link.startswith(PREFIX):
                ip("link", "del", link, check=False)
        for route in host_lab_routes():
            ip("route", "del", *route.split(), check=False)


def install_safety_routes() -> None:
    """Make the whole lab range unreachable from the host except through the lab's links.

    The host's default route would otherwise carry a packet for an address of the lab
    that no link serves (a vantage subnet not built, a lab that is down) off the machine.
    The more specific routes via the lab veth win while the lab is up. ``down`` leaves
    these routes in place on purpose: they only ever refuse traffic.
    """
    for net in LAB_NETS:
        ip("route", "replace", "unreachable", str(net), check=False)


def leftovers() -> dict[str, list[str]]:
    """What of the lab's network still exists (empty lists after a clean `lab down`)."""
    return {
        "namespaces": lab_namespaces(),
        "links": [link for link in host_links() if link.startswith(PREFIX)],
        "routes": host_lab_routes(),
    }


def unique(addresses: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(addresses))
