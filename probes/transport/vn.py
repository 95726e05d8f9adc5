"""``transport.quic_vn``: QUIC Version Negotiation probe from a plain UDP socket. Does I/O.

Sends one hand-built Initial-shaped long header with a reserved version 0x?a?a?a?a
(RFC 9000 section 15), padded to 1200 bytes (section 14.1), and parses the Version
Negotiation reply (section 17.2.1). Each listed version becomes a child row, and the raw
reply is kept. The socket is connected, so an ICMP unreachable surfaces as an error
(``reply = icmp``) instead of a silent timeout: that tells "rejected" from "dropped".
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fragscope.db.ids import stable_hash64
from fragscope.db.vocab import Failure, Operation
from fragscope.probes import config_rules as rules
from fragscope.probes.base import Observation, Task
from fragscope.probes.errors import MeasurementError
from fragscope.probes.registry import register
from fragscope.probes.transport.common import Deadline
from fragscope.probes.transport.frame import ICMP_FAILURES, TransportProbe
from fragscope.probes.transport.quic_wire import (
    MIN_INITIAL_DATAGRAM,
    VERSION_1,
    VERSION_2,
    QuicWireError,
    build_initial,
    classify_version,
    is_reserved_version,
    parse_version_negotiation,
    version_label,
)

MAX_DATAGRAM = 65535


@dataclass(frozen=True, slots=True)
class VnConfig:
    port: int = field(
        default=443, metadata={"help": "UDP port when the task names none", **rules.PORT}
    )
    version: int | None = field(
        default=None,
        metadata={
            "help": "version to send (must be 0x?a?a?a?a); default: derived from the task "
            "key, so reruns send the same one"
        },
    )
    datagram_size: int = field(
        default=MIN_INITIAL_DATAGRAM,
        # RFC 9000 section 14.1: a client pads Initial datagrams to at least 1200 bytes;
        # 65527 is the largest UDP payload over IPv4 (RFC 768, a 16-bit length).
        metadata={
            "help": "bytes per datagram (>= 1200)",
            rules.MINIMUM: 1200,
            rules.MAXIMUM: 65527,
        },
    )
    cid_length: int = field(default=8, metadata={"help": "DCID and SCID length (0..20)"})
    timeout_s: float = field(
        default=2.0, metadata={"help": "seconds to wait for a reply", **rules.SECONDS}
    )

    def __post_init__(self) -> None:
        if self.version is not None and not is_reserved_version(self.version):
            raise ValueError(f"version: 0x{self.version:08x} is not a reserved 0x?a?a?a?a")
        if not 0 <= self.cid_length <= 20:
            raise ValueError(f"cid_length: {self.cid_length} is not 0..20")


def _version_for(task_key: str) -> int:
    # A reserved version picked by the task key: 4 random nibbles, each followed by 0xa.
    h = stable_hash64("vn", task_key) & 0xFFFF
    value = 0
    for shift in (12, 8, 4, 0):
        value = (value << 8) | (((h >> shift) & 0xF) << 4) | 0x0A
    return value


def vn_columns(
    reply: bytes, *, sent_version: int, dcid: bytes, scid: bytes
) -> tuple[dict[str, Any], list[dict[str, Any]], str | None]:
    """Columns and child rows for one reply datagram, and why it is bad (None if good)."""
    fields: dict[str, Any] = {"raw_reply": reply}
    if len(reply) < 5 or not reply[0] & 0x80 or reply[1:5] != bytes(4):
        fields["reply"] = "other"
        return fields, [], f"not a Version Negotiation packet: {reply[:16].hex()}"
    try:
        vn = parse_version_negotiation(reply)
    except QuicWireError as exc:
        fields["reply"] = "malformed"
        return fields, [], f"malformed Version Negotiation: {exc}"
    fields.update(
        reply="vn",
        cid_echo_ok=vn.dcid == scid and vn.scid == dcid,
        n_versions=len(vn.versions),
        has_v1=VERSION_1 in vn.versions,
        has_v2=VERSION_2 in vn.versions,
        has_grease=any(is_reserved_version(v) for v in vn.versions),
        lists_sent_version=sent_version in vn.versions,
    )
    rows = [
        {
            "position": i,
            "version": v,
            "label": version_label(v),
            "kind": str(classify_version(v)),
        }
        for i, v in enumerate(vn.versions)
    ]
    return fields, rows, None


@register
class VnProbe(TransportProbe[VnConfig]):
    name: ClassVar[str] = "transport.quic_vn"
    version: ClassVar[int] = 1
    table: ClassVar[str] = "quic_vn_observations"
    config_class: ClassVar[type[VnConfig]] = VnConfig

    async def measure(self, task: Task) -> Observation:
        obs, t0 = self.start(task)
        cfg = self.config
        version = cfg.version or _version_for(task.key)
        dcid, scid = os.urandom(cfg.cid_length), os.urandom(cfg.cid_length)
        packet = build_initial(version, dcid, scid, pad_to=cfg.datagram_size)
        fields: dict[str, Any] = {
            "sent_version": version,
            "datagram_size": len(packet),
            "dcid": dcid.hex(),
            "scid": scid.hex(),
            "reply": "none",
        }
        obs.fields = fields
        op = Operation.QUIC_HANDSHAKE
        sock: socket.socket | None = None
        try:
            dest = self.aim(task, obs, op)
            deadline = Deadline(t0, task.deadline_s)
            sock = socket.socket(
                socket.AF_INET6 if dest.ip_version == 6 else socket.AF_INET, socket.SOCK_DGRAM
            )
            sock.setblocking(False)
            loop = asyncio.get_running_loop()
            sock.connect((dest.address, dest.port))
            t_send = self.clock.monotonic()
            await loop.sock_sendall(sock, packet)
            try:
                async with asyncio.timeout(deadline.budget(t_send, cfg.timeout_s)):
                    reply = await loop.sock_recv(sock, MAX_DATAGRAM)
            except TimeoutError:
                raise MeasurementError(
                    Failure.QUIC_NO_REPLY, op, "no reply to the reserved-version Initial"
                ) from None
            except OSError as exc:
                if exc.errno in ICMP_FAILURES:
                    fields["reply"] = "icmp"
                    fields["rtt_ms"] = (self.clock.monotonic() - t_send) * 1000
                    raise MeasurementError(
                        ICMP_FAILURES[exc.errno], op, f"ICMP error on the UDP socket: {exc}"
                    ) from None
                raise
            fields["rtt_ms"] = (self.clock.monotonic() - t_send) * 1000
            columns, rows, problem = vn_columns(reply, sent_version=version, dcid=dcid, scid=scid)
            fields.update(columns)
            obs.children.extend(("quic_vn_versions", r) for r in rows)
            if problem:
                raise MeasurementError(Failure.QUIC_BAD_REPLY, op, problem)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure becomes data (docs/architecture.md §3)
            c = self.fail(obs, exc, op)
            obs.retryable = c.failure is Failure.QUIC_NO_REPLY
        finally:
            if sock is not None:
                sock.close()
        return self.finish(task, obs, t0)
