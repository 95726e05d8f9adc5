"""``transport.ech``: ECH adoption and ECH interference on one address, over TCP. Does I/O.

Per target (docs/indicators.md T11, T12):

1. adoption: the target's HTTPS record (RFC 9460) is asked of ``resolver``; its ``ech``
   SvcParam, when present, is parsed as an ECHConfigList (RFC 9849 section 4) and stored
   config by config (``ech_configs``);
2. ``control``: a TLS 1.3 ClientHello with the real SNI and no ECH;
3. ``grease``: the same with a GREASE ``ech`` extension (RFC 9849 section 6.2): a censor
   that blocks the extension itself, as TSPU has since November 2024, blocks this too;
4. ``ech``: a real ECH (section 6.1) sealed to the published config, whose outer SNI is
   the config's public_name; acceptance is read from ServerHello.random (section 7.2) and
   confirmed by the certificate sent under the inner name, decrypted with the handshake
   keys (RFC 8446 section 7); a rejection records the server's retry_configs.

The ClientHellos are the project's own (probes.transport.tls13, probes.transport.
ech_hello): no TLS library here speaks ECH. Each step is up to ``tries`` handshakes (k)
and fails only when all k fail: loss makes a step retry, it does not make a block (the
validity rule, docs/indicators.md "Loss is not censorship"). QUIC is not measured: aioquic
has no hook to put an ECH extension in its ClientHello (the lab's Caddy would accept one:
docs/lab.md, "The ECH host").
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rdtypes.svcbbase

from fragscope.db.vocab import Failure, Operation
from fragscope.probes import config_rules as rules
from fragscope.probes.base import Observation, Task
from fragscope.probes.errors import MeasurementError, classify
from fragscope.probes.registry import register
from fragscope.probes.transport.certs import analyze_chain
from fragscope.probes.transport.common import Destination
from fragscope.probes.transport.ech_config import (
    EchConfig,
    EchConfigError,
    parse_ech_config_list,
)
from fragscope.probes.transport.ech_hello import (
    EchHello,
    EchUnusable,
    accept_confirmation,
    grease_ech,
    plain_hello,
    real_ech,
    suite_for,
)
from fragscope.probes.transport.frame import TransportProbe
from fragscope.probes.transport.tls13 import (
    CERTIFICATE,
    ENCRYPTED_EXTENSIONS,
    EXT_ECH,
    HANDSHAKE,
    KeyShare,
    ServerFlight,
    ServerHello,
    TlsAlert,
    TlsError,
    parse_certificate,
    parse_extensions,
    record,
    transcript_hash,
)
from fragscope.probes.transport.tls_alerts import describe

STEPS = ("control", "grease", "ech")


@dataclass(frozen=True, slots=True)
class EchProbeConfig:
    port: int = field(
        default=443, metadata={"help": "TCP port when the task names none", **rules.PORT}
    )
    resolver: str | None = field(
        default=None,
        metadata={"help": "IP address of the resolver asked for each target's HTTPS record"},
    )
    resolver_port: int = field(
        default=53, metadata={"help": "UDP port of the resolver", **rules.PORT}
    )
    tries: int = field(
        default=2,
        metadata={
            "help": "k: handshakes per step; a step fails only when all k fail",
            rules.MINIMUM: 1,
            rules.MAXIMUM: 10,
        },
    )
    dns_timeout_s: float = field(
        default=2.0, metadata={"help": "deadline of each HTTPS query", **rules.SECONDS}
    )
    handshake_timeout_s: float = field(
        default=3.0,
        metadata={"help": "deadline of each connect and handshake", **rules.SECONDS},
    )
    ca_file: str | None = field(
        default=None,
        metadata={
            "help": "extra trust anchors (PEM) for the inner certificate's verdict",
            rules.FILE: True,
        },
    )

    def __post_init__(self) -> None:
        if not 1 <= self.tries <= 10:
            raise ValueError(f"tries: {self.tries} is not 1..10")


@dataclass(slots=True)
class Attempt:
    """One handshake: did the server answer, did it accept ECH, what it sent."""

    ok: bool
    accepted: bool | None = None
    failure: Failure | None = None
    detail: str | None = None
    alert: int | None = None
    duration_ms: float = 0.0
    chain: list[bytes] = field(default_factory=list)
    retry_configs: bytes | None = None


@dataclass(slots=True)
class StepResult:
    ok: bool
    lost: int
    last: Attempt | None = None


def classify_ech(published: bool, control: StepResult, ech: StepResult | None) -> str:
    """The verdict of one target (docs/indicators.md, T12).

    no_ech: no usable config is published. inconclusive: the control (no ECH, same
    address) was lost on every try, so nothing can be compared, or the ECH handshakes
    were lost on a path whose control itself needed retries, or refused with the very TLS
    alert that answered the control (the server refuses both alike). ech_blocked: the
    control answered at once and every ECH try was lost or refused with a TLS alert (an
    injected alert is a block, as an injected RST is). ech_accepted / ech_rejected: the
    server answered the ECH ClientHello and did / did not confirm acceptance.
    """
    if not published or ech is None:
        return "no_ech"
    if not control.ok:
        return "inconclusive"
    if not ech.ok:
        control_alert = control.last.alert if control.last is not None else None
        ech_alert = ech.last.alert if ech.last is not None else None
        if control.lost or (ech_alert is not None and ech_alert == control_alert):
            return "inconclusive"
        return "ech_blocked"
    return "ech_accepted" if ech.last is not None and ech.last.accepted else "ech_rejected"


def ech_config_list_of(answer: dns.message.Message, name: str) -> bytes | None:
    """The ``ech`` SvcParam of ``name``'s ServiceMode HTTPS records (None: none has one)."""
    for rrset in answer.answer:
        if rrset.rdtype != dns.rdatatype.HTTPS:
            continue
        for rdata in rrset:
            param = rdata.params.get(dns.rdtypes.svcbbase.ParamKey.ECH)
            if rdata.priority != 0 and param is not None:
                return bytes(param.ech)
    return None


@register
class EchProbe(TransportProbe[EchProbeConfig]):
    name: ClassVar[str] = "transport.ech"
    version: ClassVar[int] = 1
    table: ClassVar[str] = "ech_observations"
    config_class: ClassVar[type[EchProbeConfig]] = EchProbeConfig

    async def measure(self, task: Task) -> Observation:
        obs, t0 = self.start(task)
        cfg = self.config
        fields: dict[str, Any] = {"tries": cfg.tries, "resolver": cfg.resolver}
        obs.fields = fields
        operation = Operation.RESOLVE
        try:
            dest = self.aim(task, obs, Operation.CONNECT, sni=False)
            fields["real_sni"] = dest.sni
            if dest.sni is None:
                raise MeasurementError(
                    Failure.INVALID_INPUT, operation, "sni: an IP-literal target has no name"
                )
            config = await self._adoption(dest.sni, fields, obs)
            operation = Operation.TLS_HANDSHAKE
            await self.ab_test(dest, config, fields, obs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure becomes data (docs/architecture.md §3)
            self.fail(obs, exc, operation)
        return self.finish(task, obs, t0)

    async def _adoption(
        self, name: str, fields: dict[str, Any], obs: Observation
    ) -> EchConfig | None:
        """The target's published ECH config this client can use (None: none)."""
        resolver = self.config.resolver
        if resolver is None:
            raise MeasurementError(
                Failure.INVALID_INPUT, Operation.RESOLVE, "resolver: no resolver configured"
            )
        self._policy.require(resolver, Operation.DNS_ROUND_TRIP)
        query = dns.message.make_query(name, dns.rdatatype.HTTPS)
        answer: dns.message.Message | None = None
        for i in range(self.config.tries):
            try:
                answer = await dns.asyncquery.udp(
                    query, resolver, self.config.dns_timeout_s, port=self.config.resolver_port
                )
                break
            except (dns.exception.Timeout, TimeoutError):
                if i == self.config.tries - 1:
                    raise
        assert answer is not None
        fields["https_rcode"] = dns.rcode.to_text(answer.rcode())
        raw = ech_config_list_of(answer, name)
        fields["ech_published"] = raw is not None
        if raw is None:
            return None
        fields["ech_config_list"] = base64.b64encode(raw).decode("ascii")
        try:
            configs = parse_ech_config_list(raw)
        except EchConfigError as exc:
            fields["ech_config_error"] = str(exc)
            return None
        for i, c in enumerate(configs):
            obs.children.append(("ech_configs", {"position": i, **c.columns()}))
        usable = [c for c in configs if c.supported]
        if not usable:
            fields["ech_config_error"] = "no ECHConfig of version 0xfe0d"
            return None
        return usable[0]

    async def ab_test(
        self,
        dest: Destination,
        config: EchConfig | None,
        fields: dict[str, Any],
        obs: Observation,
    ) -> None:
        """control, grease and (with a usable ``config``) ech on ``dest``: their columns
        and verdict into ``fields``, one ``ech_attempts`` child per handshake."""
        assert dest.sni is not None
        name = dest.sni
        attempts: list[dict[str, Any]] = []
        control = await self._step(dest, "control", lambda ks: plain_hello(name, ks), attempts)
        grease = await self._step(dest, "grease", lambda ks: grease_ech(name, ks), attempts)
        ech: StepResult | None = None
        if config is not None:
            try:
                suite_for(config)
            except EchUnusable as exc:
                fields["ech_config_error"] = str(exc)
                config = None
        if config is not None:
            fields.update(public_name=config.public_name, config_id=config.config_id)
            usable = config
            ech = await self._step(dest, "ech", lambda ks: real_ech(usable, name, ks), attempts)
            self._ech_columns(ech, name, fields)
        fields.update(
            control_ok=control.ok,
            control_retries=control.lost,
            grease_ok=grease.ok,
            verdict=classify_ech(fields.get("ech_published", False), control, ech),
        )
        for i, row in enumerate(attempts):
            obs.children.append(("ech_attempts", {"position": i, **row}))

    def _ech_columns(self, ech: StepResult, name: str, fields: dict[str, Any]) -> None:
        last = ech.last
        fields["ech_ok"] = ech.ok
        if last is None or not ech.ok:
            return
        fields["ech_accepted"] = last.accepted
        if last.retry_configs is not None:
            fields["retry_configs"] = base64.b64encode(last.retry_configs).decode("ascii")
        if last.accepted and last.chain:
            facts = analyze_chain(last.chain, name, ca_file=self.config.ca_file)
            fields.update(
                inner_cert_name_match=facts.cert_name_match, inner_cert_valid=facts.cert_valid
            )

    async def _step(
        self,
        dest: Destination,
        step: str,
        build: Callable[[KeyShare], EchHello],
        attempts: list[dict[str, Any]],
    ) -> StepResult:
        """Up to k handshakes; stops at the first the server answers."""
        lost = 0
        last: Attempt | None = None
        for _ in range(self.config.tries):
            key_share = KeyShare.generate()
            hello = build(key_share)
            last = await self._handshake(dest, hello, key_share)
            if last.alert is not None and step != "control":
                # The control's alert shows the path carries the name; an alert to the
                # (GREASE) ECH ClientHello refuses it, as an injected RST would.
                last.ok = False
            attempts.append(
                {
                    "step": step,
                    "outer_sni": hello.outer_name,
                    "ok": last.ok,
                    "accepted": last.accepted,
                    "failure": last.failure,
                    "failure_detail": last.detail,
                    "tls_alert": last.alert,
                    "duration_ms": last.duration_ms,
                }
            )
            if last.ok:
                return StepResult(True, lost, last)
            if last.alert is None:
                lost += 1  # a refusal is an answer, not loss
        return StepResult(False, lost, last)

    async def _handshake(self, dest: Destination, hello: EchHello, key_share: KeyShare) -> Attempt:
        t = self.clock.monotonic()
        attempt = Attempt(ok=False)
        writer: asyncio.StreamWriter | None = None
        flight = ServerFlight(key_share)

        def choose(sh: ServerHello) -> bytes:
            # RFC 9849 section 7.2: the server accepted ECH iff the confirmation matches;
            # the transcript then continues from the inner ClientHello, else the outer.
            accepted = hello.inner is not None and hello.inner_random is not None
            accepted = accepted and sh.random[24:] == accept_confirmation(
                hello.inner_random or b"", hello.inner or b"", sh.message
            )
            attempt.accepted = accepted if hello.inner is not None else None
            return transcript_hash(
                hello.inner if accepted and hello.inner else hello.outer, sh.message
            )

        try:
            async with asyncio.timeout(self.config.handshake_timeout_s):
                reader, writer = await asyncio.open_connection(dest.address, dest.port)
                writer.write(record(HANDSHAKE, hello.outer))
                await writer.drain()
                while True:
                    data = await reader.read(65536)
                    if not data:
                        raise ConnectionResetError("the connection closed before the Certificate")
                    if flight.feed(data, choose):
                        break
            attempt.ok = True
            if flight.server_hello is not None and flight.server_hello.is_retry_request:
                attempt.failure = Failure.SSL_FAILED_HANDSHAKE
                attempt.detail = "HelloRetryRequest (X25519 was offered)"
            self._read_flight(flight, attempt)
        except TlsAlert as exc:
            # The server (or something speaking for it) answered: not a lost handshake,
            # but a refusal (the step decides what it means: ``_step``).
            attempt.ok = True
            attempt.alert = exc.description
            attempt.failure, attempt.detail = Failure.TLS_ALERT, describe(exc.description)
        except TlsError as exc:
            # The server (or something speaking for it) answered: not a lost handshake.
            attempt.ok = True
            attempt.failure, attempt.detail = Failure.SSL_FAILED_HANDSHAKE, str(exc)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            c = classify(exc, Operation.TLS_HANDSHAKE)
            attempt.failure, attempt.detail = c.failure, c.detail
            if flight.server_hello is not None:
                attempt.ok = True  # the ServerHello came: the path carried this ClientHello
        finally:
            if writer is not None:
                writer.transport.abort()
        attempt.duration_ms = (self.clock.monotonic() - t) * 1000
        return attempt

    @staticmethod
    def _read_flight(flight: ServerFlight, attempt: Attempt) -> None:
        ee = flight.message(ENCRYPTED_EXTENSIONS)
        if ee is not None:
            exts = parse_extensions(ee[6:], "EncryptedExtensions.extensions")
            attempt.retry_configs = exts.get(EXT_ECH)
        cert = flight.message(CERTIFICATE)
        if cert is not None:
            attempt.chain = parse_certificate(cert)
