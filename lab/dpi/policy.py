"""What a DPI censor blocks and how, as plain data from the lab truth
(lab/vantages/truth.toml, kind "dpi"). No I/O.

``inline`` is the TSPU-like box on the path: it sees every client packet to port 443,
reassembles the ClientHello over TCP segments and QUIC Initials, and drops the flow (or
answers TCP with a RST). ``residual`` is the GFW-like analyser beside the path: it gets a
copy of the first packet of each UDP flow only, and when that one packet carries a
blocked ClientHello it has the 3-tuple (client address, server address, server port)
blocked for ``residual_s`` seconds, with probability ``trigger_probability``; the draw is
a hash of the seed and the flow, so the lab truth fixes which flows trigger.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from fragscope.lab.core.schema import TruthError
from fragscope.lab.dpi.clienthello import ClientHello, normalise

RESET_MARK = 0x2115  # the packet mark the middlebox ruleset answers with a TCP RST
RESIDUAL_SET4, RESIDUAL_SET6 = "residual4", "residual6"  # the residual censor's nft sets


class Mode(StrEnum):
    INLINE = "inline"
    RESIDUAL = "residual"


class TcpAction(StrEnum):
    DROP = "drop"
    RESET = "reset"


class Reason(StrEnum):
    """Why a ClientHello is blocked."""

    SNI = "sni"
    ECH = "ech"


@dataclass(frozen=True)
class DpiPolicy:
    """One censor. ``blocked_sni`` are host names (compared case-insensitively, no
    trailing dot); ``block_ech`` blocks any ClientHello with the ECH extension (0xfe0d,
    RFC 9849), whatever its SNI."""

    mode: Mode
    blocked_sni: frozenset[str]
    block_ech: bool = False
    tcp_action: TcpAction = TcpAction.DROP
    residual_s: float = 10.0
    trigger_probability: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.trigger_probability <= 1.0:
            raise TruthError("dpi: field 'trigger_probability' must be in (0, 1]")
        if not 0.0 < self.residual_s <= 3600.0:
            raise TruthError("dpi: field 'residual_s' must be in (0, 3600]")
        if self.mode is Mode.RESIDUAL and self.block_ech:
            raise TruthError("dpi: field 'block_ech' is for mode 'inline' only")

    def reason(self, hello: ClientHello) -> Reason | None:
        """Why ``hello`` is blocked, or None if it passes."""
        if hello.sni is not None and hello.sni in self.blocked_sni:
            return Reason.SNI
        if self.block_ech and hello.has_ech:
            return Reason.ECH
        return None

    def triggers(self, client: str, client_port: int, server: str, server_port: int) -> bool:
        """Whether the residual censor acts on this flow: a uniform draw in [0, 1) from a
        hash of the seed and the 4-tuple, below ``trigger_probability``."""
        key = f"{self.seed}|{client}|{client_port}|{server}|{server_port}".encode()
        draw = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2**64
        return draw < self.trigger_probability


def blocked_names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(normalise(n) for n in names)


def daemon_args(policy: DpiPolicy, *, queue: int, table: str) -> list[str]:
    """The arguments of ``python -m fragscope.lab.dpi.daemon`` that run ``policy``."""
    argv = ["--mode", policy.mode.value, "--queue", str(queue), "--table", table]
    for name in sorted(policy.blocked_sni):
        argv += ["--block-sni", name]
    if policy.block_ech:
        argv.append("--block-ech")
    argv += ["--tcp-action", policy.tcp_action.value, "--residual-s", f"{policy.residual_s:g}"]
    argv += ["--probability", f"{policy.trigger_probability!r}", "--seed", str(policy.seed)]
    return argv
