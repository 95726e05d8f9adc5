"""QUIC wire codecs against the RFC 9000 / RFC 9001 vectors, plus hypothesis round trips."""

from __future__ import annotations

import contextlib
import random

import pytest
from aioquic.buffer import Buffer
from aioquic.quic.packet import pull_quic_header
from hypothesis import given, settings
from hypothesis import strategies as st

from fragscope.probes.transport.quic_wire import (
    MIN_INITIAL_DATAGRAM,
    VERSION_1,
    VERSION_2,
    LongPacketType,
    QuicWireError,
    VersionKind,
    build_initial,
    build_version_negotiation,
    classify_version,
    decode_varint,
    encode_varint,
    is_reserved_version,
    parse_long_header,
    parse_version_negotiation,
    reserved_version,
    version_label,
)

# RFC 9000 appendix A.1: sample variable-length integer decodings.
VARINTS = [
    ("c2197c5eff14e88c", 151288809941952652),
    ("9d7f3e7d", 494878333),
    ("7bbd", 15293),
    ("25", 37),
    ("4025", 37),
]

# RFC 9001 appendix A.2: the client Initial's unprotected header (pn 2, 4-byte pn).
RFC9001_CLIENT_HEADER = bytes.fromhex("c300000001088394c8f03e5157080000449e00000002")
RFC9001_CLIENT_DCID = bytes.fromhex("8394c8f03e515708")
# RFC 9001 appendix A.3: the server Initial's unprotected header.
RFC9001_SERVER_HEADER = bytes.fromhex("c1000000010008f067a5502a4262b50040750001")
# RFC 9001 appendix A.4: a complete Retry packet.
RFC9001_RETRY = bytes.fromhex(
    "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba"
)


@pytest.mark.parametrize(("wire", "value"), VARINTS)
def test_varint_rfc9000_vectors(wire: str, value: int) -> None:
    data = bytes.fromhex(wire)
    assert decode_varint(data) == (value, len(data))


def test_varint_shortest_encoding() -> None:
    assert encode_varint(37) == bytes.fromhex("25")
    assert encode_varint(15293) == bytes.fromhex("7bbd")
    assert encode_varint(494878333) == bytes.fromhex("9d7f3e7d")
    assert encode_varint(151288809941952652) == bytes.fromhex("c2197c5eff14e88c")


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(st.integers(min_value=0, max_value=(1 << 62) - 1))
def test_varint_round_trip(value: int) -> None:
    assert decode_varint(encode_varint(value)) == (value, len(encode_varint(value)))


def test_varint_errors_name_the_problem() -> None:
    with pytest.raises(QuicWireError, match="outside"):
        encode_varint(1 << 62)
    with pytest.raises(QuicWireError, match="truncated"):
        decode_varint(bytes.fromhex("c219"))


def test_initial_header_matches_rfc9001_client_initial() -> None:
    # A.2: the 1162-byte payload plus the 16-byte AEAD tag make Length 0x49e = 1182 and
    # the whole datagram 1200 bytes.
    pkt = build_initial(
        VERSION_1, RFC9001_CLIENT_DCID, b"", packet_number=2, payload=b"\x06" * (1162 + 16)
    )
    assert pkt[: len(RFC9001_CLIENT_HEADER)] == RFC9001_CLIENT_HEADER
    assert len(pkt) == 1200
    hdr = parse_long_header(pkt)
    assert hdr.packet_type is LongPacketType.INITIAL
    assert (hdr.dcid, hdr.scid, hdr.token, hdr.length) == (RFC9001_CLIENT_DCID, b"", b"", 1182)
    assert hdr.header_length + hdr.length == len(pkt)


def test_parse_rfc9001_server_initial_and_retry() -> None:
    hdr = parse_long_header(RFC9001_SERVER_HEADER)
    assert hdr.version == VERSION_1
    assert hdr.packet_type is LongPacketType.INITIAL
    assert hdr.dcid == b""
    assert hdr.scid == bytes.fromhex("f067a5502a4262b5")
    assert hdr.length == 0x75
    retry = parse_long_header(RFC9001_RETRY)
    assert retry.packet_type is LongPacketType.RETRY
    assert retry.token == b"token"


def test_reserved_initial_is_padded_and_aioquic_reads_it() -> None:
    version = 0x1A2A3A4A
    pkt = build_initial(version, b"A" * 8, b"B" * 8)
    assert len(pkt) == MIN_INITIAL_DATAGRAM
    assert pkt[0] & 0xC0 == 0xC0
    hdr = pull_quic_header(Buffer(data=pkt), host_cid_length=8)
    assert (hdr.version, hdr.destination_cid, hdr.source_cid) == (version, b"A" * 8, b"B" * 8)


def test_v2_initial_uses_rfc9369_type_bits() -> None:
    pkt = build_initial(VERSION_2, b"\x01" * 8, b"\x02" * 8)
    assert (pkt[0] >> 4) & 0x3 == 0b01
    assert parse_long_header(pkt).packet_type is LongPacketType.INITIAL


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(
    version=st.integers(min_value=1, max_value=0xFFFFFFFF),
    dcid=st.binary(max_size=20),
    scid=st.binary(max_size=20),
    token=st.binary(max_size=64),
    pn_length=st.integers(min_value=1, max_value=4),
    pad_to=st.integers(min_value=0, max_value=1500),
)
def test_initial_round_trip(
    version: int, dcid: bytes, scid: bytes, token: bytes, pn_length: int, pad_to: int
) -> None:
    pkt = build_initial(version, dcid, scid, token=token, pn_length=pn_length, pad_to=pad_to)
    assert len(pkt) >= pad_to
    hdr = parse_long_header(pkt)
    assert (hdr.version, hdr.dcid, hdr.scid) == (version, dcid, scid)
    if version in (VERSION_1, VERSION_2):
        assert hdr.token == token
        assert hdr.header_length + (hdr.length or 0) == len(pkt)


def test_vn_parse_matches_aioquic() -> None:
    versions = [VERSION_1, 0xAABABADA, 0x709A50C4, 0xFF00001D]
    pkt = build_version_negotiation(b"\x01" * 8, b"\x02" * 8, versions)
    vn = parse_version_negotiation(pkt)
    assert vn.versions == tuple(versions)
    assert (vn.dcid, vn.scid) == (b"\x01" * 8, b"\x02" * 8)
    hdr = pull_quic_header(Buffer(data=pkt), host_cid_length=8)
    assert list(hdr.supported_versions) == versions


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(
    dcid=st.binary(max_size=20),
    scid=st.binary(max_size=20),
    versions=st.lists(st.integers(min_value=0, max_value=0xFFFFFFFF), min_size=1, max_size=20),
    unused=st.integers(min_value=0, max_value=0x7F),
)
def test_vn_round_trip(dcid: bytes, scid: bytes, versions: list[int], unused: int) -> None:
    vn = parse_version_negotiation(
        build_version_negotiation(dcid, scid, versions, unused_bits=unused)
    )
    assert (vn.dcid, vn.scid, vn.versions) == (dcid, scid, tuple(versions))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\x00\x00\x00\x00\x08AAAA", "DCID"),
        (build_version_negotiation(b"a", b"b", [1])[:-1], "multiple of 4"),
        (build_version_negotiation(b"a", b"b", []), "empty"),
        (build_initial(VERSION_1, b"a", b"b"), "version"),
        (b"\x40" + b"\x00" * 20, "short header"),
        (b"\xc0\x00", "too short"),
    ],
)
def test_malformed_vn_is_named(data: bytes, message: str) -> None:
    with pytest.raises(QuicWireError, match=message):
        parse_version_negotiation(data)


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(st.binary(max_size=64))
def test_parsers_never_raise_anything_but_quicwireerror(data: bytes) -> None:
    for fn in (parse_long_header, parse_version_negotiation):
        with contextlib.suppress(QuicWireError):
            fn(data)


def test_version_classes() -> None:
    assert classify_version(1) is VersionKind.V1
    assert classify_version(0x6B3343CF) is VersionKind.V2
    assert classify_version(0x709A50C4) is VersionKind.V2_DRAFT
    assert version_label(0x709A50C4) == "v2-draft"
    assert classify_version(0xFF00001D) is VersionKind.DRAFT
    assert version_label(0xFF00001D) == "draft-29"
    assert classify_version(0xAABABADA) is VersionKind.GREASE
    assert classify_version(int.from_bytes(b"Q050", "big")) is VersionKind.GQUIC
    assert version_label(int.from_bytes(b"Q050", "big")) == "Q050"
    assert classify_version(0xFACEB002) is VersionKind.MVFST
    assert classify_version(0x12345678) is VersionKind.OTHER


@pytest.mark.parametrize(
    "version", [0xFACEB001, 0xFACEB002, 0xFACEB003, 0xFACEB00E, 0xFACEB010, 0xFACEB011, 0xFACEB013]
)
def test_mvfst_versions_are_vendor_versions(version: int) -> None:
    # mvfst's QuicVersion enum (quic/QuicConstants.h): 0xfaceb010/11/13 used to be "other".
    assert classify_version(version) is VersionKind.MVFST
    from fragscope.probes.transport.quic_wire import MVFST_VERSIONS, VENDOR_KINDS

    assert classify_version(version) in VENDOR_KINDS
    assert version in MVFST_VERSIONS


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_reserved_versions_are_grease(seed: int) -> None:
    v = reserved_version(random.Random(seed))
    assert is_reserved_version(v)
    assert f"{v:08x}"[1::2] == "aaaa"


def test_transport_parameters_wire_order_and_values() -> None:
    from fragscope.probes.transport.quic_wire import (
        TransportParameter,
        encode_transport_parameters,
        is_reserved_parameter,
        parse_transport_parameters,
        version_information,
    )

    blob = (
        bytes.fromhex("01")  # max_idle_timeout
        + bytes.fromhex("04")
        + bytes.fromhex("80007530")  # 30000 as a 4-byte varint
        + bytes.fromhex("0c00")  # disable_active_migration, empty
        + bytes.fromhex("11")
        + bytes.fromhex("0c")
        + bytes.fromhex("000000016b3343cf00000001")
        + bytes.fromhex("1b00")  # 27 = 31*0+27: a reserved (GREASE) id
    )
    params = parse_transport_parameters(blob)
    assert [p.param_id for p in params] == [0x01, 0x0C, 0x11, 0x1B]
    assert params[0].name == "max_idle_timeout" and params[0].value_int == 30000
    assert params[1].value == b"" and params[1].value_int is None
    assert version_information(params[2].value) == (1, 0x6B3343CF, 1)
    assert is_reserved_parameter(params[3].param_id) and params[3].name is None
    assert encode_transport_parameters(params) == blob
    with pytest.raises(QuicWireError, match="transport parameter 0x1"):
        parse_transport_parameters(bytes.fromhex("0108"))
    assert parse_transport_parameters(encode_transport_parameters([TransportParameter(5, b"")]))


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=(1 << 62) - 1), st.binary(max_size=40)),
        max_size=10,
    )
)
def test_transport_parameters_round_trip(items: list[tuple[int, bytes]]) -> None:
    from fragscope.probes.transport.quic_wire import (
        TransportParameter,
        encode_transport_parameters,
        parse_transport_parameters,
    )

    params = [TransportParameter(i, v) for i, v in items]
    assert parse_transport_parameters(encode_transport_parameters(params)) == params
