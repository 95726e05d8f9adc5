"""One HTTP request over an established TLS stream: HTTP/1.1 or h2 (RFC 9113). Does I/O.

Only what the transport probe needs: the status and the response headers, verbatim. The
body is not read beyond the headers (h2) or a bounded amount (HTTP/1.1).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.errors import MeasurementError

MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """The one request a probe sends: ``method`` ``path`` to ``host`` (Host / :authority)."""

    host: str
    method: str
    path: str
    user_agent: str


@dataclass(slots=True)
class HttpResponse:
    version: str
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name]

    def first(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None


def _text(raw: bytes) -> str:
    # Header bytes are attacker-controlled: keep them verbatim, even when not UTF-8.
    return raw.decode("utf-8", errors="backslashreplace")


def _http_error(detail: str) -> MeasurementError:
    return MeasurementError(Failure.HTTP_ERROR, Operation.HTTP_REQUEST, detail)


async def http1_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: HttpRequest
) -> HttpResponse:
    """Send one HTTP/1.1 request (RFC 9112) and read the status line and headers."""
    r = request
    text = (
        f"{r.method} {r.path} HTTP/1.1\r\nHost: {r.host}\r\nUser-Agent: {r.user_agent}\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    )
    writer.write(text.encode("ascii", errors="replace"))
    await writer.drain()
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise _http_error("response headers exceed the reader's limit") from None
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise MeasurementError(
                Failure.CONNECTION_RESET, Operation.HTTP_REQUEST, "closed before any response"
            ) from None
        raise _http_error(f"response ends inside the headers: {exc.partial[:80]!r}") from None
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise _http_error(f"bad status line {lines[0][:80]!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise _http_error(f"bad header line {line[:80]!r}")
        headers.append((_text(name.strip()).lower(), _text(value.strip())))
    return HttpResponse(_text(parts[0]), int(parts[1]), headers)


async def h2_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: HttpRequest
) -> HttpResponse:
    """Send one h2 request (RFC 9113) with the ``h2`` state machine; read the headers."""
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    conn.initiate_connection()
    stream_id = conn.get_next_available_stream_id()
    conn.send_headers(
        stream_id,
        [
            (b":method", request.method.encode()),
            (b":scheme", b"https"),
            (b":authority", request.host.encode()),
            (b":path", request.path.encode()),
            (b"user-agent", request.user_agent.encode()),
        ],
        end_stream=True,
    )
    writer.write(conn.data_to_send())
    await writer.drain()
    received = 0
    while True:
        data = await reader.read(65536)
        if not data:
            raise MeasurementError(
                Failure.CONNECTION_RESET, Operation.HTTP_REQUEST, "h2: closed before headers"
            )
        received += len(data)
        if received > MAX_HEADER_BYTES * 4:
            raise _http_error("h2: no response headers in the first 256 KiB")
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            raise _http_error(f"h2 protocol error: {exc}") from None
        for event in events:
            if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream_id:
                headers = [(_text(k).lower(), _text(v)) for k, v in event.headers]
                status = next((v for k, v in headers if k == ":status"), "")
                if not status.isdigit():
                    raise _http_error(f"h2: bad :status {status!r}")
                return HttpResponse(
                    "h2", int(status), [(k, v) for k, v in headers if not k.startswith(":")]
                )
            if isinstance(event, h2.events.StreamReset) and event.stream_id == stream_id:
                raise _http_error(f"h2: stream reset, error code {event.error_code}")
            if isinstance(event, h2.events.ConnectionTerminated):
                raise _http_error(f"h2: GOAWAY, error code {event.error_code}")
        pending = conn.data_to_send()
        if pending:
            writer.write(pending)
            await writer.drain()
