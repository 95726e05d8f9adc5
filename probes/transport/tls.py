"""``transport.tls``: TCP connect, TLS handshake and one HTTP request to one address. Does I/O.

Records connect and handshake times, TLS version, cipher, ALPN offered and chosen, the
certificate chain and fragscope's verdict on it (the handshake itself does not verify, so a
bad certificate does not stop the request, like zgrab2), then the HTTP status, Server and
Alt-Svc (RFC 7838): the Alt-Svc channel of QUIC discovery. Following an h3 alternative
with a QUIC handshake (``quic_follow_up``) is declared in probes.engine.chains.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fragscope.db.vocab import Failure, Operation
from fragscope.probes import config_rules as rules
from fragscope.probes.base import Observation, Task
from fragscope.probes.registry import register
from fragscope.probes.transport.altsvc import AltSvcError, parse_alt_svc
from fragscope.probes.transport.certs import analyze_chain
from fragscope.probes.transport.common import USER_AGENT, Deadline, Destination
from fragscope.probes.transport.frame import TransportProbe
from fragscope.probes.transport.http import HttpRequest, HttpResponse, h2_request, http1_request


@dataclass(frozen=True, slots=True)
class TlsConfig:
    port: int = field(
        default=443, metadata={"help": "TCP port when the task names none", **rules.PORT}
    )
    ca_file: str | None = field(
        default=None,
        metadata={
            "help": "extra trust anchors (PEM) for the certificate verdict",
            rules.FILE: True,
        },
    )
    alpn: tuple[str, ...] = field(
        default=("h2", "http/1.1"), metadata={"help": "ALPN ids offered, in preference order"}
    )
    connect_timeout_s: float = field(
        default=5.0, metadata={"help": "TCP connect deadline", **rules.SECONDS}
    )
    handshake_timeout_s: float = field(
        default=5.0, metadata={"help": "TLS handshake deadline", **rules.SECONDS}
    )
    http_timeout_s: float = field(
        default=5.0, metadata={"help": "HTTP response deadline", **rules.SECONDS}
    )
    http_method: str = field(default="GET", metadata={"help": "GET or HEAD"})
    http_path: str = field(default="/", metadata={"help": "request path"})
    http: bool = field(default=True, metadata={"help": "send the HTTP request after TLS"})
    user_agent: str = field(default=USER_AGENT, metadata={"help": "User-Agent sent"})
    quic_follow_up: str = field(
        default="never",
        metadata={
            "help": "follow up with a QUIC handshake on the same address: never, "
            "advertised (when Alt-Svc offers h3 on this host) or always"
        },
    )

    def __post_init__(self) -> None:
        if self.quic_follow_up not in ("never", "advertised", "always"):
            raise ValueError(
                f"quic_follow_up: {self.quic_follow_up!r} is not never, advertised or always"
            )


def _client_context(alpn: tuple[str, ...]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Verification happens afterwards (probes.transport.certs) so a bad certificate is a
    # verdict, not the end of the measurement.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(list(alpn))
    return ctx


def _peer_chain(ssl_object: ssl.SSLObject) -> list[bytes]:
    # Python 3.11 has the unverified chain only on the private _sslobj (public in 3.13).
    inner = getattr(ssl_object, "_sslobj", None)
    getter = getattr(inner, "get_unverified_chain", None)
    if getter is not None:
        chain = getter() or []
        return [c.public_bytes(2) for c in chain]  # 2 = _ssl.ENCODING_DER
    leaf = ssl_object.getpeercert(binary_form=True)
    return [leaf] if leaf else []


@register
class TlsProbe(TransportProbe[TlsConfig]):
    name: ClassVar[str] = "transport.tls"
    version: ClassVar[int] = 1
    table: ClassVar[str] = "tls_observations"
    config_class: ClassVar[type[TlsConfig]] = TlsConfig

    def prepare(self) -> None:
        self._ctx = _client_context(self.config.alpn)

    async def measure(self, task: Task) -> Observation:
        obs, t0 = self.start(task)
        fields: dict[str, Any] = {"alpn_offered": ",".join(self.config.alpn)}
        obs.fields = fields
        operation = Operation.CONNECT
        writer: asyncio.StreamWriter | None = None
        try:
            dest = self.aim(task, obs, operation, sni=True)
            deadline = Deadline(t0, task.deadline_s)
            reader, writer = await self._connect(dest, deadline, fields)
            operation = Operation.TLS_HANDSHAKE
            await self._handshake(dest, writer, deadline, fields)
            if self.config.http:
                operation = Operation.HTTP_REQUEST
                await self._request(dest, reader, writer, deadline, fields)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure becomes data (docs/architecture.md §3)
            c = self.fail(obs, exc, operation)
            if c.alert is not None:
                fields["tls_alert"] = c.alert
            if isinstance(exc, TimeoutError):
                obs.failure_detail = f"{operation} exceeded its deadline"
            obs.retryable = c.failure in (Failure.GENERIC_TIMEOUT_ERROR, Failure.CONNECTION_RESET)
        finally:
            if writer is not None:
                writer.transport.abort()  # no close_notify dance: the measurement is done
        return self.finish(task, obs, t0)

    async def _connect(
        self, dest: Destination, deadline: Deadline, fields: dict[str, Any]
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        t = self.clock.monotonic()
        async with asyncio.timeout(deadline.budget(t, self.config.connect_timeout_s)):
            reader, writer = await asyncio.open_connection(dest.address, dest.port, limit=64 * 1024)
        fields["connect_ms"] = (self.clock.monotonic() - t) * 1000
        return reader, writer

    async def _handshake(
        self,
        dest: Destination,
        writer: asyncio.StreamWriter,
        deadline: Deadline,
        fields: dict[str, Any],
    ) -> None:
        t = self.clock.monotonic()
        async with asyncio.timeout(deadline.budget(t, self.config.handshake_timeout_s)):
            await writer.start_tls(self._ctx, server_hostname=dest.sni)
        fields["handshake_ms"] = (self.clock.monotonic() - t) * 1000
        ssl_object: ssl.SSLObject = writer.get_extra_info("ssl_object")
        cipher = ssl_object.cipher()
        fields.update(
            tls_version=ssl_object.version(),
            cipher=cipher[0] if cipher else None,
            alpn=ssl_object.selected_alpn_protocol(),
        )
        facts = analyze_chain(
            _peer_chain(ssl_object), dest.sni or dest.address, ca_file=self.config.ca_file
        )
        fields.update(facts.columns())

    async def _request(
        self,
        dest: Destination,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        deadline: Deadline,
        fields: dict[str, Any],
    ) -> None:
        cfg = self.config
        host = dest.sni or dest.endpoint
        request = HttpRequest(host, cfg.http_method, cfg.http_path, cfg.user_agent)
        t = self.clock.monotonic()
        send = h2_request if fields.get("alpn") == "h2" else http1_request
        async with asyncio.timeout(deadline.budget(t, cfg.http_timeout_s)):
            response = await send(reader, writer, request)
        fields["http_ms"] = (self.clock.monotonic() - t) * 1000
        fields.update(response_columns(response))


def response_columns(response: HttpResponse) -> dict[str, Any]:
    """Status, Server and the Alt-Svc channel of one response, as columns."""
    out: dict[str, Any] = {
        "http_version": response.version,
        "http_status": response.status,
        "http_server": response.first("server"),
    }
    lines = response.get_all("alt-svc")
    if lines:
        out["alt_svc_raw"] = ", ".join(lines)
        try:
            svc = parse_alt_svc(lines)
        except AltSvcError as exc:
            out["alt_svc_error"] = str(exc)
        else:
            out["alt_svc"] = [
                {
                    "alpn": e.alpn,
                    "host": e.host,
                    "port": e.port,
                    "ma": e.max_age,
                    "persist": e.persist,
                }
                for e in svc.entries
            ]
            out["alt_svc_h3"] = any(a == "h3" or a.startswith("h3-") for a in svc.alpns)
    else:
        out["alt_svc_h3"] = False
    return out
