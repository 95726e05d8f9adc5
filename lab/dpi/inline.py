"""The TSPU-like censor's decisions, packet by packet, for the client-to-server packets it
is handed (sans-I/O: :mod:`daemon` feeds it NFQUEUE packets and applies its verdicts).

TCP: the segments of each flow are put in order by sequence number from the SYN (or from
the first segment seen) until the first ClientHello is complete, however the client split
it; then the flow is decided once. QUIC: each client Initial is decrypted with the keys of
its DCID, its CRYPTO frames are reassembled by offset until the ClientHello is complete,
even when it spans several Initials. A blocked flow loses that packet and every later one
(TCP: each answered with a RST if the truth says ``reset``); the packets before the
decision went through, as on a real path, but the server never sees a whole ClientHello.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from fragscope.lab.dpi import packet
from fragscope.lab.dpi.clienthello import MAX_CLIENT_HELLO, ClientHelloError, TlsStream
from fragscope.lab.dpi.initial import CryptoStream, InitialError, open_initials
from fragscope.lab.dpi.policy import DpiPolicy, Reason, TcpAction
from fragscope.lab.dpi.reassembly import Reassembler

FLOW_TTL_S = 120.0  # state of a flow not seen for this long is forgotten
MAX_FLOWS = 65_536
PRUNE_EVERY = 4_096  # packets between two sweeps of expired state

Flow = tuple[int, packet.Address, int, packet.Address, int]
K = TypeVar("K")


class Verdict(StrEnum):
    ACCEPT = "accept"
    DROP = "drop"
    RESET = "reset"  # drop and answer the client with a TCP RST


@dataclass(frozen=True, slots=True)
class Blocked:
    """One blocking decision, for the daemon's log."""

    flow: Flow
    sni: str | None
    reason: Reason


@dataclass
class _TcpState:
    base: int  # the sequence number of the stream's first byte
    segments: Reassembler = field(default_factory=lambda: Reassembler(MAX_CLIENT_HELLO))
    tls: TlsStream = field(default_factory=TlsStream)


@dataclass
class InlineEngine:
    policy: DpiPolicy
    clock: Callable[[], float] = time.monotonic
    on_block: Callable[[Blocked], None] | None = None
    packets: int = 0
    _undecided_tcp: dict[Flow, tuple[_TcpState, float]] = field(default_factory=dict)
    _undecided_quic: dict[tuple[Flow, bytes], tuple[CryptoStream, float]] = field(
        default_factory=dict
    )
    _decided: dict[Flow, tuple[bool, float]] = field(default_factory=dict)  # blocked?, when

    def handle(self, raw: bytes) -> Verdict:
        """The verdict for one client-to-server IP packet."""
        self.packets += 1
        now = self.clock()
        if self.packets % PRUNE_EVERY == 0:
            self._prune(now)
        seg = packet.parse(raw)
        if seg is None:
            return Verdict.ACCEPT
        decided = self._decided.get(seg.flow)
        if decided is not None:
            self._decided[seg.flow] = (decided[0], now)
            return self._block_verdict(seg) if decided[0] else Verdict.ACCEPT
        if seg.proto == packet.TCP:
            return self._tcp(seg, now)
        return self._quic(seg, now)

    def _block_verdict(self, seg: packet.Segment) -> Verdict:
        if seg.proto == packet.TCP and self.policy.tcp_action is TcpAction.RESET:
            return Verdict.RESET
        return Verdict.DROP

    def _decide(
        self, seg: packet.Segment, hello_sni: str | None, reason: Reason | None, now: float
    ) -> Verdict:
        self._decided[seg.flow] = (reason is not None, now)
        if len(self._decided) > MAX_FLOWS:
            self._decided.pop(next(iter(self._decided)))
        if reason is None:
            return Verdict.ACCEPT
        if self.on_block is not None:
            self.on_block(Blocked(seg.flow, hello_sni, reason))
        return self._block_verdict(seg)

    def _tcp(self, seg: packet.Segment, now: float) -> Verdict:
        entry = self._undecided_tcp.get(seg.flow)
        if seg.flags & packet.TCP_SYN:
            # RFC 9293 section 3.4: the SYN takes one sequence number; data starts after.
            self._undecided_tcp[seg.flow] = (_TcpState(base=(seg.seq + 1) % 2**32), now)
            return Verdict.ACCEPT
        if not seg.payload:
            return Verdict.ACCEPT
        state = entry[0] if entry is not None else _TcpState(base=seg.seq)
        self._undecided_tcp[seg.flow] = (state, now)
        offset = (seg.seq - state.base) % 2**32
        try:
            if offset >= MAX_CLIENT_HELLO:  # before the stream's start: a retransmission
                return Verdict.ACCEPT
            hello = state.tls.feed(
                state.segments.add(offset, seg.payload[: MAX_CLIENT_HELLO - offset])
            )
        except ValueError:  # ClientHelloError (not TLS) or a range past what is buffered
            del self._undecided_tcp[seg.flow]
            return self._decide(seg, None, None, now)
        if hello is None:
            return Verdict.ACCEPT
        del self._undecided_tcp[seg.flow]
        return self._decide(seg, hello.sni, self.policy.reason(hello), now)

    def _quic(self, seg: packet.Segment, now: float) -> Verdict:
        try:
            for initial in open_initials(seg.payload):
                key = (seg.flow, initial.dcid)
                entry = self._undecided_quic.get(key)
                stream = entry[0] if entry is not None else CryptoStream()
                self._undecided_quic[key] = (stream, now)
                for offset, data in initial.crypto:
                    hello = stream.add(offset, data)
                    if hello is not None:
                        del self._undecided_quic[key]
                        return self._decide(seg, hello.sni, self.policy.reason(hello), now)
        except (InitialError, ClientHelloError):
            return Verdict.ACCEPT  # not a client Initial we can read: not this censor's
        return Verdict.ACCEPT

    def _prune(self, now: float) -> None:
        _expire(self._undecided_tcp, now)
        _expire(self._undecided_quic, now)
        _expire(self._decided, now)


def _expire(table: dict[K, tuple[Any, float]], now: float) -> None:
    """Forget the entries last seen more than FLOW_TTL_S ago."""
    for key in [k for k, (_, seen) in table.items() if now - seen > FLOW_TTL_S]:
        del table[key]
