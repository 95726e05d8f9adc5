"""HTTPS/SVCB RDATA parameters (RFC 9460): the ones the indicators use. No I/O.

Reads SvcPriority, TargetName (never compressed, RFC 9460 section 2.2) and the SvcParams
alpn, no-default-alpn, port, ipv4hint, ech and ipv6hint; other keys are kept by number.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

from fragscope.probes.dns.codec import MalformedMessage, decode_name

KEY_MANDATORY, KEY_ALPN, KEY_NO_DEFAULT_ALPN, KEY_PORT = 0, 1, 2, 3
KEY_IPV4HINT, KEY_ECH, KEY_IPV6HINT = 4, 5, 6


@dataclass(frozen=True, slots=True)
class SvcParams:
    priority: int
    target: str
    alpn: tuple[str, ...] = ()
    no_default_alpn: bool = False
    port: int | None = None
    ipv4hint: tuple[str, ...] = ()
    ipv6hint: tuple[str, ...] = ()
    ech: bool = False
    mandatory: tuple[int, ...] = ()
    other: dict[int, bytes] = field(default_factory=dict)

    @property
    def alias_mode(self) -> bool:
        return self.priority == 0


def _alpn_text(raw: bytes) -> str:
    # An alpn-id is opaque octets (RFC 9460 section 7.1.1); show printable ASCII as is.
    return "".join(chr(c) if 0x20 <= c < 0x7F else f"\\{c:03d}" for c in raw)


def parse_svcb(rdata: bytes) -> SvcParams:
    """Parse one SVCB/HTTPS RDATA (the RDATA bytes alone)."""
    if len(rdata) < 3:
        raise MalformedMessage("SVCB rdata shorter than priority and target")
    priority = struct.unpack_from("!H", rdata, 0)[0]
    if 0xC0 & rdata[2] and rdata[2] != 0:
        raise MalformedMessage("SVCB TargetName must not be compressed (RFC 9460 section 2.2)")
    target, off = decode_name(rdata, 2)
    values: dict[str, object] = {}
    other: dict[int, bytes] = {}
    last_key = -1
    while off < len(rdata):
        if off + 4 > len(rdata):
            raise MalformedMessage("SvcParam header runs past the rdata")
        key, length = struct.unpack_from("!HH", rdata, off)
        off += 4
        value = rdata[off : off + length]
        if len(value) != length:
            raise MalformedMessage(f"SvcParam key{key} value runs past the rdata")
        off += length
        # Keys must be strictly increasing (RFC 9460 section 2.2).
        if key <= last_key:
            raise MalformedMessage(f"SvcParam keys out of order at key{key}")
        last_key = key
        if key == KEY_ALPN:
            ids = []
            i = 0
            while i < length:
                n = value[i]
                item = value[i + 1 : i + 1 + n]
                if n == 0 or len(item) != n:
                    raise MalformedMessage("bad alpn-id length")
                ids.append(_alpn_text(item))
                i += 1 + n
            values["alpn"] = tuple(ids)
        elif key == KEY_NO_DEFAULT_ALPN:
            values["no_default_alpn"] = True
        elif key == KEY_PORT:
            if length != 2:
                raise MalformedMessage("port SvcParam must be 2 octets")
            values["port"] = struct.unpack("!H", value)[0]
        elif key == KEY_IPV4HINT:
            if length == 0 or length % 4:
                raise MalformedMessage("ipv4hint length not a multiple of 4")
            values["ipv4hint"] = tuple(
                socket.inet_ntop(socket.AF_INET, value[i : i + 4]) for i in range(0, length, 4)
            )
        elif key == KEY_IPV6HINT:
            if length == 0 or length % 16:
                raise MalformedMessage("ipv6hint length not a multiple of 16")
            values["ipv6hint"] = tuple(
                socket.inet_ntop(socket.AF_INET6, value[i : i + 16]) for i in range(0, length, 16)
            )
        elif key == KEY_ECH:
            values["ech"] = True
        elif key == KEY_MANDATORY:
            if length % 2:
                raise MalformedMessage("mandatory SvcParam length odd")
            values["mandatory"] = struct.unpack(f"!{length // 2}H", value)
        else:
            other[key] = bytes(value)
    return SvcParams(priority=priority, target=target, other=other, **values)  # type: ignore[arg-type]
