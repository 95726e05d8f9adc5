"""The lab's web hosts (part 2): every planted fact of truth.toml's [web.*], proven against
the running lab (Hypercorn + aioquic, Caddy) with independent clients: a bare aioquic
client, a hand-made Version Negotiation probe (RFC 9000 section 6 / 17.2.1), Python's ssl
with raw HTTP/1.1, and dnspython against the lab's validating resolver.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct

import dns.message
import dns.query
import dns.rdatatype
import dns.rdtypes.svcbbase
import pytest
from aioquic.asyncio import connect
from aioquic.quic.configuration import QuicConfiguration

from fragscope.lab.truth import QUIC_VERSIONS, WebHost, load
from fragscope.lab.world import Lab

pytestmark = pytest.mark.lab

TRUTH = load()
HOSTS = list(TRUTH.web.values())
UDP_HOSTS = [h for h in HOSTS if h.has_udp]
NO_UDP_HOSTS = [h for h in HOSTS if not h.has_udp]
TCP_HOSTS = [h for h in HOSTS if h.has_tcp]
ICANN = TRUTH.dns.resolvers["icann"]


def endpoints(hosts: list[WebHost]) -> list[tuple[WebHost, str]]:
    return [(h, a) for h in hosts for a in h.addresses]


def ids(cases: list[tuple[WebHost, str]]) -> list[str]:
    return [f"{h.key}-{a}" for h, a in cases]


def resolve(name: str, rdtype: str) -> list[str]:
    q = dns.message.make_query(name, rdtype)
    r = dns.query.udp(q, ICANN.address, port=53, timeout=3)
    want = dns.rdatatype.from_text(rdtype)
    return sorted(rd.to_text() for rr in r.answer if rr.rdtype == want for rd in rr)


def https_get(lab: Lab, host: WebHost, address: str, alpn: str = "http/1.1") -> tuple[str, bytes]:
    """(negotiated ALPN, raw HTTP/1.1 response) over TCP with the lab CA and SNI."""
    ctx = ssl.create_default_context(cafile=str(lab.ca_file))
    ctx.set_alpn_protocols([alpn])
    with (
        socket.create_connection((address, host.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=host.name.rstrip(".")) as tls,
    ):
        proto = tls.selected_alpn_protocol() or ""
        if proto != "http/1.1":
            return proto, b""
        tls.sendall(f"GET / HTTP/1.1\r\nHost: {host.name}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    return proto, data


def headers_of(response: bytes) -> dict[str, list[str]]:
    # UTF-8, as the planted headers are written (the hostile one's C1 CSI is two bytes).
    head = response.split(b"\r\n\r\n", 1)[0].decode("utf-8").split("\r\n")[1:]
    out: dict[str, list[str]] = {}
    for line in head:
        k, _, v = line.partition(":")
        out.setdefault(k.strip().lower(), []).append(v.strip())
    return out


# -- DNS: names generated from truth.toml ------------------------------------------------
@pytest.mark.parametrize("host", HOSTS, ids=[h.key for h in HOSTS])
def test_web_names_resolve_as_planted(lab: Lab, host: WebHost) -> None:
    assert resolve(host.name, "A") == ([host.address] if host.address else [])
    assert resolve(host.name, "AAAA") == ([host.address6] if host.address6 else [])
    q = dns.message.make_query(host.name, "HTTPS")
    r = dns.query.udp(q, ICANN.address, port=53, timeout=3)
    (rd,) = [rd for rr in r.answer if rr.rdtype == dns.rdatatype.HTTPS for rd in rr]
    keys = dns.rdtypes.svcbbase.ParamKey
    assert [a.decode() for a in rd.params[keys.ALPN].ids] == list(host.https_alpn)
    assert rd.params[keys.PORT].port == host.port


# -- QUIC -----------------------------------------------------------------------------------
async def _handshake(address: str, port: int, name: str, version: int, ca: str) -> tuple[int, int]:
    """(version in use, Retry packets received) after a completed handshake and a PING."""
    config = QuicConfiguration(
        is_client=True, alpn_protocols=["h3"], server_name=name, supported_versions=[version]
    )
    config.load_verify_locations(ca)
    async with connect(address, port, configuration=config, wait_connected=True) as client:
        await client.ping()
        return int(client._quic._version or -1), int(client._quic._retry_count)


QUIC_CASES = [(h, a, v) for h, a in endpoints(UDP_HOSTS) for v in h.quic_versions]


@pytest.mark.parametrize(
    ("host", "address", "version"), QUIC_CASES, ids=[f"{h.key}-{a}-{v}" for h, a, v in QUIC_CASES]
)
def test_quic_handshake_in_each_planted_version(
    lab: Lab, host: WebHost, address: str, version: str
) -> None:
    got, retries = asyncio.run(
        asyncio.wait_for(
            _handshake(
                address, host.port, host.name.rstrip("."), QUIC_VERSIONS[version], str(lab.ca_file)
            ),
            5,
        )
    )
    assert got == QUIC_VERSIONS[version]
    # RFC 9000 section 8.1.2: only the Retry host validates the address with a Retry.
    assert retries == (1 if host.retry else 0)


def version_negotiation(address: str, port: int) -> list[int]:
    """Send a 1200-byte Initial-shaped packet with a reserved version (0x?a?a?a?a, RFC 9000
    section 15); a QUIC server answers Version Negotiation listing what it supports."""
    dcid, scid = b"\x11" * 8, b"\x22" * 8
    packet = b"\xc0" + struct.pack("!I", 0x1A2A3A4A) + bytes([8]) + dcid + bytes([8]) + scid
    packet += b"\x00" * (1200 - len(packet))
    fam = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.connect((address, port))
        s.send(packet)
        reply = s.recv(2048)
    assert reply[0] & 0x80 and reply[1:5] == b"\x00\x00\x00\x00", "not a VN packet"
    # VN echoes the client's connection IDs swapped (RFC 9000 section 17.2.1).
    assert reply[5] == 8 and reply[6:14] == scid and reply[14] == 8 and reply[15:23] == dcid
    body = reply[23:]
    return [struct.unpack("!I", body[i : i + 4])[0] for i in range(0, len(body), 4)]


@pytest.mark.parametrize(("host", "address"), endpoints(UDP_HOSTS), ids=ids(endpoints(UDP_HOSTS)))
def test_version_negotiation_lists_the_planted_versions(
    lab: Lab, host: WebHost, address: str
) -> None:
    listed = version_negotiation(address, host.port)
    # Greasing values (0x?a?a?a?a) may be mixed in; the real versions must match the truth.
    real = [v for v in listed if v & 0x0F0F0F0F != 0x0A0A0A0A]
    assert real == [QUIC_VERSIONS[v] for v in host.vn_versions]


@pytest.mark.parametrize(
    ("host", "address"), endpoints(NO_UDP_HOSTS), ids=ids(endpoints(NO_UDP_HOSTS))
)
def test_hosts_without_udp_refuse_quic(lab: Lab, host: WebHost, address: str) -> None:
    # Nothing listens on UDP/443: the kernel answers ICMP port unreachable, which a
    # connected UDP socket reports as ECONNREFUSED (no QUIC server behind the address).
    with pytest.raises(ConnectionRefusedError):
        version_negotiation(address, host.port)


# -- HTTPS over TCP ---------------------------------------------------------------------
@pytest.mark.parametrize(("host", "address"), endpoints(TCP_HOSTS), ids=ids(endpoints(TCP_HOSTS)))
def test_https_headers_as_planted(lab: Lab, host: WebHost, address: str) -> None:
    proto, response = https_get(lab, host, address)
    assert proto == "http/1.1"
    assert response.startswith(b"HTTP/1.1 200")
    headers = headers_of(response)
    if host.server_header:
        assert headers.get("server") == [host.server_header]
    alt_svc = headers.get("alt-svc", [])
    if host.alt_svc:
        # One header, advertising h3 on the host's own port (RFC 7838 section 3).
        assert len(alt_svc) == 1 and alt_svc[0].startswith(f'{host.alt_svc}=":{host.port}"')
    else:
        assert alt_svc == []


@pytest.mark.parametrize(("host", "address"), endpoints(TCP_HOSTS), ids=ids(endpoints(TCP_HOSTS)))
def test_tcp_speaks_h2(lab: Lab, host: WebHost, address: str) -> None:
    proto, _ = https_get(lab, host, address, alpn="h2")
    assert proto == "h2"


def test_advertised_host_promises_h3_it_cannot_serve(lab: Lab) -> None:
    host = TRUTH.web["noudp"]
    assert "h3" in host.https_alpn and host.alt_svc == "h3" and not host.has_udp
    _, response = https_get(lab, host, host.addresses[0])
    assert headers_of(response)["alt-svc"][0].startswith('h3=":443"')
    with pytest.raises(ConnectionRefusedError):
        version_negotiation(host.addresses[0], host.port)


def test_hostile_host_plants_a_script_tag(lab: Lab) -> None:
    host = TRUTH.web["hostile"]
    _, response = https_get(lab, host, host.addresses[0])
    headers = headers_of(response)
    (server,) = headers["server"]
    assert server == host.server_header
    assert "<script>alert(1)</script>" in server and "\x1b[31m" in server
    assert b"<script>alert(1)</script>" in response.split(b"\r\n\r\n", 1)[1]


def test_retry_host_is_quic_only(lab: Lab) -> None:
    host = TRUTH.web["retry"]
    assert host.retry and not host.has_tcp and host.https_alpn == ("h3",)
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection((host.addresses[0], host.port), timeout=3),
    ):
        pass


def test_v6only_host_has_no_ipv4(lab: Lab) -> None:
    host = TRUTH.web["v6only"]
    assert host.address is None and resolve(host.name, "A") == []
    # Its IPv6 address answers; no IPv4 address of the lab's web range belongs to it.
    _, response = https_get(lab, host, host.addresses[0])
    assert response.startswith(b"HTTP/1.1 200")


def test_dual_stack_host_serves_the_same_over_both_families(lab: Lab) -> None:
    host = TRUTH.web["www"]
    assert host.address and host.address6
    bodies = {a: https_get(lab, host, a)[1].split(b"\r\n\r\n", 1)[1] for a in host.addresses}
    assert len(set(bodies.values())) == 1 and b"HTTP/1.1" in next(iter(bodies.values()))
