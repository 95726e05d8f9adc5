"""Render a vantage's middlebox nftables ruleset from its data. No I/O (reads a template).

The ruleset is one ``inet`` table loaded atomically with ``nft -f -``. Censorship rules
match destination address, protocol and port; loss uses ``numgen inc`` (a counter, not
``numgen random``) so the share lost is exact.
"""

from __future__ import annotations

import ipaddress
from importlib.resources import files
from string import Template

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
        table=TABLE,
        vantage=vantage.name,
        kind=vantage.kind.value,
        client_if=MBOX_CLIENT_IF,
        delay_if=DELAY_IF,
        rules=body,
    )
