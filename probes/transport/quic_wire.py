"""QUIC wire codecs for probing: varints, long headers, Initials, Version Negotiation. No I/O.

Only what a prober needs and nothing that requires keys: the long-header layout is a QUIC
invariant (RFC 8999 section 5.1), so an Initial with a reserved version can be built and
any server's Version Negotiation reply parsed without speaking the version itself.
"""

from __future__ import annotations

import enum
import random
import struct
from dataclasses import dataclass

MIN_INITIAL_DATAGRAM = 1200
"""RFC 9000 section 14.1: a client pads datagrams carrying Initial packets to >= 1200 bytes,
and a server drops (and need not answer) smaller ones."""

MAX_CID_LENGTH = 20
"""RFC 9000 section 17.2: in QUIC version 1 connection IDs are at most 20 bytes."""

VERSION_NEGOTIATION = 0x00000000
VERSION_1 = 0x00000001
VERSION_2 = 0x6B3343CF  # RFC 9369 section 3.1
VERSION_2_DRAFT = 0x709A50C4  # draft-ietf-quic-v2 code point (IANA QUIC versions registry)


class QuicWireError(ValueError):
    """A packet that is not what it claims to be; the message names the field."""


# --- variable-length integers (RFC 9000 section 16) -------------------------------------

MAX_VARINT = (1 << 62) - 1


def encode_varint(value: int, *, width: int | None = None) -> bytes:
    """Encode ``value`` (RFC 9000 section 16, table 4): shortest, or on ``width`` bytes."""
    if value < 0 or value > MAX_VARINT:
        raise QuicWireError(f"varint: {value} is outside 0..2^62-1")
    if width is not None:
        prefix = {1: 0, 2: 1, 4: 2, 8: 3}.get(width)
        if prefix is None or value >= 1 << (8 * width - 2):
            raise QuicWireError(f"varint: {value} does not fit a {width}-byte varint")
        return (value | prefix << (8 * width - 2)).to_bytes(width, "big")
    if value < 1 << 6:
        return bytes([value])
    if value < 1 << 14:
        return struct.pack("!H", value | 0x4000)
    if value < 1 << 30:
        return struct.pack("!I", value | 0x80000000)
    return struct.pack("!Q", value | 0xC000000000000000)


def decode_varint(data: bytes, offset: int = 0) -> tuple[int, int]:
    """Decode one varint at ``offset``; returns (value, next offset)."""
    if offset >= len(data):
        raise QuicWireError(f"varint: no byte at offset {offset}")
    first = data[offset]
    length = 1 << (first >> 6)
    if offset + length > len(data):
        raise QuicWireError(f"varint: {length}-byte integer truncated at offset {offset}")
    value = first & 0x3F
    for b in data[offset + 1 : offset + length]:
        value = (value << 8) | b
    return value, offset + length


# --- versions ------------------------------------------------------------------------------


class VersionKind(enum.StrEnum):
    """What a version number is, for the rows of a Version Negotiation list."""

    V1 = "v1"
    V2 = "v2"
    V2_DRAFT = "v2_draft"
    DRAFT = "draft"
    GREASE = "grease"
    GQUIC = "gquic"
    MVFST = "mvfst"
    NEGOTIATION = "negotiation"
    OTHER = "other"


MVFST_VERSIONS: dict[int, str] = {
    0xFACEB001: "mvfst draft-22",
    0xFACEB002: "MVFST",
    0xFACEB003: "QUIC_V1_ALIAS",
    0xFACEB00E: "MVFST_EXPERIMENTAL",
    0xFACEB00F: "MVFST_INVALID",
    0xFACEB010: "MVFST_ALIAS",
    0xFACEB011: "MVFST_EXPERIMENTAL2",
    0xFACEB013: "MVFST_EXPERIMENTAL3",
}
"""The vendor versions of Facebook's QUIC stack, mvfst: its ``enum class QuicVersion``
(quic/QuicConstants.h in github.com/facebook/mvfst, read 2026-12-07), and 0xfaceb001, the
draft-22-based version of older releases (Wireshark's QUIC dissector, which also reads
0xfaceb002 and 0xfaceb00e as draft-27-based). mvfst numbers them inside 0xfaceb0XX, so
:func:`classify_version` takes that whole block as mvfst: a version added later is still
a vendor version, not "other"."""

VENDOR_KINDS: frozenset[VersionKind] = frozenset({VersionKind.MVFST})
"""Kinds that are one implementation's own versions (docs/indicators.md, T8)."""


def is_reserved_version(version: int) -> bool:
    """True for 0x?a?a?a?a, the versions reserved for greasing (RFC 9000 section 15)."""
    return version & 0x0F0F0F0F == 0x0A0A0A0A


def classify_version(version: int) -> VersionKind:
    """Name a version number after the IANA QUIC versions registry."""
    if version == VERSION_1:
        return VersionKind.V1
    if version == VERSION_2:
        return VersionKind.V2
    if version == VERSION_2_DRAFT:
        return VersionKind.V2_DRAFT
    if version == VERSION_NEGOTIATION:
        return VersionKind.NEGOTIATION
    if is_reserved_version(version):
        return VersionKind.GREASE
    if version & 0xFFFFFF00 == 0xFF000000:  # draft-ietf-quic-transport-NN
        return VersionKind.DRAFT
    if version >> 24 == ord("Q") or version >> 24 == ord("T"):  # Google QUIC Q043, T051...
        return VersionKind.GQUIC
    if version & 0xFFFFFF00 == 0xFACEB000:  # Facebook mvfst (MVFST_VERSIONS)
        return VersionKind.MVFST
    return VersionKind.OTHER


def reserved_version(rng: random.Random | None = None) -> int:
    """A random version of the form 0x?a?a?a?a (RFC 9000 section 15), for greasing."""
    r = rng or random.Random()
    high = [r.randrange(16) for _ in range(4)]
    value = 0
    for nibble in high:
        value = (value << 8) | (nibble << 4) | 0x0A
    return value


def version_label(version: int) -> str:
    """A short human label: ``v1``, ``v2``, ``v2-draft``, ``draft-29``, ``Q050``, else hex
    (the labels lab/truth.toml's ``vn_versions`` use)."""
    kind = classify_version(version)
    if kind in (VersionKind.V1, VersionKind.V2):
        return kind.value
    if kind is VersionKind.V2_DRAFT:
        return "v2-draft"
    if kind is VersionKind.DRAFT:
        return f"draft-{version & 0xFF}"
    if kind is VersionKind.GQUIC:
        raw = version.to_bytes(4, "big")
        if all(32 < b < 127 for b in raw):
            return raw.decode("ascii")
    return f"0x{version:08x}"


# --- long headers (RFC 9000 section 17.2) -------------------------------------------------


class LongPacketType(enum.IntEnum):
    """The two type bits of a QUIC v1 long header (RFC 9000 section 17.2, table 5)."""

    INITIAL = 0
    ZERO_RTT = 1
    HANDSHAKE = 2
    RETRY = 3


@dataclass(frozen=True, slots=True)
class LongHeader:
    """The invariant part of a long header plus, for v1 Initials, token and length."""

    first_byte: int
    version: int
    dcid: bytes
    scid: bytes
    header_length: int
    """Bytes up to the end of the SCID (Initials: up to the end of the Length field)."""
    packet_type: LongPacketType | None = None
    """The v1 type bits; None for Version Negotiation and for versions we do not speak."""
    token: bytes | None = None
    length: int | None = None
    """Initial: the Length field (packet number + payload), RFC 9000 section 17.2.2."""


def _pull_cid(data: bytes, offset: int, name: str) -> tuple[bytes, int]:
    if offset >= len(data):
        raise QuicWireError(f"{name} length: packet ends at offset {offset}")
    n = data[offset]
    if offset + 1 + n > len(data):
        raise QuicWireError(f"{name}: {n} bytes announced, {len(data) - offset - 1} left")
    return data[offset + 1 : offset + 1 + n], offset + 1 + n


# RFC 9369 section 3.2: QUIC v2 permutes the type bits.
_V2_TYPES = {
    0b01: LongPacketType.INITIAL,
    0b10: LongPacketType.ZERO_RTT,
    0b11: LongPacketType.HANDSHAKE,
    0b00: LongPacketType.RETRY,
}


def parse_long_header(data: bytes) -> LongHeader:
    """Parse the long header of ``data`` (RFC 8999 section 5.1, RFC 9000 section 17.2).

    The type bits, token and length are read only for QUIC v1 and v2 Initials (v2 moves
    the Initial to type 0b01, RFC 9369 section 3.2); Retry keeps its token raw.
    """
    if len(data) < 7:
        raise QuicWireError(f"long header: {len(data)} bytes is too short")
    first = data[0]
    if not first & 0x80:
        raise QuicWireError("header form: short header (first bit 0), not a long header")
    (version,) = struct.unpack_from("!I", data, 1)
    dcid, off = _pull_cid(data, 5, "DCID")
    scid, off = _pull_cid(data, off, "SCID")
    if version == VERSION_NEGOTIATION:
        return LongHeader(first, version, dcid, scid, off)
    bits = (first >> 4) & 0x03
    if version == VERSION_1:
        ptype: LongPacketType | None = LongPacketType(bits)
    elif version == VERSION_2:
        # RFC 9369 section 3.2: Initial=0b01, 0-RTT=0b10, Handshake=0b11, Retry=0b00.
        ptype = _V2_TYPES[bits]
    else:
        return LongHeader(first, version, dcid, scid, off)
    if ptype is LongPacketType.INITIAL:
        token_len, off = decode_varint(data, off)
        if off + token_len > len(data):
            raise QuicWireError(f"token: {token_len} bytes announced, {len(data) - off} left")
        token = data[off : off + token_len]
        length, off = decode_varint(data, off + token_len)
        return LongHeader(first, version, dcid, scid, off, ptype, token, length)
    if ptype is LongPacketType.RETRY:
        # RFC 9000 section 17.2.5: Retry Token then a 16-byte Retry Integrity Tag.
        if len(data) - off < 16:
            raise QuicWireError("retry: shorter than its 16-byte integrity tag")
        return LongHeader(first, version, dcid, scid, off, ptype, data[off:-16])
    return LongHeader(first, version, dcid, scid, off, ptype)


def build_initial(
    version: int,
    dcid: bytes,
    scid: bytes,
    *,
    payload: bytes = b"",
    token: bytes = b"",
    packet_number: int = 0,
    pn_length: int = 4,
    pad_to: int = MIN_INITIAL_DATAGRAM,
) -> bytes:
    """An Initial-shaped long-header packet (RFC 9000 section 17.2.2), unprotected.

    The payload is zero-padded (PADDING frames are 0x00, RFC 9000 section 19.1) so the
    datagram reaches ``pad_to`` bytes (RFC 9000 section 14.1). For a reserved or unknown
    version the server parses only the invariant fields and answers with Version
    Negotiation (RFC 9000 section 6.1), so no packet protection is needed.
    """
    if not 1 <= pn_length <= 4:
        raise QuicWireError(f"pn_length: {pn_length} is not 1..4")
    if packet_number >= 1 << (8 * pn_length):
        raise QuicWireError(f"packet_number: {packet_number} does not fit {pn_length} bytes")
    for name, cid in (("dcid", dcid), ("scid", scid)):
        if len(cid) > MAX_CID_LENGTH:
            raise QuicWireError(f"{name}: {len(cid)} bytes, QUIC v1 allows at most 20")
    # RFC 9369 section 3.2: a v2 Initial carries type bits 0b01.
    type_bits = 0b01 if version == VERSION_2 else int(LongPacketType.INITIAL)
    first = 0xC0 | (type_bits << 4) | (pn_length - 1)
    head = (
        bytes([first])
        + struct.pack("!I", version)
        + bytes([len(dcid)])
        + dcid
        + bytes([len(scid)])
        + scid
        + encode_varint(len(token))
        + token
    )
    pn = packet_number.to_bytes(pn_length, "big")
    # Length is always written on 2 bytes (as RFC 9001 appendix A.2 does) unless it needs
    # 4: a fixed width lets the padding hit ``pad_to`` exactly. RFC 9000 section 16 allows
    # longer-than-shortest varints.
    body_len = max(pn_length + len(payload), pad_to - len(head) - 2)
    width = 2 if body_len < 1 << 14 else 4
    if width == 4:
        body_len = max(pn_length + len(payload), pad_to - len(head) - 4)
    padded = payload + b"\x00" * (body_len - pn_length - len(payload))
    return head + encode_varint(body_len, width=width) + pn + padded


# --- Version Negotiation (RFC 9000 section 17.2.1) ----------------------------------------


@dataclass(frozen=True, slots=True)
class VersionNegotiation:
    dcid: bytes
    scid: bytes
    versions: tuple[int, ...]
    first_byte: int


def parse_version_negotiation(data: bytes) -> VersionNegotiation:
    """Parse a Version Negotiation packet; raise QuicWireError naming the bad field."""
    header = parse_long_header(data)
    if header.version != VERSION_NEGOTIATION:
        raise QuicWireError(f"version: 0x{header.version:08x}, a VN packet carries 0")
    rest = data[header.header_length :]
    if not rest:
        raise QuicWireError("supported versions: the list is empty")
    if len(rest) % 4:
        raise QuicWireError(f"supported versions: {len(rest)} bytes is not a multiple of 4")
    versions = struct.unpack(f"!{len(rest) // 4}I", rest)
    return VersionNegotiation(header.dcid, header.scid, versions, header.first_byte)


def build_version_negotiation(
    dcid: bytes, scid: bytes, versions: list[int] | tuple[int, ...], *, unused_bits: int = 0x40
) -> bytes:
    """A VN packet (the server side), used by tests and the hostile-peer fixtures."""
    return (
        bytes([0x80 | (unused_bits & 0x7F)])
        + struct.pack("!I", VERSION_NEGOTIATION)
        + bytes([len(dcid)])
        + dcid
        + bytes([len(scid)])
        + scid
        + b"".join(struct.pack("!I", v) for v in versions)
    )


# --- transport parameters (RFC 9000 section 18) --------------------------------------------

TRANSPORT_PARAMETER_NAMES: dict[int, str] = {
    0x00: "original_destination_connection_id",
    0x01: "max_idle_timeout",
    0x02: "stateless_reset_token",
    0x03: "max_udp_payload_size",
    0x04: "initial_max_data",
    0x05: "initial_max_stream_data_bidi_local",
    0x06: "initial_max_stream_data_bidi_remote",
    0x07: "initial_max_stream_data_uni",
    0x08: "initial_max_streams_bidi",
    0x09: "initial_max_streams_uni",
    0x0A: "ack_delay_exponent",
    0x0B: "max_ack_delay",
    0x0C: "disable_active_migration",
    0x0D: "preferred_address",
    0x0E: "active_connection_id_limit",
    0x0F: "initial_source_connection_id",
    0x10: "retry_source_connection_id",
    0x11: "version_information",  # RFC 9368 section 3
    0x20: "max_datagram_frame_size",  # RFC 9221 section 3
    0x2AB2: "grease_quic_bit",  # RFC 9287 section 3
}

INTEGER_PARAMETERS = frozenset(
    {0x01, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0E, 0x20}
)


def is_reserved_parameter(param_id: int) -> bool:
    """Ids of the form 31 * N + 27 are reserved for greasing (RFC 9000 section 18.1)."""
    return param_id % 31 == 27


@dataclass(frozen=True, slots=True)
class TransportParameter:
    param_id: int
    value: bytes

    @property
    def name(self) -> str | None:
        return TRANSPORT_PARAMETER_NAMES.get(self.param_id)

    @property
    def value_int(self) -> int | None:
        """The value as one varint for integer parameters, else None."""
        if self.param_id not in INTEGER_PARAMETERS:
            return None
        try:
            value, end = decode_varint(self.value)
        except QuicWireError:
            return None
        return value if end == len(self.value) else None


def parse_transport_parameters(blob: bytes) -> list[TransportParameter]:
    """The (id, value) sequence of a quic_transport_parameters extension, in wire order."""
    params = []
    offset = 0
    while offset < len(blob):
        param_id, offset = decode_varint(blob, offset)
        length, offset = decode_varint(blob, offset)
        if offset + length > len(blob):
            raise QuicWireError(
                f"transport parameter 0x{param_id:x}: {length} bytes announced, "
                f"{len(blob) - offset} left"
            )
        params.append(TransportParameter(param_id, blob[offset : offset + length]))
        offset += length
    return params


def encode_transport_parameters(params: list[TransportParameter]) -> bytes:
    return b"".join(
        encode_varint(p.param_id) + encode_varint(len(p.value)) + p.value for p in params
    )


def version_information(value: bytes) -> tuple[int, ...]:
    """Chosen version then available versions of TP 0x11 (RFC 9368 section 3)."""
    if not value or len(value) % 4:
        raise QuicWireError(f"version_information: {len(value)} bytes is not a multiple of 4")
    return struct.unpack(f"!{len(value) // 4}I", value)
