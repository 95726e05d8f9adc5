"""A small async HTTP/1.1 client for JSON-RPC nodes, CCIP-read and HTTP gateways. Does I/O.

Why not a library: every address fragscope connects to must pass the network policy
*after* resolution (probes/safety.py), the host name's own resolution is a fact the row
records (``depends_on_icann_dns``), and hostile servers must turn into bounded failures
(body size cap, deadline). One request per connection (``Connection: close``), bodies by
Content-Length, chunked coding (RFC 9112 section 7.1) or end of stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.errors import MeasurementError
from fragscope.probes.politeness import DEFAULT_USER_AGENT
from fragscope.probes.safety import NetworkPolicy

MAX_BODY = 4 * 1024 * 1024
MAX_HEADER_LINES = 200


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    address: str
    """The IP address the request went to."""
    elapsed_ms: float = 0.0

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


@dataclass(frozen=True, slots=True)
class Url:
    scheme: str
    host: str
    port: int
    target: str
    host_is_literal: bool
    extra: dict[str, str] = field(default_factory=dict)


def parse_url(url: str) -> Url:
    """Split an http(s) URL; raises invalid_input for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MeasurementError(
            Failure.INVALID_INPUT, Operation.HTTP_REQUEST, f"not an http(s) URL: {url!r}"
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise MeasurementError(Failure.INVALID_INPUT, Operation.HTTP_REQUEST, str(exc)) from exc
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        ipaddress.ip_address(parts.hostname)
        literal = True
    except ValueError:
        literal = False
    return Url(parts.scheme, parts.hostname, port, target, literal)


def depends_on_icann_dns(url: str) -> bool:
    """True when reaching ``url`` needs a host name looked up in the (ICANN) DNS."""
    try:
        parsed = parse_url(url)
    except MeasurementError:
        return False
    return not parsed.host_is_literal and parsed.host != "localhost"


async def _addresses(url: Url) -> list[str]:
    if url.host_is_literal:
        return [url.host]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(url.host, url.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise MeasurementError(
            Failure.DNS_NXDOMAIN_ERROR, Operation.RESOLVE, f"{url.host}: {exc}"
        ) from exc
    return [str(info[4][0]) for info in infos]


async def _read_body(reader: asyncio.StreamReader, headers: list[tuple[str, str]]) -> bytes:
    lookup = {k.lower(): v for k, v in headers}
    if "chunked" in lookup.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            size_line = await reader.readline()
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise ValueError(f"bad chunk size line {size_line[:40]!r}") from exc
            if size == 0:
                break
            if len(body) + size > MAX_BODY:
                raise ValueError(f"body larger than {MAX_BODY} bytes")
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        return bytes(body)
    if "content-length" in lookup:
        length = int(lookup["content-length"])
        if not 0 <= length <= MAX_BODY:
            raise ValueError(f"Content-Length {length} out of bounds")
        return await reader.readexactly(length)
    # Neither length nor chunks: the body ends with the connection (RFC 9112 section 6.3).
    rest = bytearray()
    while chunk := await reader.read(65536):
        rest += chunk
        if len(rest) > MAX_BODY:
            raise ValueError(f"body larger than {MAX_BODY} bytes")
    return bytes(rest)


async def request(
    method: str,
    url: str,
    *,
    policy: NetworkPolicy,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    ssl_context: ssl.SSLContext | None = None,
) -> Response:
    """One HTTP request; failures raise MeasurementError (operation ``http_request``).

    ``headers`` go out as given; they should hold the campaign's User-Agent and From
    (probes/politeness.py), else a default User-Agent is sent."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    parsed = parse_url(url)
    addresses = await asyncio.wait_for(_addresses(parsed), timeout)
    address = addresses[0]
    policy.require(address, Operation.CONNECT)
    ctx = None
    if parsed.scheme == "https":
        ctx = ssl_context or ssl.create_default_context()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                address,
                parsed.port,
                ssl=ctx,
                server_hostname=parsed.host if ctx else None,
            ),
            timeout,
        )
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        from fragscope.probes.errors import classify

        c = classify(exc, Operation.CONNECT)
        raise MeasurementError(c.failure, c.operation or Operation.CONNECT, c.detail) from exc
    try:
        host_header = parsed.host if ":" not in parsed.host else f"[{parsed.host}]"
        default_port = 443 if parsed.scheme == "https" else 80
        if parsed.port != default_port:
            host_header += f":{parsed.port}"
        extra = dict(headers or {})
        lines = [f"{method} {parsed.target} HTTP/1.1", f"Host: {host_header}"]
        if not any(k.lower() == "user-agent" for k in extra):
            lines.append(f"User-Agent: {DEFAULT_USER_AGENT}")
        lines += ["Connection: close", "Accept: */*"]
        for k, v in extra.items():
            lines.append(f"{k}: {v}")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))

        async def exchange() -> Response:
            status_line = await reader.readline()
            parts = status_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
                raise ValueError(f"bad status line {status_line[:80]!r}")
            resp_headers: list[tuple[str, str]] = []
            for _ in range(MAX_HEADER_LINES):
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, sep, value = line.decode("latin-1").partition(":")
                if sep:
                    resp_headers.append((name.strip(), value.strip()))
            else:
                raise ValueError(f"more than {MAX_HEADER_LINES} header lines")
            data = await _read_body(reader, resp_headers)
            return Response(
                status=int(parts[1]),
                reason=parts[2] if len(parts) > 2 else "",
                headers=resp_headers,
                body=data,
                address=address,
                elapsed_ms=(loop.time() - t0) * 1000,
            )

        remaining = max(0.001, timeout - (loop.time() - t0))
        return await asyncio.wait_for(exchange(), remaining)
    except (ValueError, asyncio.IncompleteReadError, UnicodeDecodeError) as exc:
        raise MeasurementError(
            Failure.HTTP_ERROR, Operation.HTTP_REQUEST, f"malformed HTTP response: {exc}"
        ) from exc
    except (OSError, TimeoutError) as exc:
        from fragscope.probes.errors import classify

        c = classify(exc, Operation.HTTP_REQUEST)
        raise MeasurementError(c.failure, c.operation or Operation.HTTP_REQUEST, c.detail) from exc
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)
