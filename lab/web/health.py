"""Health checks of the web hosts: real TLS and QUIC handshakes. Network I/O (lab only).

Like lab.dns.health's DnsCheck, each check passes only on a correct answer: a TLS handshake
verified against the lab CA plus an HTTP 200, a QUIC handshake completed in the planted
version (RFC 9000 / RFC 9369).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass

from aioquic.asyncio.client import connect
from aioquic.quic.configuration import QuicConfiguration

from fragscope.lab.core.health import Result, Target, lab_target


@dataclass(frozen=True)
class TlsHttpCheck:
    """TLS handshake (SNI ``server_name``, verified by the lab CA), then ``HEAD /`` -> 200."""

    server_name: str

    def describe(self) -> str:
        return f"TLS {self.server_name} + HEAD / -> 200"

    def run(self, target: Target) -> Result:
        address, port, timeout = lab_target(target)
        ctx = ssl.create_default_context(cafile=target.ca_file)
        ctx.set_alpn_protocols(["http/1.1"])
        try:
            with (
                socket.create_connection((address, port), timeout=timeout) as raw,
                ctx.wrap_socket(raw, server_hostname=self.server_name) as tls,
            ):
                request = (
                    f"HEAD / HTTP/1.1\r\nHost: {self.server_name}\r\nConnection: close\r\n\r\n"
                )
                tls.sendall(request.encode())
                head = tls.recv(4096)
        except (OSError, ssl.SSLError) as exc:
            return Result(False, f"{type(exc).__name__}: {exc}")
        status = head.split(b"\r\n", 1)[0]
        if not status.startswith(b"HTTP/1.1 200"):
            return Result(False, f"status line {status[:60]!r}")
        return Result(True, "ok")


@dataclass(frozen=True)
class QuicCheck:
    """A QUIC handshake (ALPN h3) in ``version`` completes and the server answers a PING."""

    server_name: str
    version: int = 0x00000001

    def describe(self) -> str:
        return f"QUIC 0x{self.version:08x} handshake with {self.server_name}"

    def run(self, target: Target) -> Result:
        address, port, timeout = lab_target(target)
        try:
            asyncio.run(
                asyncio.wait_for(
                    quic_handshake(
                        address, port, server_name=self.server_name, version=self.version,
                        ca_file=target.ca_file,
                    ),
                    timeout,
                )
            )  # fmt: skip
        except (TimeoutError, OSError, ConnectionError) as exc:
            return Result(False, f"{type(exc).__name__}: {exc}".strip())
        return Result(True, "ok")


async def quic_handshake(
    address: str, port: int, *, server_name: str, version: int, ca_file: str | None
) -> None:
    """Complete a QUIC handshake offering only ``version``, then a PING.

    Completion proves the server speaks ``version`` without reading aioquic's private
    connection state: a client that supports one version answers a Version Negotiation
    packet by giving up (RFC 9000 section 6.2), and compatible version negotiation may only
    move to a version the client offered (RFC 9368 section 2.3).
    """
    # A refused attempt (server not up yet) leaves aioquic futures holding ConnectionError;
    # the caller reports the failure, so asyncio must not print them again at exit.
    asyncio.get_running_loop().set_exception_handler(lambda _loop, _ctx: None)
    config = QuicConfiguration(
        is_client=True,
        alpn_protocols=["h3"],
        server_name=server_name,
        supported_versions=[version],
    )
    if ca_file:
        config.load_verify_locations(ca_file)
    async with connect(address, port, configuration=config, wait_connected=True) as client:
        await client.ping()
