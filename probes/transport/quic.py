"""``transport.quic``: an aioquic handshake and one HTTP/3 request to one address. Does I/O.

Offers QUIC v1 and v2 (RFC 9369) with ALPN h3 and records how far it got (no reply to the
Initial, handshake timeout, CONNECTION_CLOSE, version mismatch), the negotiated version,
ALPN, cipher, Retry, Version Negotiation, the server's transport parameters in wire order,
the certificate verdict, then the HTTP/3 status and server header. aioquic has no
deadlines of its own: every wait here has one, and the connection is abandoned without
waiting for the close to drain (that idles ~120 ms per connection). What aioquic's public
API does not give (version, Retry, cipher, chain, raw transport parameters, key-share
group) is read through probes.transport.aioquic_compat, which refuses an untested aioquic.
Follow-ups (the path tests after silence) are declared in probes.engine.chains.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3Connection
from aioquic.h3.events import HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, QuicEvent

from fragscope.db.vocab import Failure, Operation
from fragscope.probes import config_rules as rules
from fragscope.probes.base import Observation, Task
from fragscope.probes.errors import MeasurementError
from fragscope.probes.registry import register
from fragscope.probes.transport import aioquic_compat as compat
from fragscope.probes.transport.certs import analyze_chain
from fragscope.probes.transport.common import USER_AGENT, Deadline, Destination
from fragscope.probes.transport.frame import ICMP_FAILURES, TransportProbe
from fragscope.probes.transport.quic_wire import (
    VERSION_1,
    VERSION_2,
    LongPacketType,
    QuicWireError,
    parse_long_header,
    parse_transport_parameters,
    parse_version_negotiation,
    version_information,
    version_label,
)

# aioquic logs to its own "quic" and "http3" loggers and gives them no handler, so with
# logging unconfigured (the CLI's case) Python's last-resort handler prints its warnings on
# stderr: "[<dcid>] Could not find a common protocol version" for every host whose Version
# Negotiation lists no version offered here. What they say is stored in the observation
# (quic_incompatible_version, the server's versions, the CONNECTION_CLOSE reason), so they
# are silent unless the operator configures logging (a NullHandler is what the logging
# HOWTO asks of libraries, "Configuring Logging for a Library").
for _aioquic_logger in ("quic", "http3"):
    logging.getLogger(_aioquic_logger).addHandler(logging.NullHandler())


@dataclass(frozen=True, slots=True)
class QuicConfig:
    port: int = field(
        default=443, metadata={"help": "UDP port when the task names none", **rules.PORT}
    )
    ca_file: str | None = field(
        default=None,
        metadata={
            "help": "extra trust anchors (PEM) for the certificate verdict",
            rules.FILE: True,
        },
    )
    versions: tuple[int, ...] = field(
        default=(VERSION_1, VERSION_2),
        metadata={"help": "QUIC versions offered, in preference order (RFC 9368)"},
    )
    initial_version: int | None = field(
        default=None, metadata={"help": "version of the first Initial (default: the first offered)"}
    )
    alpn: tuple[str, ...] = field(default=("h3",), metadata={"help": "ALPN ids offered"})
    handshake_timeout_s: float = field(
        default=5.0, metadata={"help": "handshake deadline", **rules.SECONDS}
    )
    http_timeout_s: float = field(
        default=5.0, metadata={"help": "HTTP/3 response deadline", **rules.SECONDS}
    )
    http: bool = field(
        default=True, metadata={"help": "send one HTTP/3 request after the handshake"}
    )
    http_method: str = field(default="HEAD", metadata={"help": "HEAD or GET"})
    http_path: str = field(default="/", metadata={"help": "request path"})
    user_agent: str = field(default=USER_AGENT, metadata={"help": "user-agent sent"})
    path_follow_up: bool = field(
        default=False,
        metadata={
            "help": "when nothing or only ICMP came back, follow up with the path tests "
            "(needs root) to classify the UDP path on the same address"
        },
    )


@dataclass(slots=True)
class FlowFacts:
    """What one handshake's flow looked like on the wire."""

    client_hello_initials: int = 0
    """Initial packets sent before anything came back: the ClientHello's flight."""
    source_port: int | None = None


class _ProbeProtocol(QuicConnectionProtocol):
    """Counts datagrams, keeps the VN packet and ICMP errors, turns events into futures.

    ``connection`` is the QuicConnection it was built with, so the probe never reaches
    for the base class's private ``_quic``.
    """

    def __init__(self, quic: QuicConnection, **kwargs: Any) -> None:
        super().__init__(quic, **kwargs)
        self.connection = quic
        loop = asyncio.get_running_loop()
        self.handshake: asyncio.Future[HandshakeCompleted] = loop.create_future()
        self.terminated: asyncio.Future[ConnectionTerminated] = loop.create_future()
        self.socket_error: asyncio.Future[OSError] = loop.create_future()
        self.response: asyncio.Future[HeadersReceived] = loop.create_future()
        self.h3: H3Connection | None = None
        self.request_stream: int | None = None
        self.datagrams_in = 0
        self.vn_packet: bytes | None = None
        self.client_hello_initials = 0
        # The ClientHello's flight: the Initials of the first datagrams aioquic sends
        # (RFC 9001 section 4.3: a ClientHello larger than one datagram spans several;
        # later batches are retransmissions). aioquic reports what it sends only through
        # datagrams_to_send, so count there.
        produce = quic.datagrams_to_send

        def counting(now: float) -> list[tuple[bytes, Any]]:
            out = produce(now=now)
            if out and not self.client_hello_initials:
                self.client_hello_initials = sum(1 for data, _ in out if _is_initial(data))
            return out

        quic.datagrams_to_send = counting  # type: ignore[method-assign]

    def datagram_received(self, data: bytes | str, addr: Any) -> None:
        self.datagrams_in += 1
        if isinstance(data, bytes) and len(data) >= 5 and data[0] & 0x80 and data[1:5] == bytes(4):
            self.vn_packet = data
        super().datagram_received(data, addr)

    def error_received(self, exc: Exception) -> None:
        # A connected UDP socket surfaces ICMP unreachables here (RFC 1122 section 4.1.3.3).
        if isinstance(exc, OSError) and not self.socket_error.done():
            self.socket_error.set_result(exc)

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, HandshakeCompleted) and not self.handshake.done():
            self.handshake.set_result(event)
        elif isinstance(event, ConnectionTerminated) and not self.terminated.done():
            self.terminated.set_result(event)
        if self.h3 is not None:
            for h3_event in self.h3.handle_event(event):
                if (
                    isinstance(h3_event, HeadersReceived)
                    and h3_event.stream_id == self.request_stream
                    and not self.response.done()
                ):
                    self.response.set_result(h3_event)


def _is_initial(datagram: bytes) -> bool:
    try:
        return parse_long_header(datagram).packet_type is LongPacketType.INITIAL
    except QuicWireError:
        return False


def _record_close(protocol: _ProbeProtocol, fields: dict[str, Any]) -> ConnectionTerminated:
    """The peer's CONNECTION_CLOSE (RFC 9000 section 19.19), recorded in ``fields``."""
    close = protocol.terminated.result()
    fields.update(
        close_error_code=close.error_code,
        close_frame_type=close.frame_type,
        close_reason=close.reason_phrase,
    )
    return close


class _Stop(Exception):
    """Ends the measurement with a classified failure; the row keeps what was learned."""

    def __init__(self, failure: Failure, operation: Operation, detail: str) -> None:
        super().__init__(detail)
        self.failure, self.operation, self.detail = failure, operation, detail


@register
class QuicProbe(TransportProbe[QuicConfig]):
    name: ClassVar[str] = "transport.quic"
    version: ClassVar[int] = 1
    table: ClassVar[str] = "quic_observations"
    config_class: ClassVar[type[QuicConfig]] = QuicConfig

    def prepare(self) -> None:
        compat.require_supported()  # an untested aioquic fails here, before any traffic

    def _configuration(self, sni: str | None) -> QuicConfiguration:
        cfg = QuicConfiguration(
            is_client=True,
            alpn_protocols=list(self.config.alpn),
            server_name=sni,
            verify_mode=ssl.CERT_NONE,  # verified afterwards: a verdict, not a stop
            idle_timeout=max(self.config.handshake_timeout_s, 5.0) + self.config.http_timeout_s,
        )
        cfg.supported_versions = list(self.config.versions)
        cfg.original_version = self.config.initial_version or self.config.versions[0]
        return cfg

    async def measure(self, task: Task) -> Observation:
        obs, _ = await self.measure_flow(task)
        return obs

    async def measure_flow(self, task: Task) -> tuple[Observation, FlowFacts]:
        """Measure once; also return facts of the flow that quic_observations has no
        column for (transport.sni records them per attempt)."""
        obs, t0 = self.start(task)
        flow = FlowFacts()
        initial = self.config.initial_version or self.config.versions[0]
        fields: dict[str, Any] = {
            "stage": "not_sent",
            "offered_versions": [initial, *(v for v in self.config.versions if v != initial)],
            "alpn_offered": ",".join(self.config.alpn),
        }
        obs.fields = fields
        operation = Operation.QUIC_HANDSHAKE
        transport: asyncio.DatagramTransport | None = None
        protocol: _ProbeProtocol | None = None
        try:
            dest = self.aim(task, obs, operation, sni=True)
            deadline = Deadline(t0, task.deadline_s)
            transport, protocol = await self._open(dest)
            await self._handshake(protocol, transport, deadline, fields)
            self._after_handshake(protocol, dest, fields)
            if self.config.http:
                operation = Operation.HTTP_REQUEST
                await self._request(protocol, dest, deadline, fields)
        except (asyncio.CancelledError, compat.AioquicUnsupported):
            raise
        except _Stop as stop:
            obs.failure, obs.failed_operation, obs.failure_detail = (
                stop.failure,
                stop.operation,
                stop.detail,
            )
            obs.retryable = stop.failure in (
                Failure.QUIC_NO_REPLY,
                Failure.QUIC_HANDSHAKE_TIMEOUT,
                Failure.GENERIC_TIMEOUT_ERROR,
            )
        except Exception as exc:  # every failure becomes data (docs/architecture.md §3)
            self.fail(obs, exc, operation)
        finally:
            if protocol is not None:
                self._record_versions(protocol, fields)
                flow.client_hello_initials = protocol.client_hello_initials
            if transport is not None:
                sockname = transport.get_extra_info("sockname")
                flow.source_port = sockname[1] if sockname else None
            if transport is not None:
                self._abandon(protocol, transport)
        self.finish(task, obs, t0)
        finish_children(obs)
        return obs, flow

    async def _open(self, dest: Destination) -> tuple[asyncio.DatagramTransport, _ProbeProtocol]:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if dest.ip_version == 6 else socket.AF_INET
        configuration = self._configuration(dest.sni)
        # A connected socket: ICMP errors reach error_received instead of vanishing.
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _ProbeProtocol(QuicConnection(configuration=configuration)),
            remote_addr=(dest.address, dest.port),
            family=family,
        )
        return transport, protocol

    async def _wait(
        self, protocol: _ProbeProtocol, target: asyncio.Future[Any], timeout: float
    ) -> str:
        """Wait for ``target``, a close or an ICMP error; returns which, or 'timeout'."""
        waits = {target: "done", protocol.terminated: "closed", protocol.socket_error: "icmp"}
        finished, _ = await asyncio.wait(
            list(waits), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if target in finished:
            return "done"
        for fut in finished:
            return waits[fut]
        return "timeout"

    async def _handshake(
        self,
        protocol: _ProbeProtocol,
        transport: asyncio.DatagramTransport,
        deadline: Deadline,
        fields: dict[str, Any],
    ) -> None:
        peer = transport.get_extra_info("peername")
        t = self.clock.monotonic()
        protocol.connect(peer, transmit=True)
        compat.watch_server_hello(protocol.connection, lambda group: fields.update(tls_group=group))
        fields["stage"] = "initial_sent"
        outcome = await self._wait(
            protocol, protocol.handshake, deadline.budget(t, self.config.handshake_timeout_s)
        )
        if protocol.datagrams_in:
            fields["stage"] = "server_replied"
        op = Operation.QUIC_HANDSHAKE
        if outcome == "done":
            fields["handshake_ms"] = (self.clock.monotonic() - t) * 1000
            fields["stage"] = "handshake_done"
            return
        if outcome == "icmp":
            exc = protocol.socket_error.result()
            failure = ICMP_FAILURES.get(exc.errno or 0, Failure.HOST_UNREACHABLE)
            raise _Stop(failure, op, f"ICMP error on the UDP socket: {exc}")
        if outcome == "closed":
            close = _record_close(protocol, fields)
            if compat.is_no_common_version(close):
                raise _Stop(
                    Failure.QUIC_INCOMPATIBLE_VERSION, op, "Version Negotiation: no common version"
                )
            raise _Stop(
                Failure.QUIC_CONNECTION_CLOSED,
                op,
                f"CONNECTION_CLOSE 0x{close.error_code:x}: {close.reason_phrase}",
            )
        if protocol.datagrams_in:
            raise _Stop(
                Failure.QUIC_HANDSHAKE_TIMEOUT,
                op,
                f"{protocol.datagrams_in} datagrams received, handshake incomplete",
            )
        raise _Stop(Failure.QUIC_NO_REPLY, op, "nothing came back to the Initial")

    def _after_handshake(
        self, protocol: _ProbeProtocol, dest: Destination, fields: dict[str, Any]
    ) -> None:
        quic = protocol.connection
        event = protocol.handshake.result()
        fields["alpn"] = event.alpn_protocol
        version = compat.negotiated_version(quic) or 0
        fields["quic_version"] = version
        fields["quic_version_label"] = version_label(version)
        fields["retry"] = compat.retried(quic)
        cipher = compat.cipher_suite_name(quic)
        if cipher is not None:
            fields["cipher"] = cipher
        facts = analyze_chain(
            compat.peer_chain_der(quic), dest.sni or dest.address, ca_file=self.config.ca_file
        )
        fields.update(facts.columns())
        params = compat.transport_parameters_blob(quic)
        if params is not None:
            fields["_transport_params"] = params

    async def _request(
        self,
        protocol: _ProbeProtocol,
        dest: Destination,
        deadline: Deadline,
        fields: dict[str, Any],
    ) -> None:
        if fields.get("alpn") != "h3":
            raise MeasurementError(
                Failure.HTTP_ERROR, Operation.HTTP_REQUEST, f"ALPN {fields.get('alpn')!r}, not h3"
            )
        quic = protocol.connection
        protocol.h3 = H3Connection(quic)
        stream = quic.get_next_available_stream_id()
        protocol.request_stream = stream
        authority = dest.sni or dest.endpoint
        t = self.clock.monotonic()
        protocol.h3.send_headers(
            stream,
            [
                (b":method", self.config.http_method.encode()),
                (b":scheme", b"https"),
                (b":authority", authority.encode()),
                (b":path", self.config.http_path.encode()),
                (b"user-agent", self.config.user_agent.encode()),
            ],
            end_stream=True,
        )
        protocol.transmit()
        outcome = await self._wait(
            protocol, protocol.response, deadline.budget(t, self.config.http_timeout_s)
        )
        op = Operation.HTTP_REQUEST
        if outcome == "timeout":
            raise _Stop(Failure.GENERIC_TIMEOUT_ERROR, op, "no HTTP/3 response headers in time")
        if outcome == "closed":
            close = _record_close(protocol, fields)
            raise _Stop(
                Failure.QUIC_CONNECTION_CLOSED,
                op,
                f"CONNECTION_CLOSE 0x{close.error_code:x}: {close.reason_phrase}",
            )
        if outcome == "icmp":
            raise _Stop(Failure.HOST_UNREACHABLE, op, str(protocol.socket_error.result()))
        fields["http_ms"] = (self.clock.monotonic() - t) * 1000
        headers = protocol.response.result().headers
        decoded = [
            (k.decode("latin-1"), v.decode("utf-8", errors="backslashreplace")) for k, v in headers
        ]
        status = next((v for k, v in decoded if k == ":status"), "")
        if not status.isdigit():
            raise _Stop(Failure.HTTP_ERROR, op, f"bad :status {status!r}")
        fields["http_status"] = int(status)
        fields["http_server"] = next((v for k, v in decoded if k == "server"), None)
        fields["stage"] = "http_done"

    def _record_versions(self, protocol: _ProbeProtocol, fields: dict[str, Any]) -> None:
        fields["version_negotiation"] = protocol.vn_packet is not None
        if protocol.vn_packet is not None:
            try:
                vn = parse_version_negotiation(protocol.vn_packet)
                fields["server_versions"] = list(vn.versions)
            except QuicWireError:
                pass
        if fields.get("stage") in ("handshake_done", "http_done"):
            fields["retry"] = compat.retried(protocol.connection)

    def _abandon(
        self, protocol: _ProbeProtocol | None, transport: asyncio.DatagramTransport
    ) -> None:
        # Send CONNECTION_CLOSE once and drop the socket: no draining period (RFC 9000
        # section 10.2 lets an endpoint that sent a close discard its state early).
        if protocol is not None:
            # Best effort: the row is complete and the socket closes anyway.
            with contextlib.suppress(Exception):
                protocol.close(error_code=0, reason_phrase="")  # close, then transmit
        transport.close()


def transport_param_rows(blob: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """Child rows of quic_transport_params from the raw extension, and a parse error."""
    try:
        params = parse_transport_parameters(blob)
    except QuicWireError as exc:
        return [], str(exc)
    rows = []
    for i, p in enumerate(params):
        rows.append(
            {
                "position": i,
                "param_id": p.param_id,
                "name": p.name,
                "value_int": p.value_int,
                "value_hex": p.value.hex(),
            }
        )
    return rows, None


def finish_children(obs: Observation) -> None:
    """Move the raw transport parameters out of ``fields`` into child rows."""
    blob = obs.fields.pop("_transport_params", None)
    if blob is None:
        return
    rows, error = transport_param_rows(blob)
    for row in rows:
        obs.children.append(("quic_transport_params", row))
        if row["param_id"] == 0x11 and not obs.fields.get("server_versions"):
            with contextlib.suppress(QuicWireError):
                obs.fields["server_versions"] = list(
                    version_information(bytes.fromhex(row["value_hex"]))
                )
    if error:
        # The handshake worked (aioquic accepted the parameters); keep what parsed.
        obs.children.append(
            (
                "quic_transport_params",
                {
                    "position": len(rows),
                    "param_id": -1,
                    "name": "unparsed",
                    "value_int": None,
                    "value_hex": blob.hex(),
                },
            )
        )
