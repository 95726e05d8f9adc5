"""The DPI censors' parsers and engines without a network: RFC 9001 and RFC 9369 Appendix A
client Initials (tests/dpi/data/), ClientHellos made by aioquic's TLS and QUIC clients,
and hypothesis for the reassembly of TCP segments, TLS records and CRYPTO frames."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from aioquic.buffer import Buffer
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.packet import QuicProtocolVersion
from aioquic.tls import Context, Epoch
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6

from fragscope.lab.dpi import clienthello, initial
from fragscope.lab.dpi.clienthello import EXT_ECH, ClientHelloError, TlsStream
from fragscope.lab.dpi.daemon import residual_element_argv
from fragscope.lab.dpi.inline import InlineEngine, Verdict
from fragscope.lab.dpi.policy import DpiPolicy, Mode, Reason, TcpAction, blocked_names
from fragscope.lab.dpi.reassembly import Reassembler
from fragscope.lab.dpi.residual import ResidualEngine

DATA = Path(__file__).parent / "data"
CLIENT, SERVER = "10.99.128.25", "10.99.80.1"
INLINE = DpiPolicy(Mode.INLINE, blocked_names(["WWW.example.test."]), block_ech=True,
                   tcp_action=TcpAction.RESET)  # fmt: skip
RESIDUAL = DpiPolicy(Mode.RESIDUAL, blocked_names(["www.example.test"]), residual_s=10,
                     trigger_probability=1.0)  # fmt: skip


def vector(name: str) -> bytes:
    lines = (DATA / name).read_text().splitlines()
    return bytes.fromhex("".join(line for line in lines if not line.startswith("#")))


@pytest.mark.parametrize(
    ("name", "version"),
    [("rfc9001-a2-client-initial.hex", 1), ("rfc9369-a2-client-initial.hex", 0x6B3343CF)],
)
def test_rfc_client_initials_decrypt_to_their_client_hello(name: str, version: int) -> None:
    datagram = vector(name)
    (opened,) = initial.open_initials(datagram)
    # RFC 9001 A.2 / RFC 9369 A.2: DCID 8394c8f03e515708, packet number 2, one CRYPTO
    # frame at offset 0 of 241 bytes, a ClientHello (type 1, length 0xed) for example.com.
    assert (opened.version, opened.dcid.hex(), opened.packet_number) == (
        version, "8394c8f03e515708", 2
    )  # fmt: skip
    ((offset, data),) = opened.crypto
    assert offset == 0 and len(data) == 241 and data[:4].hex() == "010000ed"
    hello = initial.client_hello_of(datagram)
    assert hello is not None and hello.sni == "example.com" and not hello.has_ech
    assert hello.extensions == (0, 0xFF01, 10, 16, 5, 51, 43, 13, 45, 28, 57)


def test_a_tampered_initial_does_not_decrypt() -> None:
    datagram = bytearray(vector("rfc9001-a2-client-initial.hex"))
    datagram[100] ^= 1
    with pytest.raises(initial.InitialError, match="decryption failed"):
        list(initial.open_initials(bytes(datagram)))
    # The v2 packet read as v1 (its version field rewritten) fails too: other salt.
    v2 = bytearray(vector("rfc9369-a2-client-initial.hex"))
    v2[1:5] = (1).to_bytes(4, "big")
    with pytest.raises(initial.InitialError):
        list(initial.open_initials(bytes(v2)))


def quic_datagrams(sni: str, *, version: int = QuicProtocolVersion.VERSION_1,
                   big: bool = False, ech: bool = False) -> list[bytes]:  # fmt: skip
    """The first flight of a real aioquic client."""
    config = QuicConfiguration(
        is_client=True,
        server_name=sni,
        alpn_protocols=["h3"],
        supported_versions=[version],
        quantum_readiness_test=big,
    )
    conn = QuicConnection(configuration=config)
    if ech:
        init = conn._initialize

        def with_ech(peer_cid: bytes) -> None:
            init(peer_cid)
            conn.tls.handshake_extensions.append((EXT_ECH, bytes(200)))

        conn._initialize = with_ech  # type: ignore[method-assign]
    conn.connect((SERVER, 443), now=0.0)
    return [d for d, _ in conn.datagrams_to_send(now=0.0)]


def udp(payload: bytes, sport: int = 40_000, *, v6: bool = False) -> bytes:
    ip = IPv6(src="fd99:8000:0:6::1", dst="fd99::80:1") if v6 else IP(src=CLIENT, dst=SERVER)
    return bytes(ip / UDP(sport=sport, dport=443) / payload)


@pytest.mark.parametrize("version", [QuicProtocolVersion.VERSION_1, QuicProtocolVersion.VERSION_2])
def test_inline_drops_a_blocked_quic_flow_and_passes_others(version: int) -> None:
    engine = InlineEngine(INLINE)
    (blocked,) = quic_datagrams("www.example.test", version=version)
    assert engine.handle(udp(blocked)) is Verdict.DROP
    assert engine.handle(udp(b"\x40" + bytes(30))) is Verdict.DROP  # the rest of the flow
    (fine,) = quic_datagrams("innocuous.example.test", version=version)
    assert engine.handle(udp(fine, 40_001)) is Verdict.ACCEPT
    assert engine.handle(udp(fine, 40_002, v6=True)) is Verdict.ACCEPT


@pytest.mark.parametrize("version", [QuicProtocolVersion.VERSION_1, QuicProtocolVersion.VERSION_2])
def test_a_client_hello_over_two_initials_is_blocked_inline_and_slips_past_residual(
    version: int,
) -> None:
    datagrams = quic_datagrams("www.example.test", version=version, big=True)
    assert len(datagrams) == 2
    assert initial.client_hello_of(datagrams[0]) is None  # half a ClientHello
    residual = ResidualEngine(RESIDUAL)
    assert residual.observe(udp(datagrams[0])) is None and residual.matched == 0
    engine = InlineEngine(INLINE)
    assert [engine.handle(udp(d)) for d in datagrams] == [Verdict.ACCEPT, Verdict.DROP]
    # In reverse order too: CRYPTO frames are put back by offset.
    engine = InlineEngine(INLINE)
    assert [engine.handle(udp(d)) for d in reversed(datagrams)] == [Verdict.ACCEPT, Verdict.DROP]


def test_ech_is_blocked_inline_whatever_the_sni() -> None:
    blocks = []
    engine = InlineEngine(INLINE, on_block=blocks.append)
    (datagram,) = quic_datagrams("innocuous.example.test", ech=True)
    assert engine.handle(udp(datagram)) is Verdict.DROP
    assert [(b.reason, b.sni) for b in blocks] == [(Reason.ECH, "innocuous.example.test")]
    # The residual censor (block_ech false) does not care.
    assert ResidualEngine(RESIDUAL).observe(udp(datagram)) is None


def test_residual_blocks_the_3_tuple_of_a_whole_blocked_client_hello() -> None:
    (datagram,) = quic_datagrams("www.example.test")
    block = ResidualEngine(RESIDUAL).observe(udp(datagram))
    assert block is not None
    assert (str(block.client), str(block.server), block.port, block.seconds) == (
        CLIENT, SERVER, 443, 10
    )  # fmt: skip
    assert residual_element_argv("fragscope_vantage", block) == [
        "nft", "add", "element", "inet", "fragscope_vantage", "residual4",
        "{ 10.99.128.25 . 10.99.80.1 . 443 timeout 10000ms }",
    ]  # fmt: skip


def test_the_trigger_draw_is_seeded_and_near_its_probability() -> None:
    policy = DpiPolicy(Mode.RESIDUAL, frozenset({"a"}), trigger_probability=0.75, seed=21)
    draws = [policy.triggers(CLIENT, p, SERVER, 443) for p in range(20_000, 30_000)]
    assert abs(sum(draws) / len(draws) - 0.75) < 0.02
    assert draws == [policy.triggers(CLIENT, p, SERVER, 443) for p in range(20_000, 30_000)]
    other = DpiPolicy(Mode.RESIDUAL, frozenset({"a"}), trigger_probability=0.75, seed=22)
    assert draws != [other.triggers(CLIENT, p, SERVER, 443) for p in range(20_000, 30_000)]


def tls_client_hello(sni: str, *, ech: bool = False) -> bytes:
    """A TLS 1.3 ClientHello handshake message from aioquic's TLS client."""
    ctx = Context(is_client=True, alpn_protocols=["h2"], server_name=sni)
    if ech:
        ctx.handshake_extensions.append((EXT_ECH, bytes(100)))
    buffers = {epoch: Buffer(capacity=8192) for epoch in Epoch}
    ctx.handle_message(b"", buffers)
    return buffers[Epoch.INITIAL].data


def records(message: bytes, sizes: list[int]) -> bytes:
    """``message`` as TLS handshake records of the given fragment sizes (the rest last)."""
    out, pos = b"", 0
    for size in [*sizes, len(message)]:
        chunk = message[pos : pos + max(1, size)]
        if chunk:
            out += b"\x16\x03\x01" + len(chunk).to_bytes(2, "big") + chunk
        pos += len(chunk)
    return out


def test_client_hello_fields_and_errors() -> None:
    hello = clienthello.parse(tls_client_hello("WWW.Example.Test", ech=True))
    assert hello.sni == "www.example.test" and hello.has_ech
    assert INLINE.reason(hello) is Reason.SNI
    with pytest.raises(ClientHelloError, match="handshake type"):
        clienthello.parse(b"\x02\x00\x00\x00")
    with pytest.raises(ClientHelloError, match="truncated"):
        clienthello.parse(tls_client_hello("a.test")[:50])
    with pytest.raises(ClientHelloError, match="content type"):
        TlsStream().feed(b"GET / HTTP/1.1\r\n")


@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=1, max_size=600), seed=st.integers(0, 2**32 - 1))
def test_reassembly_restores_any_split_order_and_duplicates(data: bytes, seed: int) -> None:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(0, 8))))
    ranges = [(a, data[a:b]) for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    ranges += rng.sample(ranges, rng.randint(0, len(ranges)))  # retransmissions
    rng.shuffle(ranges)
    r = Reassembler(limit=1024)
    for offset, chunk in ranges:
        r.add(offset, chunk)
    assert r.prefix == data


@settings(max_examples=40, deadline=None)
@given(
    record_sizes=st.lists(st.integers(1, 120), max_size=5),
    cuts=st.lists(st.integers(1, 400), max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_inline_reads_a_tcp_client_hello_however_it_is_split(
    record_sizes: list[int], cuts: list[int], seed: int
) -> None:
    stream = records(tls_client_hello("www.example.test"), record_sizes)
    points = sorted({c for c in cuts if c < len(stream)})
    segments = [(a, stream[a:b]) for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    random.Random(seed).shuffle(segments)
    engine, isn = InlineEngine(INLINE), 1_000_000
    ip = IP(src=CLIENT, dst=SERVER)
    assert engine.handle(bytes(ip / TCP(sport=40_000, dport=443, flags="S", seq=isn))) is (
        Verdict.ACCEPT
    )
    verdicts = [
        engine.handle(bytes(ip / TCP(sport=40_000, dport=443, flags="PA", seq=isn + 1 + off) / c))
        for off, c in segments
    ]
    # Every segment passes until the one that completes the ClientHello: that one is reset.
    assert verdicts == [Verdict.ACCEPT] * (len(verdicts) - 1) + [Verdict.RESET]
    later = bytes(ip / TCP(sport=40_000, dport=443, flags="A", seq=isn + 1 + len(stream)))
    assert engine.handle(later) is Verdict.RESET


def test_inline_passes_tcp_that_is_not_tls_and_innocuous_hellos() -> None:
    engine, ip = InlineEngine(INLINE), IP(src=CLIENT, dst=SERVER)
    http = bytes(ip / TCP(sport=40_010, dport=443, flags="PA", seq=5) / b"GET / HTTP/1.1\r\n\r\n")
    assert engine.handle(http) is Verdict.ACCEPT
    hello = records(tls_client_hello("innocuous.example.test"), [])
    ok = bytes(ip / TCP(sport=40_011, dport=443, flags="PA", seq=9) / hello)
    assert engine.handle(ok) is Verdict.ACCEPT
    drop = DpiPolicy(Mode.INLINE, blocked_names(["www.example.test"]))
    blocked = bytes(ip / TCP(sport=40_012, dport=443, flags="PA", seq=9)
                    / records(tls_client_hello("www.example.test"), []))  # fmt: skip
    assert InlineEngine(drop).handle(blocked) is Verdict.DROP  # tcp_action "drop"
