"""``path.udp443``: what the path does to UDP/443 and to unusual TCP SYNs (scapy). Does I/O.

Three tests per address, each a row (issue 8, PATHspider's A/B design, quic-anchors s10):
- ``udp443``: a 1200-byte reserved-version QUIC Initial; the path is ``answered`` (a UDP
  reply), ``rejected`` (ICMP unreachable) or ``dropped`` (silence);
- ``tcp_ecn``: a plain SYN (baseline) against an ECN-setup SYN (ECE+CWR, RFC 3168
  section 6.1.1);
- ``tcp_exp_option``: a plain SYN against a SYN carrying an experimental option (kind
  253 with an ExID, RFC 6994).
A/B outcomes: ``works`` (both answered SYN-ACK), ``broken`` (only the baseline),
``transient`` (only the experiment), ``offline`` (neither). Crafted packets need raw
sockets (root or CAP_NET_RAW); source ports are taken outside the kernel's ephemeral range
so the kernel's own connections never collide with them, and the kernel's RST to the
unexpected SYN-ACK is harmless.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from fragscope.db.ids import stable_hash64
from fragscope.db.vocab import Failure, Operation, PathOutcome
from fragscope.probes import config_rules as rules
from fragscope.probes.base import Endpoint, Observation, Task, TaskParams
from fragscope.probes.errors import MeasurementError
from fragscope.probes.registry import register
from fragscope.probes.transport.frame import TransportProbe
from fragscope.probes.transport.quic_wire import build_initial

TESTS = ("udp443", "tcp_ecn", "tcp_exp_option")
EXPERIMENTAL_OPTION_KIND = 253  # RFC 4727 / RFC 6994: experimental, shared with an ExID
EXPERIMENTAL_EXID = b"\xf5\xce"  # a 16-bit ExID (RFC 6994 section 3); unassigned
RESERVED_VERSION = 0x5A6A7A8A  # 0x?a?a?a?a, RFC 9000 section 15


def ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def source_port(task_key: str, salt: str) -> int:
    """A deterministic source port outside the ephemeral range (below it when possible)."""
    low, high = ephemeral_range()
    base, span = (1024, low - 1024) if low > 2048 else (high + 1, 65535 - high)
    return base + stable_hash64("sport", task_key, salt) % span


def ab_outcome(baseline_ok: bool, experiment_ok: bool) -> PathOutcome:
    """PATHspider's connectivity condition (mami-project/pathspider base.py)."""
    if baseline_ok and experiment_ok:
        return PathOutcome.WORKS
    if baseline_ok:
        return PathOutcome.BROKEN
    if experiment_ok:
        return PathOutcome.TRANSIENT
    return PathOutcome.OFFLINE


@dataclass(frozen=True, slots=True)
class PathConfig:
    port: int = field(
        default=443, metadata={"help": "destination port (UDP and TCP)", **rules.PORT}
    )
    timeout_s: float = field(
        default=2.0, metadata={"help": "seconds to wait for each reply", **rules.SECONDS}
    )
    tries: int = field(
        default=3,
        metadata={
            "help": "packets sent per probe before it counts as unanswered",
            rules.MINIMUM: 1,
        },
    )
    tests: tuple[str, ...] = field(
        default=TESTS, metadata={"help": "which of udp443, tcp_ecn, tcp_exp_option to run"}
    )


def _describe_tcp(reply: Any) -> tuple[str, bool]:
    from scapy.layers.inet import TCP

    if reply is None:
        return "timeout", False
    if reply.haslayer(TCP):
        flags = reply[TCP].sprintf("%TCP.flags%")
        return flags, "S" in flags and "A" in flags
    return reply.summary()[:64], False


def _icmp(reply: Any) -> tuple[int, int] | None:
    from scapy.layers.inet import ICMP
    from scapy.layers.inet6 import ICMPv6DestUnreach

    if reply.haslayer(ICMP):
        return int(reply[ICMP].type), int(reply[ICMP].code)
    if reply.haslayer(ICMPv6DestUnreach):
        return int(reply[ICMPv6DestUnreach].type), int(reply[ICMPv6DestUnreach].code)
    return None


@register
class PathProbe(TransportProbe[PathConfig]):
    name: ClassVar[str] = "path.udp443"
    version: ClassVar[int] = 1
    table: ClassVar[str] = "path_observations"
    config_class: ClassVar[type[PathConfig]] = PathConfig

    def tasks_for(self, target: str, endpoint: Endpoint | None) -> Iterable[TaskParams]:
        return tuple(TaskParams(t, {"test": t}) for t in self.config.tests)

    async def measure(self, task: Task) -> Observation:
        obs, t0 = self.start(task)
        test = str(task.params.get("test", "udp443"))
        fields: dict[str, Any] = {"test": test}
        obs.fields = fields
        op = Operation.PATH_PROBE
        try:
            if test not in TESTS:
                raise MeasurementError(Failure.INVALID_INPUT, op, f"test: {test!r} not in {TESTS}")
            dest = self.aim(task, obs, op)
            if os.geteuid() != 0:
                raise MeasurementError(
                    Failure.PERMISSION_DENIED, op, "crafted packets need root (CAP_NET_RAW)"
                )
            # Every packet's wait must fit in the task's deadline: the UDP test may send
            # several probes, the TCP A/B test sends two SYNs.
            sends = max(1, self.config.tries) * (1 if test == "udp443" else 2)
            timeout = max(0.1, min(self.config.timeout_s, task.deadline_s / (sends + 1)))
            if test == "udp443":
                await asyncio.to_thread(
                    self._udp, task.key, dest.address, dest.port, timeout, fields
                )
            else:
                await asyncio.to_thread(
                    self._tcp_ab, task.key, dest.address, dest.port, timeout, test, fields
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure becomes data (docs/architecture.md §3)
            self.fail(obs, exc, op)
        return self.finish(task, obs, t0)

    def _l3(self, address: str) -> Any:
        from scapy.layers.inet import IP
        from scapy.layers.inet6 import IPv6

        return IPv6(dst=address) if ":" in address else IP(dst=address)

    def _udp(
        self, key: str, address: str, port: int, timeout: float, fields: dict[str, Any]
    ) -> None:
        from scapy.layers.inet import UDP

        sport = source_port(key, "udp")
        payload = build_initial(RESERVED_VERSION, os.urandom(8), os.urandom(8))
        t = self.clock.monotonic()
        reply = self._send(self._l3(address) / UDP(sport=sport, dport=port) / payload, timeout)
        fields["source_port"] = sport
        if reply is None:
            fields.update(outcome=PathOutcome.DROPPED, experiment="timeout")
            return
        fields["rtt_ms"] = (self.clock.monotonic() - t) * 1000
        icmp = _icmp(reply)
        if icmp is not None:
            fields.update(
                outcome=PathOutcome.REJECTED,
                icmp_type=icmp[0],
                icmp_code=icmp[1],
                experiment=f"icmp {icmp[0]}/{icmp[1]}",
            )
            return
        if reply.haslayer(UDP):
            data = bytes(reply[UDP].payload)
            kind = "vn" if len(data) >= 5 and data[0] & 0x80 and data[1:5] == bytes(4) else "udp"
            fields.update(outcome=PathOutcome.ANSWERED, experiment=kind)
            return
        fields.update(outcome=PathOutcome.ANSWERED, experiment=reply.summary()[:64])

    def _send(self, packet: Any, timeout: float) -> Any:
        """Send ``packet`` until something answers, at most ``tries`` times.

        Silence is a finding ("dropped", a broken A/B leg), so it takes several silent
        tries: one lost packet, or a reply scapy's sniffer missed, must not make a path
        look censored. A retransmission is what a real client would send.
        """
        from scapy.sendrecv import sr1

        for _ in range(max(1, self.config.tries)):
            reply = sr1(packet, timeout=timeout, verbose=0)
            if reply is not None:
                return reply
        return None

    def _tcp_ab(
        self, key: str, address: str, port: int, timeout: float, test: str, fields: dict[str, Any]
    ) -> None:
        from scapy.layers.inet import TCP

        base_port, exp_port = source_port(key, "base"), source_port(key, "exp")
        if exp_port == base_port:
            exp_port = base_port + 1
        base = self._send(
            self._l3(address)
            / TCP(sport=base_port, dport=port, flags="S", seq=stable_hash64(key) & 0xFFFFFFFF),
            timeout,
        )
        if test == "tcp_ecn":
            # RFC 3168 section 6.1.1: an ECN-setup SYN has ECE and CWR set.
            probe = TCP(sport=exp_port, dport=port, flags="SEC")
        else:
            probe = TCP(
                sport=exp_port,
                dport=port,
                flags="S",
                options=[(EXPERIMENTAL_OPTION_KIND, EXPERIMENTAL_EXID)],
            )
        t = self.clock.monotonic()
        exp = self._send(self._l3(address) / probe, timeout)
        base_desc, base_ok = _describe_tcp(base)
        exp_desc, exp_ok = _describe_tcp(exp)
        fields.update(
            source_port=exp_port,
            baseline=base_desc,
            experiment=exp_desc,
            outcome=ab_outcome(base_ok, exp_ok),
        )
        if exp is not None:
            fields["rtt_ms"] = (self.clock.monotonic() - t) * 1000
            icmp = _icmp(exp)
            if icmp is not None:
                fields.update(icmp_type=icmp[0], icmp_code=icmp[1])
        if test == "tcp_ecn" and exp_ok:
            flags = exp_desc
            # RFC 3168 section 6.1.1: an ECN-setup SYN-ACK has ECE set and CWR clear.
            fields["ecn_negotiated"] = "E" in flags and "C" not in flags
