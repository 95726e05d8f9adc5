"""Render a vantage's middlebox nftables ruleset from its data. No I/O (reads a template).

The ruleset is one ``inet`` table loaded atomically with ``nft -f -``. Censorship rules
match destination address, protocol and port; loss uses ``numgen inc`` (a counter, not
``numgen random``) so the share lost is exact.
"""

from __future__ import annotations

import ipaddress
from importlib.resources import files
from string import Template

from fragscope.lab.core.guard import LAB_NETS
from fragscope.lab.dpi.policy import RESET_MARK, RESIDUAL_SET4, RESIDUAL_SET6, DpiPolicy, Mode
from fragscope.lab.vantages.layout import DELAY_IF, MBOX_CLIENT_IF
from fragscope.lab.vantages.model import Action, Block, Vantage

TABLE = "fragscope_vantage"

# nft's "icmpx" reject types are family-neutral: admin-prohibited is ICMP type 3 code 13
# (RFC 1812 section 5.2.7.1) or ICMPv6 type 1 code 1 (RFC 4443 section 3.1);
# port-unreachable is type 3 code 3 or ICMPv6 type 1 code 4.
_VERDICT = {
    Action.DROP: "drop",
    Action.REJECT_ADMIN: "reject with icmpx type admin-prohibited",
    Action.REJECT_PORT: "reject with icmpx type port-unreachable",
    Action.RESET: "reject with tcp reset",
    Action.DROP_ECN_SETUP: "drop",
}
# Extra matches: an ECN-setup SYN has SYN, ECE and CWR set and ACK clear (RFC 3168 section
# 6.1.1); nft calls ECE "ecn". The plain SYN (and everything after it) passes.
_MATCH = {
    Action.DROP_ECN_SETUP: "tcp flags & (syn | ack | ecn | cwr) == syn | ecn | cwr ",
}


def _block_rule(block: Block) -> str:
    family = "ip" if isinstance(block.address, ipaddress.IPv4Address) else "ip6"
    return (
        f'iifname "{MBOX_CLIENT_IF}" {family} daddr {block.address} '
        f"{block.protocol.value} dport {block.port} {_MATCH.get(block.action, '')}"
        f"counter {_VERDICT[block.action]} "
        f'comment "{block.action.value} {block.protocol.value}/{block.port}"'
    )


DPI_QUEUE = 0  # NFQUEUE numbers are per network namespace: each middlebox has its own 0
DPI_PORT = 443
# Chain priorities around the iptables filter table (priority 0), where the queueing
# rules live: this kernel has no nft "queue" expression (CONFIG_NFT_QUEUE), only the
# xtables NFQUEUE target, which iptables-nft reaches through nft_compat.
DPI_BEFORE_QUEUE = -10
DPI_AFTER_QUEUE = 10


def dpi_chains(vantage: Vantage) -> list[str]:
    """The censor's own nft chains: residual's blocked 3-tuples dropped before the queue
    sees them (each set element carries its own timeout), or inline's reset rule after it
    (the daemon marks a packet and accepts it; this chain answers the client with a RST,
    RFC 9293 section 3.10.7.4, and drops the packet)."""
    policy = vantage.dpi
    if policy is None:
        return []
    client = f'iifname "{MBOX_CLIENT_IF}"'
    if policy.mode is Mode.INLINE:
        return [
            f"chain dpi_reset {{ type filter hook forward priority {DPI_AFTER_QUEUE}; "
            f"policy accept; {client} meta mark {RESET_MARK:#x} meta l4proto tcp counter "
            'reject with tcp reset comment "dpi inline: reset"; }'
        ]
    return [
        f"set {RESIDUAL_SET4} {{ type ipv4_addr . ipv4_addr . inet_service; flags timeout; }}",
        f"set {RESIDUAL_SET6} {{ type ipv6_addr . ipv6_addr . inet_service; flags timeout; }}",
        f"chain dpi_residual {{ type filter hook forward priority {DPI_BEFORE_QUEUE}; "
        f"policy accept; {client} ip saddr . ip daddr . udp dport @{RESIDUAL_SET4} counter "
        f"drop; {client} ip6 saddr . ip6 daddr . udp dport @{RESIDUAL_SET6} counter drop; }}",
    ]


def dpi_queue_rules(policy: DpiPolicy) -> list[tuple[str, list[str]]]:
    """(iptables or ip6tables, rule arguments) that hand the censor its packets: only
    those from the client to the lab's own ranges (lab.core.guard.LAB_NETS). Inline gets
    every client packet to port 443 (no bypass: with the censor gone the path is cut, so
    a dead censor is seen, not mistaken for a clean path); residual only the first packet
    of each UDP flow (conntrack NEW), with bypass, accepted at once by the daemon: the
    analyser works on a copy beside the path."""
    out = []
    for net in LAB_NETS:
        tool = "iptables" if net.version == 4 else "ip6tables"
        base = ["-A", "FORWARD", "-i", MBOX_CLIENT_IF, "-d", str(net)]
        queue = ["-j", "NFQUEUE", "--queue-num", str(DPI_QUEUE)]
        if policy.mode is Mode.INLINE:
            for proto in ("tcp", "udp"):
                out.append((tool, [*base, "-p", proto, "--dport", str(DPI_PORT), *queue]))
        else:
            new = ["-m", "conntrack", "--ctstate", "NEW"]
            rule = [*base, "-p", "udp", "--dport", str(DPI_PORT), *new, *queue, "--queue-bypass"]
            out.append((tool, rule))
    return out


def rules(vantage: Vantage) -> list[str]:
    """The forward-chain rules of ``vantage``, in order (censorship before loss)."""
    out = [_block_rule(b) for b in vantage.blocks]
    if vantage.loss is not None:
        loss = vantage.loss
        # One counter for the client-to-upstream direction only: every packet the client
        # sends advances it by one, so k*every consecutive packets lose exactly k*drop.
        out.append(
            f'iifname "{MBOX_CLIENT_IF}" numgen inc mod {loss.every} < {loss.drop} '
            f'counter drop comment "lossy: {loss.drop} of every {loss.every}"'
        )
    return out


def render(vantage: Vantage) -> str:
    """The complete ruleset text for ``nft -f -``."""
    template = Template(
        files("fragscope.lab.vantages")
        .joinpath("templates/middlebox.nft")
        .read_text(encoding="utf-8")
    )
    body = "\n".join(f"\t\t{rule}" for rule in rules(vantage))
    return template.substitute(
        dpi="".join(f"\t{c}\n" for c in dpi_chains(vantage)),
        table=TABLE,
        vantage=vantage.name,
        kind=vantage.kind.value,
        client_if=MBOX_CLIENT_IF,
        delay_if=DELAY_IF,
        rules=body,
    )
