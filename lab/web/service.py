"""The web hosts as lab Services, with health checks that prove their planted facts.

``as_service`` returns a :class:`lab.services.Service` that ``lab.world.Lab(extra_services=
...)`` starts in the lab namespace (its files are written at start, lab.web.launch). The
checks do network I/O to lab or loopback addresses only: an HTTPS GET that must show the planted
Alt-Svc and Server headers, and a reserved-version QUIC Initial that must draw a Version
Negotiation packet (RFC 9000 section 6).
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import ssl
import struct
from dataclasses import dataclass
from pathlib import Path

from lab.health import Result
from lab.services import Listener, Service
from lab.topology import in_lab
from lab.web.hosts import WebHost


def _allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or in_lab(address)


@dataclass(frozen=True)
class HttpsCheck:
    """GET / over TLS: status 200, and exactly the planted Alt-Svc and Server headers."""

    alt_svc: str | None
    server: str | None

    def describe(self) -> str:
        return f"GET / -> 200 alt-svc={self.alt_svc!r} server={self.server!r}"

    def run(
        self,
        *,
        address: str,
        port: int,
        protocol: str,
        ca_file: str | None,
        tls_hostname: str | None,
        timeout: float,
    ) -> Result:
        if not _allowed(address):
            return Result(False, f"refusing {address}: not a lab or loopback address")
        ctx = ssl.create_default_context(cafile=ca_file)
        host = tls_hostname or "www.example.test"
        try:
            raw = socket.create_connection((address, port), timeout=timeout)
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
            conn.sock = ctx.wrap_socket(raw, server_hostname=host)
            conn.request("GET", "/", headers={"Host": host})
            resp = conn.getresponse()
            resp.read()
            conn.close()
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            return Result(False, f"{type(exc).__name__}: {exc}")
        alt = resp.headers.get_all("alt-svc") or []
        server = resp.headers.get_all("server") or []
        want_alt = [self.alt_svc] if self.alt_svc else []
        want_server = [self.server] if self.server else []
        ok = resp.status == 200 and alt == want_alt and server == want_server
        return Result(ok, f"status {resp.status} alt-svc {alt} server {server}")


@dataclass(frozen=True)
class QuicVnCheck:
    """A 1200-byte Initial with version 0x1a2a3a4a draws a VN listing ``must_list``."""

    must_list: tuple[int, ...] = (0x00000001,)

    def describe(self) -> str:
        return "VN lists " + ",".join(f"0x{v:08x}" for v in self.must_list)

    def run(
        self,
        *,
        address: str,
        port: int,
        protocol: str,
        ca_file: str | None,
        tls_hostname: str | None,
        timeout: float,
    ) -> Result:
        if not _allowed(address):
            return Result(False, f"refusing {address}: not a lab or loopback address")
        dcid, scid = os.urandom(8), os.urandom(8)
        packet = b"\xc0" + bytes.fromhex("1a2a3a4a") + b"\x08" + dcid + b"\x08" + scid
        packet += b"\0" * (1200 - len(packet))
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.settimeout(timeout)
                s.connect((address, port))
                s.send(packet)
                data = s.recv(2048)
        except OSError as exc:
            return Result(False, f"{type(exc).__name__}: {exc}")
        if len(data) < 7 or data[1:5] != b"\0\0\0\0":
            return Result(False, f"not a VN packet: {data[:16].hex()}")
        # RFC 9000 section 17.2.1: DCID and SCID echo ours swapped, then 32-bit versions.
        off = 5
        for _ in range(2):
            off += 1 + data[off] if off < len(data) else 0
        body = data[off:]
        versions = struct.unpack(f"!{len(body) // 4}I", body[: len(body) // 4 * 4])
        missing = [v for v in self.must_list if v not in versions]
        return Result(not missing, "VN " + ",".join(f"0x{v:08x}" for v in versions))


def as_service(host: WebHost, *, log: Path, group: str = "web") -> Service:
    """A lab Service for ``host``; its config files are written when it starts (no I/O here)."""
    argv, env = host.launch()
    listeners = [
        Listener(a, p, "https", HttpsCheck(alt_svc=host.alt_svc, server=host.server))
        for a, p in host.tcp
    ]
    listeners += [Listener(a, p, "quic", QuicVnCheck()) for a, p in host.udp]
    return Service(
        name=f"web-{host.name}",
        group=group,
        software=host.software,
        argv=argv,
        listeners=tuple(listeners),
        log=log,
        env=env,
    )


__all__ = ["HttpsCheck", "QuicVnCheck", "as_service"]
