"""DNS over TCP, TLS (DoT), HTTPS (DoH) and QUIC (DoQ): one exchange each. Does I/O.

Each function sends one query's wire and returns the response's wire as received and the
round-trip time, or raises :class:`ExchangeError` (a MeasurementError that may carry the
offending bytes). A fresh connection per exchange keeps attempts independent; the RTT
therefore includes connection set-up (documented on ``dns_observations.rtt_ms``).
DoH goes through httpx2 with dnspython's transport (RFC 8484 POST or GET), DoQ through
dnspython's QUIC streams (RFC 9250 section 4.2: ID 0, one query per stream).
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import struct
import time
from collections.abc import Mapping

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.dns.codec import QueryTemplate, question_matches
from fragscope.probes.dns.resolvers import ResolverURL
from fragscope.probes.doh import doh_client
from fragscope.probes.errors import MeasurementError, classify

MAX_TCP_MESSAGE = 65535


class ExchangeError(MeasurementError):
    """A failed exchange; ``wire`` holds what the server sent, if anything."""

    def __init__(
        self, failure: Failure, operation: Operation, detail: str = "", wire: bytes | None = None
    ) -> None:
        super().__init__(failure, operation, detail)
        self.wire = wire


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    """A verifying client context: the given CA bundle, else the system's."""
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def check_response(wire: bytes, template: QueryTemplate, qid: int) -> None:
    """The checks every transport shares: ID, QR bit, echoed question."""
    if len(wire) < 12:
        raise ExchangeError(
            Failure.DNS_SERVER_MISBEHAVING,
            Operation.DNS_ROUND_TRIP,
            f"response of {len(wire)} octets is shorter than a header",
            wire,
        )
    got = (wire[0] << 8) | wire[1]
    if got != qid:
        raise ExchangeError(
            Failure.DNS_SERVER_MISBEHAVING,
            Operation.DNS_ROUND_TRIP,
            f"response ID {got} does not match query ID {qid}",
            wire,
        )
    if not wire[2] & 0x80:
        raise ExchangeError(
            Failure.DNS_SERVER_MISBEHAVING, Operation.DNS_ROUND_TRIP, "QR bit not set", wire
        )
    if not question_matches(wire, template):
        raise ExchangeError(
            Failure.DNS_SERVER_MISBEHAVING,
            Operation.DNS_ROUND_TRIP,
            "response does not echo the question",
            wire,
        )


async def stream_exchange(
    resolver: ResolverURL,
    template: QueryTemplate,
    qid: int,
    *,
    timeout: float,
    tls: ssl.SSLContext | None = None,
) -> tuple[bytes, float]:
    """DNS over TCP (RFC 7766) or, with ``tls``, over TLS (RFC 7858): 2-octet length framing."""
    operation = Operation.CONNECT
    writer: asyncio.StreamWriter | None = None
    start = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                resolver.address,
                resolver.port,
                ssl=tls,
                server_hostname=resolver.auth_name if tls else None,
            )
            operation = Operation.DNS_ROUND_TRIP
            wire = template.wire(qid)
            writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
            try:
                length = struct.unpack("!H", await reader.readexactly(2))[0]
            except asyncio.IncompleteReadError as exc:
                raise ExchangeError(
                    Failure.CONNECTION_RESET,
                    operation,
                    f"connection closed before a response ({len(exc.partial)} octets)",
                    exc.partial or None,
                ) from None
            try:
                response = await reader.readexactly(length)
            except asyncio.IncompleteReadError as exc:
                raise ExchangeError(
                    Failure.DNS_SERVER_MISBEHAVING,
                    operation,
                    f"connection closed after {len(exc.partial)} of {length} announced octets",
                    exc.partial or None,
                ) from None
            rtt = time.monotonic() - start
    except ExchangeError:
        raise
    except TimeoutError:
        raise ExchangeError(
            Failure.GENERIC_TIMEOUT_ERROR,
            operation,
            f"no complete response within {timeout:g} s",
        ) from None
    except (OSError, ssl.SSLError) as exc:
        c = classify(exc, operation)
        raise ExchangeError(c.failure, c.operation or operation, c.detail) from None
    finally:
        if writer is not None:
            writer.close()
            # Closing must not hang on a hostile peer; abort after a short grace.
            try:
                async with asyncio.timeout(0.5):
                    await writer.wait_closed()
            except (TimeoutError, OSError, ssl.SSLError):
                writer.transport.abort()
    check_response(response, template, qid)
    return response, rtt


async def doh_exchange(
    resolver: ResolverURL,
    template: QueryTemplate,
    *,
    timeout: float,
    tls: ssl.SSLContext,
    identity: Mapping[str, str],
) -> tuple[bytes, float]:
    """DNS over HTTPS (RFC 8484): ID 0 (section 4.1), POST or GET ``?dns=`` base64url;
    ``identity`` is the User-Agent and From headers (probes/politeness.py)."""
    wire = template.wire(0)
    headers = {"accept": "application/dns-message"}
    start = time.monotonic()
    try:
        async with (
            asyncio.timeout(timeout),
            doh_client(resolver.address, verify=tls, headers=identity) as client,
        ):
            if resolver.http_get:
                encoded = base64.urlsafe_b64encode(wire).rstrip(b"=").decode()
                response = await client.get(
                    resolver.doh_url, headers=headers, params={"dns": encoded}
                )
            else:
                headers["content-type"] = "application/dns-message"
                response = await client.post(resolver.doh_url, headers=headers, content=wire)
            body = response.content
    except TimeoutError:
        raise ExchangeError(
            Failure.GENERIC_TIMEOUT_ERROR, Operation.HTTP_REQUEST, f"no response in {timeout:g} s"
        ) from None
    except Exception as exc:
        raise _http_failure(exc) from None
    rtt = time.monotonic() - start
    if not 200 <= response.status_code <= 299:
        raise ExchangeError(
            Failure.HTTP_ERROR,
            Operation.HTTP_REQUEST,
            f"HTTP status {response.status_code}",
            body[:65535] or None,
        )
    check_response(body, template, 0)
    return body, rtt


def _http_failure(exc: BaseException) -> ExchangeError:
    # httpx2 wraps the socket and TLS errors; look at the cause chain for the real one.
    inner: BaseException | None = exc
    while inner is not None:
        if isinstance(inner, ssl.SSLError | OSError):
            c = classify(inner, Operation.CONNECT)
            return ExchangeError(c.failure, c.operation or Operation.CONNECT, f"{exc!r}")
        inner = inner.__cause__ or inner.__context__
    text = f"{type(exc).__name__}: {exc}"
    if "ConnectError" in type(exc).__name__:
        return ExchangeError(Failure.CONNECTION_REFUSED, Operation.CONNECT, text)
    if "Timeout" in type(exc).__name__:
        return ExchangeError(Failure.GENERIC_TIMEOUT_ERROR, Operation.HTTP_REQUEST, text)
    return ExchangeError(Failure.HTTP_ERROR, Operation.HTTP_REQUEST, text)


async def doq_exchange(
    resolver: ResolverURL,
    template: QueryTemplate,
    *,
    timeout: float,
    ca_file: str | None,
) -> tuple[bytes, float]:
    """DNS over QUIC (RFC 9250): one bidirectional stream, 2-octet framing, ID 0."""
    import dns.quic

    start = time.monotonic()
    operation = Operation.QUIC_HANDSHAKE
    try:
        async with asyncio.timeout(timeout):
            cfactory, mfactory = dns.quic.factories_for_backend()  # type: ignore[no-untyped-call]
            async with (
                cfactory() as context,
                mfactory(
                    context, verify_mode=ca_file or True, server_name=resolver.auth_name
                ) as manager,
            ):
                connection = manager.connect(resolver.address, resolver.port)
                stream = await connection.make_stream(timeout)
                operation = Operation.DNS_ROUND_TRIP
                async with stream:
                    await stream.send(template.wire(0), True)
                    body = await stream.receive(max(timeout - (time.monotonic() - start), 0.01))
                rtt = time.monotonic() - start
    except TimeoutError:
        failure = (
            Failure.QUIC_HANDSHAKE_TIMEOUT
            if operation is Operation.QUIC_HANDSHAKE
            else Failure.GENERIC_TIMEOUT_ERROR
        )
        raise ExchangeError(failure, operation, f"no response in {timeout:g} s") from None
    except Exception as exc:
        import dns.exception

        if isinstance(exc, dns.exception.Timeout):
            failure = (
                Failure.QUIC_HANDSHAKE_TIMEOUT
                if operation is Operation.QUIC_HANDSHAKE
                else Failure.GENERIC_TIMEOUT_ERROR
            )
            raise ExchangeError(failure, operation, f"{exc!r}") from None
        if isinstance(exc, ConnectionRefusedError | OSError):
            c = classify(exc, Operation.CONNECT)
            raise ExchangeError(c.failure, c.operation or operation, c.detail) from None
        raise ExchangeError(
            Failure.QUIC_CONNECTION_CLOSED, operation, f"{type(exc).__name__}: {exc}"
        ) from None
    check_response(body, template, 0)
    return body, rtt
