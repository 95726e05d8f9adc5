"""``dns.query``: one DNS query to one resolver on one transport. Does I/O.

A task is (target name, resolver URL, qtype). Do53 over UDP takes the lean path
(``probes.dns.udp``) and offers the engine a batch path (``measure_many``); TCP, DoT, DoH
and DoQ use ``probes.dns.transports``. A truncated UDP answer spawns a TCP follow-up, so
both attempts are rows (purpose ``tc_fallback`` on the second). Responses that arrive late
or twice are kept as rows of their own (``late``/``duplicate``), and so is a datagram that
matches no query at all (purpose ``stray``: a wrong ID, a question not asked, garbage),
once per distinct datagram and resolver; none of them changes another query's row. They
are collected with :meth:`DnsQueryProbe.drain_late`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import ssl
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar

from fragscope.db.vocab import Failure, Operation, Transport
from fragscope.probes import config_rules as rules
from fragscope.probes.base import (
    Clock,
    Endpoint,
    FollowUp,
    Observation,
    SystemClock,
    Task,
    TaskParams,
)
from fragscope.probes.dns import codec
from fragscope.probes.dns.codec import QueryTemplate
from fragscope.probes.dns.interpret import interpret, interpret_general
from fragscope.probes.dns.names import DomainName, InvalidName, normalize
from fragscope.probes.dns.resolvers import BadResolverURL, ResolverURL, parse_resolver
from fragscope.probes.dns.transports import (
    ExchangeError,
    doh_exchange,
    doq_exchange,
    ssl_context,
    stream_exchange,
)
from fragscope.probes.dns.udp import Pending, UdpClient, UdpResult
from fragscope.probes.errors import MeasurementError
from fragscope.probes.politeness import contact_field, identity_headers, user_agent_field
from fragscope.probes.registry import register
from fragscope.probes.safety import ALLOW_ALL, NetworkPolicy

TABLE = "dns_observations"
STRAY_ROWS_PER_SERVER = 1000
"""Stray datagrams recorded per resolver address and port in one run; a server that
answers every query with fresh garbage must not grow the run without bound."""


@dataclass(frozen=True, slots=True)
class DnsQueryConfig:
    qtypes: tuple[str, ...] = field(
        default=("A", "AAAA", "HTTPS"),
        metadata={
            "help": "record types asked for each target (mnemonics or TYPEnnn)",
            rules.CHECK: codec.unknown_type_names,
        },
    )
    tld_qtypes: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "record types asked of a single-label target (a TLD) instead of qtypes; "
            "N2 compares the TLDs resolvers answer SOA and NS for (docs/indicators.md). "
            "Empty: a TLD is asked qtypes like any name",
            rules.CHECK: codec.unknown_type_names,
        },
    )
    timeout_s: float = field(
        default=3.0, metadata={"help": "seconds to wait for a response", **rules.SECONDS}
    )
    dnssec_ok: bool = field(default=True, metadata={"help": "set the EDNS0 DO bit (RFC 3225)"})
    edns_size: int = field(
        default=codec.DEFAULT_EDNS_SIZE,
        # RFC 6891 section 6.2.3: the payload size is a 16-bit field.
        metadata={
            "help": "advertised UDP payload size; 0 sends no EDNS0 at all",
            **rules.COUNT,
            rules.MAXIMUM: 65535,
        },
    )
    recursion_desired: bool = field(default=True, metadata={"help": "set RD in queries"})
    checking_disabled: bool = field(default=False, metadata={"help": "set CD in queries"})
    ca_file: str | None = field(
        default=None,
        metadata={
            "help": "CA bundle that authenticates DoT/DoH/DoQ resolvers (default: system)",
            rules.FILE: True,
        },
    )
    doh_method: str = field(
        default="post",
        metadata={
            "help": "DoH request method, post or get (RFC 8484 section 4.1); an endpoint's "
            "options.doh_method overrides it",
            **rules.one_of("post", "get"),
        },
    )
    tcp_fallback: bool = field(
        default=True, metadata={"help": "retry over TCP when a UDP answer has TC set"}
    )
    whoami_names: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "targets that are whoami services (NAME or NAME/TYPE, default TXT): "
            "asked once per resolver, the egress address goes to whoami_address"
        },
    )
    keep_wire: bool = field(default=True, metadata={"help": "store each response's raw wire"})
    user_agent: str = user_agent_field()
    contact: str | None = contact_field()
    late_grace_s: float = field(
        default=3.0,
        metadata={
            "help": "seconds a timed-out query ID stays reserved to catch late answers",
            **rules.COUNT,
        },
    )


@lru_cache(maxsize=65536)
def _template(
    qname: str, qtype: int, rd: bool, cd: bool, do: bool, edns_size: int
) -> QueryTemplate:
    return codec.make_template(qname, qtype, rd=rd, cd=cd, dnssec_ok=do, edns_size=edns_size)


@lru_cache(maxsize=65536)
def _normalize(text: str) -> DomainName:
    return normalize(text)


@lru_cache(maxsize=4096)
def _resolver(url: str) -> ResolverURL:
    return parse_resolver(url)


@dataclass(slots=True)
class _Prepared:
    task: Task
    obs: Observation
    resolver: ResolverURL
    template: QueryTemplate
    qtype: int
    purpose: str
    t0: float
    static: dict[str, Any]
    """The task's input-derived fields (shared, read-only): what a late answer's row needs."""
    started_at: dt.datetime
    index: int = 0
    """The task's place in its batch (UDP)."""
    batch: _UdpBatch | None = None
    """The batch waiting for this UDP query, until it is answered or given up."""

    def answered(self, result: UdpResult) -> None:
        """The UDP client's callback: the query's outcome (a bound method, not a closure
        per query)."""
        batch = self.batch
        if batch is None:
            return
        self.batch = None
        batch.results[self.index] = batch.probe._finish_udp(self, result)
        # The UDP client remembers answered queries (duplicates) with this as context.
        self.obs = _SPENT
        batch.waiting -= 1
        if batch.waiting == 0 and not batch.done.done():
            batch.done.set_result(None)


class _UdpBatch:
    """The UDP part of one ``measure_many`` call: results by index, how many are still
    in flight, and the future its caller waits on."""

    __slots__ = ("done", "probe", "results", "waiting")

    def __init__(self, probe: DnsQueryProbe, size: int) -> None:
        self.probe = probe
        self.results: list[Observation | None] = [None] * size
        self.waiting = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


_SPENT = Observation(table=TABLE, target="", endpoint=None, started_at=dt.datetime.min)
"""Stands in for a finished query's observation: the UDP client remembers answered
queries (to recognise duplicates) for as long as their ID is not reused, up to 65,536
per socket, and they must not pin their observations, rows and batch (that kept the
collector busy and slowed long runs down by half)."""


def _parse_whoami(spec: str) -> tuple[str, str]:
    name, _, qtype = spec.partition("/")
    return name.strip().rstrip(".").lower(), (qtype.strip().upper() or "TXT")


@register
class DnsQueryProbe:
    name: ClassVar[str] = "dns.query"
    version: ClassVar[int] = 1
    table: ClassVar[str] = TABLE
    config_class: ClassVar[type[DnsQueryConfig]] = DnsQueryConfig
    uses_endpoints: ClassVar[bool] = True
    batch_size: ClassVar[int] = 64  # small batches pipeline better than bursts (bench/dns.py)
    plain_fields: ClassVar[bool] = True
    """Fields and answer rows hold str, int, float, bool, bytes, lists and None, never an
    Enum (tests/test_dns_engine_rows.py checks the stored rows)."""

    def __init__(
        self,
        config: DnsQueryConfig | None = None,
        *,
        clock: Clock | None = None,
        policy: NetworkPolicy = ALLOW_ALL,
    ) -> None:
        self.config = config or DnsQueryConfig()
        self.clock = clock or SystemClock()
        self.policy = policy
        self._udp: dict[tuple[str, int], UdpClient] = {}
        self._tls: ssl.SSLContext | None = None
        self._late: list[tuple[Task, Observation]] = []
        self._identity = identity_headers(self.config.user_agent, self.config.contact)
        """User-Agent and From of every DoH request (probes/politeness.py)."""
        self._strays: dict[tuple[str, int], set[str]] = {}
        self._static: dict[tuple[Any, ...], Any] = {}
        self._by_identity: dict[tuple[str, int, int], tuple[Any, Any, Any]] = {}
        self._whoami = dict(_parse_whoami(s) for s in self.config.whoami_names)
        self._cells: tuple[TaskParams, ...] | None = None
        self._tld_cells = tuple(
            TaskParams(q.upper(), {"qtype": q.upper()}) for q in self.config.tld_qtypes
        )
        for qtype in (*self.config.qtypes, *self.config.tld_qtypes):
            codec.type_code(qtype)  # fail early, naming the bad type
        if self.config.doh_method.lower() not in ("get", "post"):
            raise ValueError(f"doh_method: {self.config.doh_method!r} is not get or post")

    # ------------------------------------------------------------------ planning
    def tasks_for(self, target: str, endpoint: Endpoint | None) -> Iterable[TaskParams]:
        if self._whoami:
            key = target.strip().rstrip(".").lower()
            if key in self._whoami:
                qtype = self._whoami[key]
                return (TaskParams(f"whoami/{qtype}", {"qtype": qtype, "purpose": "whoami"}),)
        if self._tld_cells and "." not in target.strip().rstrip("."):
            # A TLD: asked what N2 compares (its SOA/NS), not the A/AAAA/HTTPS of a host.
            return self._tld_cells
        if self._cells is None:
            # The same cells for every target: built once (nothing downstream mutates a
            # task's params; follow-ups copy them).
            self._cells = tuple(
                TaskParams(q.upper(), {"qtype": q.upper()}) for q in self.config.qtypes
            )
        return self._cells

    # ------------------------------------------------------------------ measuring
    async def measure(self, task: Task) -> Observation:
        return (await self.measure_many([task]))[0]

    async def measure_many(self, tasks: list[Task]) -> list[Observation]:
        """Measure a batch; UDP queries to the same server share sockets and go out at once."""
        batch = _UdpBatch(self, len(tasks))
        results = batch.results
        others: list[tuple[int, _Prepared]] = []
        batches: dict[tuple[str, int], list[tuple[QueryTemplate, Any, Any]]] = {}
        # One clock reading for the batch: its queries leave together (send_many), and a
        # wall-clock read per task cost more than the rest of preparing it.
        started = self.clock.now()
        t0 = self.clock.monotonic()
        for index, task in enumerate(tasks):
            try:
                prep = self._prepare(task, started=started, t0=t0)
                if isinstance(prep, Observation):
                    results[index] = prep
                    continue
                if prep.resolver.transport is Transport.UDP:
                    key = (prep.resolver.address, prep.resolver.port)
                    prep.index = index
                    prep.batch = batch
                    batches.setdefault(key, []).append((prep.template, prep.answered, prep))
                    batch.waiting += 1
                else:
                    others.append((index, prep))
            except Exception as exc:
                results[index] = self._crash(task, exc)
        for requests in batches.values():
            first: _Prepared = requests[0][2]
            client = self._udp_client(first.resolver, first.task.endpoint)
            client.send_many(requests, timeout=self.config.timeout_s)
        if others:
            outs = await asyncio.gather(*(self._measure_stream(p) for _, p in others))
            for (index, _), obs in zip(others, outs, strict=True):
                results[index] = obs
        if batch.waiting:
            await batch.done
        return [
            r if r is not None else self._crash(t, None)
            for r, t in zip(results, tasks, strict=True)
        ]

    def _prepare(self, task: Task, *, started: dt.datetime, t0: float) -> _Prepared | Observation:
        params = task.params
        endpoint = task.endpoint
        # Targets are asked of many resolvers and resolvers get many targets, but one
        # (target, resolver, qtype) is planned once per repetition: remember its checked
        # inputs so the hot path copies one dict instead of re-deriving a dozen fields.
        # Planned tasks share their endpoint and params objects, so the first lookup is
        # by identity (the entry holds both, so their ids cannot be reused meanwhile);
        # the second by value, for tasks built elsewhere (follow-ups, resume).
        fast_key = (task.target, id(endpoint), id(params))
        hit = self._by_identity.get(fast_key)
        if hit is not None and hit[0] is endpoint and hit[1] is params:
            static = hit[2]
        else:
            static = self._static_by_value(task)
            if len(self._by_identity) > 100_000:
                self._by_identity.clear()
            self._by_identity[fast_key] = (endpoint, params, static)
        fields, failed, resolver, template, qtype = static
        obs = Observation(
            table=TABLE,
            target=task.target,
            endpoint=endpoint.url if endpoint else None,
            started_at=started,
            fields=dict(fields),
        )
        if failed is not None:
            failure, operation, detail = failed
            return self._failed(obs, t0, failure, operation, detail)
        assert resolver is not None and template is not None
        return _Prepared(
            task, obs, resolver, template, qtype, fields["purpose"], t0, fields, started
        )

    def _static_by_value(self, task: Task) -> Any:
        params = task.params
        endpoint = task.endpoint
        key = (
            task.target,
            endpoint.url if endpoint else None,
            endpoint.role if endpoint else None,
            endpoint.operator if endpoint else None,
            endpoint.namespace if endpoint else None,
            params.get("qtype"),
            params.get("purpose"),
            params.get("transport"),
            endpoint.options.get("doh_method") if endpoint else None,
        )
        static = self._static.get(key)
        if static is None:
            static = self._static_for(task)
            if len(self._static) > 100_000:
                self._static.clear()
            self._static[key] = static
        return static

    def _static_for(
        self, task: Task
    ) -> tuple[
        dict[str, Any],
        tuple[Failure, Operation | None, str] | None,
        ResolverURL | None,
        QueryTemplate | None,
        int,
    ]:
        """The fields and query template that depend only on the task's inputs."""
        cfg = self.config
        params = task.params
        endpoint = task.endpoint
        fields: dict[str, Any] = {
            "purpose": params.get("purpose", "query"),
            "late": False,
            "duplicate": False,
            # Named even when empty: an answered query then fills every column of
            # dns_observations, and the engine's row builder skips merging its fields
            # onto the table's defaults (probes.engine.rows.observation_builder).
            "validation": None,
            "validation_detail": None,
            "whoami_address": None,
        }
        if endpoint is not None:
            fields["resolver_role"] = str(endpoint.role)
            fields["resolver_operator"] = endpoint.operator
            fields["resolver_namespace"] = endpoint.namespace
        qtype_text = str(params.get("qtype", cfg.qtypes[0] if cfg.qtypes else "A")).upper()
        fields["qtype"] = qtype_text
        try:
            qtype = codec.type_code(qtype_text)
            name = _normalize(task.target)
            fields["qname"] = name.ascii
            fields["qname_unicode"] = name.unicode
            if endpoint is None:
                raise BadResolverURL("dns.query needs a resolver endpoint")
            resolver = _resolver(endpoint.url)
            transport = resolver.transport
            if params.get("transport"):
                transport = Transport(params["transport"])
                resolver = ResolverURL(
                    resolver.url, transport, resolver.address, resolver.port, resolver.auth_name
                )
            if transport is Transport.HTTPS:
                method = str(endpoint.options.get("doh_method", cfg.doh_method)).lower()
                if method not in ("get", "post"):
                    raise ValueError(f"doh_method: {method!r} is not get or post")
                resolver = resolver.with_method(method == "get")
            fields["transport"] = str(transport)
            fields["resolver_address"] = resolver.address
            fields["resolver_port"] = resolver.port
        except (InvalidName, BadResolverURL, ValueError) as exc:
            fields["transport"] = str(Transport.NONE)
            return fields, (Failure.INVALID_INPUT, Operation.RESOLVE, str(exc)), None, None, 0
        try:
            self.policy.require(resolver.address, Operation.DNS_ROUND_TRIP)
        except MeasurementError as exc:
            fields["transport"] = str(Transport.NONE)
            return fields, (exc.failure, exc.operation, exc.detail), None, None, 0
        template = _template(
            name.ascii,
            qtype,
            cfg.recursion_desired,
            cfg.checking_disabled,
            cfg.dnssec_ok,
            cfg.edns_size,
        )
        return fields, None, resolver, template, qtype

    def _failed(
        self,
        obs: Observation,
        t0: float,
        failure: Failure,
        operation: Operation | None,
        detail: str,
    ) -> Observation:
        obs.failure = failure
        obs.failed_operation = operation
        obs.failure_detail = detail
        obs.duration_ms = (self.clock.monotonic() - t0) * 1000
        return obs

    def _crash(self, task: Task, exc: BaseException | None) -> Observation:
        obs = Observation(
            table=TABLE,
            target=task.target,
            endpoint=task.endpoint.url if task.endpoint else None,
            started_at=self.clock.now(),
        )
        obs.failure = Failure.UNKNOWN_FAILURE
        obs.failure_detail = (
            "".join(traceback.format_exception(exc)) if exc else "no result was produced"
        )
        obs.fields["purpose"] = task.params.get("purpose", "query")
        obs.fields["late"] = False
        obs.fields["duplicate"] = False
        return obs

    def _udp_client(self, resolver: ResolverURL, endpoint: Endpoint | None) -> UdpClient:
        """The UDP client of a resolver address and port; its strays are recorded for
        ``endpoint`` (the first panel endpoint that used it)."""
        key = (resolver.address, resolver.port)
        client = self._udp.get(key)
        # A probe may outlive an event loop (one asyncio.run per CLI call or test): its
        # sockets are registered with the loop they were made in.
        if client is None or client.closed or client.loop is not asyncio.get_running_loop():
            if client is not None and not client.closed and not client.loop.is_closed():
                client.close()
            client = UdpClient(
                resolver.address,
                resolver.port,
                late_grace=self.config.late_grace_s,
                on_late=self._on_late,
                on_stray=functools.partial(self._on_stray, endpoint, resolver),
            )
            self._udp[key] = client
        return client

    def _apply_wire(self, prep: _Prepared, wire: bytes) -> None:
        obs = prep.obs
        fields, rows, failure, operation, detail = interpret(
            wire, prep.qtype, purpose=prep.purpose, template=prep.template
        )
        obs.fields.update(fields)
        if self.config.keep_wire:
            obs.fields["raw_wire"] = wire
        obs.children = [("dns_answers", row) for row in rows]
        if failure is not None and obs.failure is None:
            obs.failure = failure
            obs.failed_operation = operation
            obs.failure_detail = detail

    def _finish_udp(self, prep: _Prepared, result: UdpResult) -> Observation:
        obs = prep.obs
        try:
            if result.failure is not None:
                obs.failure = result.failure
                obs.failed_operation = Operation.DNS_ROUND_TRIP
                obs.failure_detail = result.detail
                obs.retryable = result.failure is Failure.GENERIC_TIMEOUT_ERROR
                if result.wire is not None:
                    self._apply_wire(prep, result.wire)
                    obs.failure = result.failure  # the transport's verdict wins
                    obs.failed_operation = Operation.DNS_ROUND_TRIP
                    obs.failure_detail = result.detail
            else:
                assert result.wire is not None and result.received_at is not None
                wire = result.wire
                obs.fields["rtt_ms"] = (result.received_at - result.sent_at) * 1000
                self._apply_wire(prep, wire)
                limit = prep.template.edns_size
                if len(wire) > limit:
                    # RFC 6891 section 6.2.5: a responder must not exceed the requestor's
                    # advertised payload size.
                    obs.failure = Failure.DNS_SERVER_MISBEHAVING
                    obs.failed_operation = Operation.DNS_ROUND_TRIP
                    obs.failure_detail = (
                        f"UDP response of {len(wire)} octets exceeds the {limit} advertised"
                    )
                elif obs.fields.get("flag_tc") and self.config.tcp_fallback:
                    obs.follow_ups.append(self._tcp_follow_up(prep.task))
            obs.fields["query_id"] = result.qid
        except Exception as exc:
            return self._crash(prep.task, exc)
        obs.duration_ms = (self.clock.monotonic() - prep.t0) * 1000
        return obs

    def _tcp_follow_up(self, task: Task) -> FollowUp:
        params = dict(task.params)
        params["transport"] = str(Transport.TCP)
        params["purpose"] = "tc_fallback"
        return FollowUp(
            probe=self.name,
            target=task.target,
            key_suffix="tcp",
            endpoint=task.endpoint,
            params=params,
        )

    async def _measure_stream(self, prep: _Prepared) -> Observation:
        obs = prep.obs
        resolver = prep.resolver
        timeout = self.config.timeout_s
        try:
            transport = resolver.transport
            if transport is Transport.TCP:
                qid = _random_id()
                wire, rtt = await stream_exchange(resolver, prep.template, qid, timeout=timeout)
                obs.fields["query_id"] = qid
            elif transport is Transport.TLS:
                qid = _random_id()
                wire, rtt = await stream_exchange(
                    resolver, prep.template, qid, timeout=timeout, tls=self._ssl()
                )
                obs.fields["query_id"] = qid
            elif transport is Transport.HTTPS:
                wire, rtt = await doh_exchange(
                    resolver,
                    prep.template,
                    timeout=timeout,
                    tls=self._ssl(),
                    identity=self._identity,
                )
            elif transport is Transport.QUIC:
                wire, rtt = await doq_exchange(
                    resolver, prep.template, timeout=timeout, ca_file=self.config.ca_file
                )
            else:  # pragma: no cover - parse_resolver admits nothing else
                raise ValueError(f"unsupported transport {transport}")
            obs.fields["rtt_ms"] = rtt * 1000
            self._apply_wire(prep, wire)
        except ExchangeError as exc:
            if exc.wire:
                self._apply_wire(prep, exc.wire)
            obs.failure = exc.failure
            obs.failed_operation = exc.operation
            obs.failure_detail = exc.detail
            # A reset is retried like a lost datagram (as transport.tls does): a transient
            # reset (an overloaded server's idle timeout) must not read as blocking, and an
            # injected one resets every attempt, which is what then counts.
            obs.retryable = exc.failure in (
                Failure.GENERIC_TIMEOUT_ERROR,
                Failure.CONNECTION_RESET,
                Failure.QUIC_HANDSHAKE_TIMEOUT,
            )
        except Exception as exc:
            return self._crash(prep.task, exc)
        obs.duration_ms = (self.clock.monotonic() - prep.t0) * 1000
        return obs

    def _ssl(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl_context(self.config.ca_file)
        return self._tls

    # ------------------------------------------------------------------ late answers
    def _on_late(self, pending: Pending, wire: bytes, received: float, kind: str) -> None:
        prep = pending.context
        if not isinstance(prep, _Prepared):
            return
        task = prep.task
        late_task = Task(
            key=f"{task.key}/{kind}",
            probe=task.probe,
            target=task.target,
            endpoint=task.endpoint,
            params=task.params,
            repetition=task.repetition,
            parent_key=task.key,
        )
        obs = Observation(
            table=TABLE,
            target=task.target,
            endpoint=task.endpoint.url if task.endpoint else None,
            started_at=prep.started_at,
        )
        base = {
            k: prep.static.get(k)
            for k in (
                "qname",
                "qname_unicode",
                "qtype",
                "purpose",
                "transport",
                "resolver_address",
                "resolver_port",
                "resolver_role",
                "resolver_operator",
                "resolver_namespace",
            )
        }
        obs.fields.update(base)
        late_prep = _Prepared(
            late_task,
            obs,
            prep.resolver,
            prep.template,
            prep.qtype,
            prep.purpose,
            prep.t0,
            prep.static,
            prep.started_at,
        )
        self._apply_wire(late_prep, wire)
        obs.fields["query_id"] = pending.qid
        obs.fields["rtt_ms"] = (received - pending.result.sent_at) * 1000
        obs.fields["late"] = kind == "late"
        obs.fields["duplicate"] = kind == "duplicate"
        obs.failure = Failure.DNS_SERVER_MISBEHAVING if kind == "duplicate" else obs.failure
        if kind == "duplicate":
            obs.failed_operation = Operation.DNS_ROUND_TRIP
            obs.failure_detail = "a second response to an already answered query"
        obs.duration_ms = (received - pending.result.sent_at) * 1000
        self._late.append((late_task, obs))

    def _on_stray(
        self,
        endpoint: Endpoint | None,
        resolver: ResolverURL,
        wire: bytes,
        received: float,
        why: str,
    ) -> None:
        """A datagram from the resolver that matches no query: a row of its own (purpose
        ``stray``), once per distinct datagram, keyed by its digest."""
        seen = self._strays.setdefault((resolver.address, resolver.port), set())
        digest = hashlib.blake2b(wire, digest_size=8).hexdigest()
        if digest in seen or len(seen) >= STRAY_ROWS_PER_SERVER:
            return
        seen.add(digest)
        try:
            resp = codec.parse(wire)
            qname, qtype = resp.question_name or "", resp.question_type or 0
        except codec.MalformedMessage:
            qname, qtype = "", 0
        where = (endpoint.label or endpoint.url) if endpoint is not None else resolver.url
        task = Task(
            key=f"{self.name}|stray|{where}|{digest}",
            probe=self.name,
            target=qname,
            endpoint=endpoint,
        )
        obs = Observation(
            table=TABLE,
            target=qname,
            endpoint=endpoint.url if endpoint is not None else resolver.url,
            started_at=self.clock.now(),
        )
        fields, rows, _failure, _operation, _detail = interpret_general(wire, qtype)
        obs.fields.update(fields)
        obs.fields.update(
            purpose="stray",
            qname=qname or None,
            qtype=codec.type_text(qtype) if qtype else None,
            transport=str(Transport.UDP),
            resolver_address=resolver.address,
            resolver_port=resolver.port,
            late=False,
            duplicate=False,
        )
        if len(wire) >= 2:
            obs.fields["query_id"] = (wire[0] << 8) | wire[1]
        if endpoint is not None:
            obs.fields["resolver_role"] = str(endpoint.role)
            obs.fields["resolver_operator"] = endpoint.operator
            obs.fields["resolver_namespace"] = endpoint.namespace
        if self.config.keep_wire:
            obs.fields["raw_wire"] = wire
        obs.children = [("dns_answers", row) for row in rows]
        obs.failure = Failure.DNS_SERVER_MISBEHAVING
        obs.failed_operation = Operation.DNS_ROUND_TRIP
        obs.failure_detail = f"stray datagram: {why}"
        self._late.append((task, obs))

    def drain_late(self) -> list[tuple[Task, Observation]]:
        """Rows for late, duplicate and stray responses seen so far (each with its own
        task key)."""
        late, self._late = self._late, []
        return late

    async def close(self) -> None:
        for client in self._udp.values():
            client.close()
        self._udp.clear()


def _random_id() -> int:
    import secrets

    return secrets.randbelow(65536)
