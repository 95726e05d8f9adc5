"""The exact ``ip``/``nft``/``sysctl`` commands that build and tear down a vantage. No I/O.

Commands are argv tuples (plus optional stdin), run in order with :mod:`subprocess` and
no shell; :mod:`lab.vantages.runner` runs them, and the lab may run them itself. The
topology of one vantage::

    client ns  vc0 ---- vm-c  middlebox ns  vm-u ---- vu-<name>  upstream ns
    (default via mbox)  (nftables, delay TUN)    (route to the client LAN via mbox)

Delay (``distant``): the middlebox holds a persistent TUN device ``dly0``; policy rules
send everything arriving on ``vm-c`` or ``vm-u`` into it (table 100), the relay process
(:mod:`lab.vantages.delay`) reads each packet, holds it, and writes it back; the kernel
then sees it arriving on ``dly0``, which no rule matches, and forwards it by the main
table to its real destination. Reverse-path filtering is off because the re-injected
packet's source is reached through another interface.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from fragscope.lab.core import topology
from fragscope.lab.dpi.policy import daemon_args
from fragscope.lab.vantages import nft
from fragscope.lab.vantages.layout import (
    CLIENT_IF,
    DELAY_IF,
    DELAY_TABLE,
    MBOX_CLIENT_IF,
    MBOX_UPSTREAM_IF,
    Layout,
)
from fragscope.lab.vantages.model import Vantage

RELAY_MODULE = "fragscope.lab.vantages.delay"
DPI_MODULE = "fragscope.lab.dpi.daemon"
DEFAULT_MAX_QUEUE = 20_000  # packets held at most; ~30 MB at 1500 bytes


@dataclass(frozen=True)
class Command:
    """One command: argv, optional stdin text, and whether failure is fatal."""

    argv: tuple[str, ...]
    input: str | None = None
    check: bool = True


def _cmd(*argv: str, input: str | None = None, check: bool = True) -> Command:
    return Command(argv=tuple(argv), input=input, check=check)


def _sysctl(ns: str, key: str, value: str) -> Command:
    return _cmd("ip", "netns", "exec", ns, "sysctl", "-qw", f"{key}={value}")


def build_commands(vantage: Vantage, layout: Layout) -> list[Command]:
    """Commands that create ``layout``'s two namespaces, wire them to the (existing)
    upstream namespace and install ``vantage``'s behaviour. The delay relay itself is a
    process: start it with :func:`relay_argv` after these ran."""
    c, m, u = layout.client_ns, layout.mbox_ns, layout.upstream_ns
    cmds = [_cmd("ip", "netns", "add", c), _cmd("ip", "netns", "add", m)]
    cmds += [_cmd("ip", "-n", c, "link", "set", "lo", "up")]
    cmds += [_cmd("ip", "-n", m, "link", "set", "lo", "up")]
    # Both veth ends are created directly inside their namespaces: nothing ever appears
    # on the host, so vantages cannot collide with host interfaces.
    cmds += [
        _cmd("ip", "link", "add", CLIENT_IF, "netns", c, "type", "veth",
             "peer", "name", MBOX_CLIENT_IF, "netns", m),
        _cmd("ip", "link", "add", MBOX_UPSTREAM_IF, "netns", m, "type", "veth",
             "peer", "name", layout.upstream_if, "netns", u),
    ]  # fmt: skip
    if layout.v6 is not None:
        # Addresses are usable at once (nodad) and the middlebox routes IPv6.
        cmds.append(_sysctl(m, "net.ipv6.conf.all.forwarding", "1"))
    for link in layout.links:
        fam, extra = link.family, ("nodad",) if link.lan.version == 6 else ()
        lan_len, transit_len = str(link.lan.prefixlen), str(link.transit.prefixlen)
        cmds += [
            _cmd("ip", "-n", c, fam, "addr", "add", f"{link.client}/{lan_len}",
                 "dev", CLIENT_IF, *extra),
            _cmd("ip", "-n", m, fam, "addr", "add", f"{link.mbox_lan}/{lan_len}",
                 "dev", MBOX_CLIENT_IF, *extra),
            _cmd("ip", "-n", m, fam, "addr", "add", f"{link.mbox_transit}/{transit_len}",
                 "dev", MBOX_UPSTREAM_IF, *extra),
            _cmd("ip", "-n", u, fam, "addr", "add", f"{link.upstream}/{transit_len}",
                 "dev", layout.upstream_if, *extra),
        ]  # fmt: skip
    cmds += [
        _cmd("ip", "-n", c, "link", "set", CLIENT_IF, "up"),
        _cmd("ip", "-n", m, "link", "set", MBOX_CLIENT_IF, "up"),
        _cmd("ip", "-n", m, "link", "set", MBOX_UPSTREAM_IF, "up"),
        _cmd("ip", "-n", u, "link", "set", layout.upstream_if, "up"),
    ]
    for link in layout.links:
        fam = link.family
        cmds += [
            _cmd("ip", "-n", c, fam, "route", "add", "default", "via", str(link.mbox_lan)),
            _cmd("ip", "-n", m, fam, "route", "add", "default", "via", str(link.upstream)),
            _cmd("ip", "-n", u, fam, "route", "add", str(link.lan),
                 "via", str(link.mbox_transit)),
        ]  # fmt: skip
    cmds.append(_sysctl(m, "net.ipv4.ip_forward", "1"))
    # The middlebox's own ICMP errors (a reject-with-ICMP block) are not rate-limited
    # either (lab.core.topology.ICMP_UNLIMITED says why).
    cmds += [_sysctl(m, key, value) for key, value in topology.ICMP_UNLIMITED]
    if vantage.blocks or vantage.loss is not None or vantage.dpi is not None:
        cmds.append(_cmd("ip", "netns", "exec", m, "nft", "-f", "-", input=nft.render(vantage)))
    if vantage.dpi is not None:
        for tool, rule in nft.dpi_queue_rules(vantage.dpi):
            cmds.append(_cmd("ip", "netns", "exec", m, tool, "-w", *rule))
    if vantage.delay_ms:
        cmds += _delay_commands(layout)
    return cmds


def _delay_commands(layout: Layout) -> list[Command]:
    m = layout.mbox_ns
    # rp_filter would drop re-injected packets (their source is not routed via dly0);
    # the effective value is max(all, dev), so both are cleared (RFC 3704 strict mode off).
    cmds = [
        _sysctl(m, "net.ipv4.conf.all.rp_filter", "0"),
        _sysctl(m, "net.ipv4.conf.default.rp_filter", "0"),
        # A persistent TUN (IFF_TUN | IFF_NO_PI, iproute2's default) so routes can point at
        # it before the relay attaches; until then packets sent into it are dropped.
        _cmd("ip", "-n", m, "tuntap", "add", "dev", DELAY_IF, "mode", "tun"),
        _sysctl(m, f"net.ipv4.conf.{DELAY_IF}.rp_filter", "0"),
        # No IPv6 link-local address on the TUN, so the kernel sends no router
        # solicitations or MLD reports into it (RFC 4861 section 6.3.7): the relay then
        # carries forwarded traffic only.
        _cmd("ip", "-n", m, "link", "set", DELAY_IF, "addrgenmode", "none"),
        _cmd("ip", "-n", m, "link", "set", DELAY_IF, "up"),
    ]
    for link in layout.links:
        fam = link.family
        cmds.append(
            _cmd("ip", "-n", m, fam, "route", "add", "default", "dev", DELAY_IF,
                 "table", DELAY_TABLE)
        )  # fmt: skip
        # Rule priority 100 comes after the local table (priority 0), so packets for the
        # middlebox itself are still delivered; only forwarded traffic enters the relay.
        for iface in (MBOX_CLIENT_IF, MBOX_UPSTREAM_IF):
            cmds.append(
                _cmd("ip", "-n", m, fam, "rule", "add", "iif", iface, "lookup", DELAY_TABLE,
                     "priority", "100")
            )  # fmt: skip
    return cmds


def teardown_commands(layout: Layout) -> list[Command]:
    """Commands that remove the vantage; each may fail harmlessly (already gone). Stop
    the relay (by PID) first: a namespace lives on while a process is inside it.

    The upstream veth end is deleted explicitly, which removes its peer and the routes
    through it at once: ``ip netns del`` only unlinks the name and the kernel destroys the
    namespace's devices later, so a quick rebuild would meet the old peer ("File exists").
    """
    return [
        _cmd("ip", "-n", layout.upstream_ns, "link", "del", layout.upstream_if, check=False),
        *(_cmd("ip", "netns", "del", ns, check=False) for ns in layout.namespaces),
    ]


def relay_argv(
    layout: Layout,
    delay_ms: int,
    *,
    python: str = sys.executable,
    max_queue: int = DEFAULT_MAX_QUEUE,
) -> list[str]:
    """The delay relay's command line, run inside the middlebox namespace."""
    return [
        "ip", "netns", "exec", layout.mbox_ns,
        python, "-m", RELAY_MODULE,
        "--dev", DELAY_IF, "--delay-ms", str(delay_ms), "--max-queue", str(max_queue),
    ]  # fmt: skip


def dpi_argv(layout: Layout, vantage: Vantage, *, python: str = sys.executable) -> list[str]:
    """The DPI censor's command line (lab.dpi.daemon), run inside the middlebox namespace."""
    if vantage.dpi is None:
        raise ValueError(f"vantage {vantage.name!r} has no DPI censor")
    return [
        "ip", "netns", "exec", layout.mbox_ns, python, "-m", DPI_MODULE,
        *daemon_args(vantage.dpi, queue=nft.DPI_QUEUE, table=nft.TABLE),
    ]  # fmt: skip


def exec_argv(layout: Layout | None, command: Sequence[str]) -> list[str]:
    """argv that runs ``command`` at a vantage: in its client namespace, or unchanged on
    the host for ``clean`` (``layout`` None). For ``fragscope lab exec VANTAGE -- CMD``."""
    if not command:
        raise ValueError("lab exec: no command given after '--'")
    if layout is None:
        return list(command)
    return ["ip", "netns", "exec", layout.client_ns, *command]
