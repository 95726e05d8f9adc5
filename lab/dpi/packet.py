"""The IP, TCP and UDP header fields a censor keys flows on, read from a raw IP packet (as
NFQUEUE hands it over). No I/O.

IPv4 (RFC 791) and IPv6 (RFC 8200; extension headers are not walked: a packet whose next
header is not TCP or UDP is "other" and passes).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

TCP, UDP = 6, 17
TCP_SYN, TCP_RST, TCP_FIN = 0x02, 0x04, 0x01

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class Segment:
    """A TCP segment or UDP datagram: the 5-tuple, TCP's seq and flags, the payload."""

    proto: int
    src: Address
    sport: int
    dst: Address
    dport: int
    payload: bytes
    seq: int = 0
    flags: int = 0

    @property
    def flow(self) -> tuple[int, Address, int, Address, int]:
        return (self.proto, self.src, self.sport, self.dst, self.dport)


def parse(packet: bytes) -> Segment | None:
    """The segment in ``packet``, or None for anything that is not an unfragmented TCP
    or UDP packet with complete headers."""
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4:
        if len(packet) < 20:
            return None
        ihl = (packet[0] & 0x0F) * 4
        total = struct.unpack_from("!H", packet, 2)[0]
        frag = struct.unpack_from("!H", packet, 6)[0]
        if frag & 0x3FFF:  # a fragment (more-fragments flag or an offset): not parsed
            return None
        proto = packet[9]
        src: Address = ipaddress.IPv4Address(packet[12:16])
        dst: Address = ipaddress.IPv4Address(packet[16:20])
        body = packet[ihl:total]
    elif version == 6:
        if len(packet) < 40:
            return None
        plen = struct.unpack_from("!H", packet, 4)[0]
        proto = packet[6]
        src = ipaddress.IPv6Address(packet[8:24])
        dst = ipaddress.IPv6Address(packet[24:40])
        body = packet[40 : 40 + plen]
    else:
        return None
    if proto == UDP and len(body) >= 8:
        sport, dport = struct.unpack_from("!HH", body)
        return Segment(UDP, src, sport, dst, dport, body[8:])
    if proto == TCP and len(body) >= 20:
        sport, dport, seq = struct.unpack_from("!HHI", body)
        offset = (body[12] >> 4) * 4
        if offset < 20 or offset > len(body):
            return None
        return Segment(TCP, src, sport, dst, dport, body[offset:], seq, body[13])
    return None
