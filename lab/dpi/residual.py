"""The GFW-like censor's decision for the one packet it sees of each UDP flow: a copy of
the first (sans-I/O; :mod:`daemon` hands it the copy after the original went on, and
installs the block it returns in an nftables set with a timeout).

It reads the ClientHello only if that single datagram carries all of it: a ClientHello
split across Initials in several datagrams slips past, as it does past the real one
(GFW Report, USENIX Security 2025). A blocked SNI triggers with the truth's probability
(:meth:`policy.DpiPolicy.triggers`); the block is on the 3-tuple (client address, server
address, server port), so every later flow from any client port is dropped for
``residual_s`` seconds, the control with an innocuous SNI included.
"""

from __future__ import annotations

from dataclasses import dataclass

from fragscope.lab.dpi import packet
from fragscope.lab.dpi.clienthello import ClientHelloError
from fragscope.lab.dpi.initial import InitialError, client_hello_of
from fragscope.lab.dpi.policy import DpiPolicy


@dataclass(frozen=True, slots=True)
class ResidualBlock:
    """Drop client-to-server UDP from ``client`` to ``server``:``port`` for ``seconds``."""

    client: packet.Address
    server: packet.Address
    port: int
    seconds: float
    sni: str | None


@dataclass
class ResidualEngine:
    policy: DpiPolicy
    seen: int = 0
    matched: int = 0  # blocked ClientHellos read
    spared: int = 0  # of those, the ones the draw let go

    def observe(self, raw: bytes) -> ResidualBlock | None:
        """The block to install for this first packet of a UDP flow, if any."""
        self.seen += 1
        seg = packet.parse(raw)
        if seg is None or seg.proto != packet.UDP:
            return None
        try:
            hello = client_hello_of(seg.payload)
        except (InitialError, ClientHelloError):
            return None
        if hello is None or self.policy.reason(hello) is None:
            return None
        self.matched += 1
        if not self.policy.triggers(str(seg.src), seg.sport, str(seg.dst), seg.dport):
            self.spared += 1
            return None
        return ResidualBlock(seg.src, seg.dst, seg.dport, self.policy.residual_s, hello.sni)
