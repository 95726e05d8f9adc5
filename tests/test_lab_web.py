"""The lab's web hosts prove their planted facts to independent clients (issue 5).

Python's ssl + http.client for HTTPS and Alt-Svc, a bare aioquic client for QUIC v1/v2,
a raw UDP socket + aioquic's own header parser for Version Negotiation lists.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import socket
import ssl

import pytest
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.buffer import Buffer
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, QuicEvent
from aioquic.quic.packet import pull_quic_header

from fragscope.lab.web.app import HOSTILE_STRING
from tests.fixtures.web_hosts import WebLab

V1, V2 = 0x00000001, 0x6B3343CF


def https_get(lab: WebLab, name: str, family: int = 4) -> http.client.HTTPResponse:
    address, port = lab.addr(name, family)
    ctx = ssl.create_default_context(cafile=str(lab.pki.ca))
    conn = http.client.HTTPSConnection(address, port, context=ctx, timeout=5)
    # SNI and certificate name come from the Host we verify against.
    conn.sock = ctx.wrap_socket(
        socket.create_connection((address, port), timeout=5), server_hostname="www.example.test"
    )
    conn.request("GET", "/", headers={"Host": "www.example.test"})
    return conn.getresponse()


def test_h3_host_sends_exactly_one_alt_svc(web_lab: WebLab) -> None:
    for family in (4, 6):
        resp = https_get(web_lab, "h3", family)
        _, port = web_lab.addr("h3", family)
        assert resp.status == 200
        assert resp.headers.get_all("alt-svc") == [f'h3=":{port}"; ma=3600']


def test_tcp_only_and_advertised_hosts(web_lab: WebLab) -> None:
    assert https_get(web_lab, "tcponly").headers.get_all("alt-svc") is None
    resp = https_get(web_lab, "advertised")
    _, port = web_lab.addr("advertised")
    assert resp.headers.get_all("alt-svc") == [f'h3=":{port}"; ma=3600']
    assert web_lab.hosts["advertised"].udp == ()


def test_hostile_host(web_lab: WebLab) -> None:
    resp = https_get(web_lab, "hostile")
    assert resp.headers.get_all("server") == [HOSTILE_STRING]
    assert HOSTILE_STRING.encode() in resp.read()


def test_ipv6_only_host(web_lab: WebLab) -> None:
    assert https_get(web_lab, "h3v6", 6).status == 200
    with pytest.raises(KeyError):
        web_lab.addr("h3v6", 4)


class _Client(QuicConnectionProtocol):
    def __init__(self, quic: QuicConnection, **kw: object) -> None:
        super().__init__(quic, **kw)  # type: ignore[arg-type]
        self.done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, HandshakeCompleted | ConnectionTerminated) and not self.done.done():
            self.done.set_result(isinstance(event, HandshakeCompleted))


async def bare_version(address: str, port: int, ca: str, versions: list[int]) -> int | None:
    cfg = QuicConfiguration(is_client=True, alpn_protocols=["h3"], server_name="www.example.test")
    cfg.load_verify_locations(ca)
    cfg.supported_versions = versions
    cfg.original_version = versions[0]
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: _Client(QuicConnection(configuration=cfg)), remote_addr=(address, port)
    )
    try:
        proto.connect(transport.get_extra_info("peername"))
        ok = await asyncio.wait_for(proto.done, 5)
        return proto._quic._version if ok else None
    finally:
        transport.close()


@pytest.mark.parametrize("versions", [[V1], [V2]])
def test_hypercorn_speaks_v1_and_v2(web_lab: WebLab, versions: list[int]) -> None:
    for family in (4, 6):
        address, port = web_lab.addr("h3", family)
        got = asyncio.run(bare_version(address, port, str(web_lab.pki.ca), versions))
        assert got == versions[0]


def vn_list(address: str, port: int) -> list[int]:
    packet = bytes([0xC0]) + bytes.fromhex("1a2a3a4a") + b"\x08" + os.urandom(8) + b"\x08"
    packet += os.urandom(8)
    packet += b"\0" * (1200 - len(packet))
    with socket.socket(
        socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_DGRAM
    ) as s:
        s.settimeout(3)
        s.sendto(packet, (address, port))
        data = s.recv(2048)
    return list(pull_quic_header(Buffer(data=data), host_cid_length=8).supported_versions)


def test_vn_lists(web_lab: WebLab) -> None:
    assert vn_list(*web_lab.addr("h3")) == [V1, V2]
    caddy = vn_list(*web_lab.addr("caddy"))
    # quic-go in Caddy 2.6.2: v1, a GREASE version, the v2 draft and draft-29.
    assert V1 in caddy and 0x709A50C4 in caddy and 0xFF00001D in caddy
    assert any(v & 0x0F0F0F0F == 0x0A0A0A0A for v in caddy)
