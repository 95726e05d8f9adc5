"""SQLAlchemy 2.x models: the schema's single source of truth. No I/O.

Every table and column carries ``doc=`` (rendered into docs/schema.md by
``fragscope db describe``). Observation tables share the envelope in
:class:`ObservationMixin`; each probe issue adds its own table with the mixin, its child
tables with :func:`child_of`, a migration and views.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from db.vocab import Role, RunStatus

# A naming convention makes constraint names stable across SQLite and PostgreSQL, which
# Alembic's batch mode needs to alter SQLite tables.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

UUID_LEN = 36  # canonical text form, readable in sqlite3 and DuckDB alike


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


def _enum_check(column: str, values: type[Role] | type[RunStatus]) -> CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_allowed")


class _VocabularyTable:
    """A closed vocabulary as a lookup table; observation columns reference it."""

    name: Mapped[str] = mapped_column(String(64), primary_key=True, doc="the value")
    description: Mapped[str] = mapped_column(Text, doc="what the value means")


class VocabFailure(_VocabularyTable, Base):
    __tablename__ = "vocab_failure"
    __table_args__ = {"comment": "The closed vocabulary of failures (OONI-compatible names)."}


class VocabOperation(_VocabularyTable, Base):
    __tablename__ = "vocab_operation"
    __table_args__ = {"comment": "The closed vocabulary of operations a failure can happen in."}


class VocabTransport(_VocabularyTable, Base):
    __tablename__ = "vocab_transport"
    __table_args__ = {"comment": "The closed vocabulary of transports."}


class VocabPathOutcome(_VocabularyTable, Base):
    __tablename__ = "vocab_path_outcome"
    __table_args__ = {"comment": "The closed vocabulary of path-probe outcome classes."}


class Vantage(Base):
    __tablename__ = "vantages"
    __table_args__ = (
        UniqueConstraint("label", "hostname"),
        {"comment": "Where measurements were taken from: one row per (label, hostname)."},
    )

    id: Mapped[str] = mapped_column(
        String(UUID_LEN),
        primary_key=True,
        doc="UUID5 of label and hostname, so the same vantage gets the same id on every "
        "machine and merged databases agree",
    )
    label: Mapped[str] = mapped_column(
        String(64), doc="the vantage's name in campaigns (clean, ...)"
    )
    hostname: Mapped[str] = mapped_column(String(255), doc="the host the runs ran on")
    egress_addresses: Mapped[list[Any]] = mapped_column(
        default=list, doc="JSON list of egress addresses seen by whoami services"
    )
    asn: Mapped[int | None] = mapped_column(
        Integer, doc="origin ASN of the egress address, if known"
    )
    country: Mapped[str | None] = mapped_column(String(2), doc="ISO 3166 country code, if known")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, doc="first seen (UTC)")


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        _enum_check("status", RunStatus),
        Index("ix_runs_campaign_vantage", "campaign", "vantage_id"),
        {"comment": "A run is one campaign executed at one vantage; its shards share it."},
    )

    id: Mapped[str] = mapped_column(
        String(UUID_LEN), primary_key=True, doc="UUID4; databases from many machines merge by it"
    )
    campaign: Mapped[str] = mapped_column(String(128), doc="the campaign's name")
    round: Mapped[str | None] = mapped_column(
        String(128), index=True, doc="groups runs of several vantages measured together"
    )
    vantage_id: Mapped[str] = mapped_column(
        ForeignKey("vantages.id"), doc="where the run took place"
    )
    config: Mapped[dict[str, Any]] = mapped_column(doc="JSON snapshot of the campaign as loaded")
    software: Mapped[dict[str, Any]] = mapped_column(
        doc="JSON: versions of fragscope, Python and the libraries measuring"
    )
    seed: Mapped[int] = mapped_column(
        BigInteger, doc="the run's seed: keys the shard hash and the canary generator"
    )
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, doc="UTC start")
    finished_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime, doc="UTC end, NULL while running"
    )
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime, doc="UTC time the engine last said it was alive; stale = a dead run"
    )
    status: Mapped[str] = mapped_column(
        String(16), doc="running, finished, partial, interrupted or failed"
    )
    exit_code: Mapped[int | None] = mapped_column(Integer, doc="the process exit code")
    counts: Mapped[dict[str, Any]] = mapped_column(
        default=dict, doc="JSON: per-probe counts of tasks, successes and failures"
    )


class Target(Base):
    __tablename__ = "targets"
    __table_args__ = (
        _enum_check("role", Role),
        UniqueConstraint("run_id", "list", "name"),
        {"comment": "The names a run measured, with the list they came from."},
    )

    id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False, doc="64-bit hash of run, list, name"
    )
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), doc="the run")
    name: Mapped[str] = mapped_column(String(255), doc="the target (a domain name, a host)")
    list_name: Mapped[str] = mapped_column(
        "list", String(128), doc="the target list or canary set it came from"
    )
    rank: Mapped[int | None] = mapped_column(Integer, doc="rank in the list (Tranco), if any")
    namespace: Mapped[str] = mapped_column(
        String(32), default="icann", doc="the naming system (icann, opennic, handshake, ens, ...)"
    )
    role: Mapped[str] = mapped_column(String(16), default="test", doc="test, control or canary")
    pinned_addresses: Mapped[list[Any] | None] = mapped_column(
        doc="JSON list of addresses the list pins, so vantages test the same IPs"
    )


class TaskDone(Base):
    """One row per finished task; resume skips every task_key here."""

    __tablename__ = "tasks_done"
    __table_args__ = {
        "comment": "Every task a run completed (written with its observations, in one "
        "transaction): the resume ledger and the completeness count."
    }

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True, doc="the run"
    )
    task_key: Mapped[str] = mapped_column(
        String(512), primary_key=True, doc="deterministic key of the task"
    )
    probe: Mapped[str] = mapped_column(String(64), doc="the probe's dotted name")
    attempts: Mapped[int] = mapped_column(Integer, doc="attempts made (1 + retries)")
    failure: Mapped[str | None] = mapped_column(
        ForeignKey("vocab_failure.name"), doc="the last attempt's failure, NULL on success"
    )
    shard: Mapped[int] = mapped_column(Integer, default=0, doc="the shard that ran it")
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime, doc="UTC")


class ObservationMixin:
    """The envelope every observation table shares (DESIGN section 4).

    ``(run_id, task_key, attempt)`` is unique and the writer inserts with ON CONFLICT DO
    NOTHING, so a replayed task or shard adds nothing. ``id`` is assigned by the client
    (:func:`db.ids.row_id`), so child rows can go into the same batch as their parent.
    """

    id: Mapped[int] = mapped_column(
        BigInteger,
        primary_key=True,
        autoincrement=False,
        doc="64-bit hash of run, task_key, attempt",
    )

    @declared_attr
    def run_id(cls) -> Mapped[str]:
        return mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True, doc="the run")

    @declared_attr
    def vantage_id(cls) -> Mapped[str]:
        return mapped_column(ForeignKey("vantages.id"), doc="where it was measured from")

    task_key: Mapped[str] = mapped_column(String(512), doc="deterministic key of the task")
    attempt: Mapped[int] = mapped_column(Integer, doc="0 for the first try, 1.. for retries")
    probe: Mapped[str] = mapped_column(String(64), doc="the probe's dotted name (dns.query, ...)")
    probe_version: Mapped[int] = mapped_column(Integer, doc="bumped when a field's meaning changes")
    target: Mapped[str] = mapped_column(String(255), index=True, doc="what was measured")
    endpoint: Mapped[str | None] = mapped_column(
        String(512), doc="where it was sent (resolver URL, address:port, RPC URL)"
    )
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, doc="UTC start of the attempt")
    duration_ms: Mapped[float | None] = mapped_column(Float, doc="wall time of the attempt")

    @declared_attr
    def failure(cls) -> Mapped[str | None]:
        return mapped_column(
            ForeignKey("vocab_failure.name"), doc="NULL on success, else a vocabulary value"
        )

    @declared_attr
    def failed_operation(cls) -> Mapped[str | None]:
        return mapped_column(
            ForeignKey("vocab_operation.name"), doc="the operation that failed, if any"
        )

    failure_detail: Mapped[str | None] = mapped_column(
        Text, doc="free text: the exception, a traceback for unknown_failure"
    )


def envelope_args(comment: str, *extra: Any) -> tuple[Any, ...]:
    """``__table_args__`` for an observation table: the envelope's uniqueness and a comment."""
    return (UniqueConstraint("run_id", "task_key", "attempt"), *extra, {"comment": comment})


def child_of(parent: str) -> Any:
    """A foreign key column to ``parent.id`` for a child table (one row per list item)."""
    return mapped_column(
        ForeignKey(f"{parent}.id", ondelete="CASCADE"), index=True, doc=f"the {parent} row"
    )


class NullObservation(ObservationMixin, Base):
    """Rows of the ``engine.null`` probe: the envelope alone."""

    __tablename__ = "null_observations"
    __table_args__ = envelope_args(
        "The engine's own trivial probe (engine.null): the envelope alone, used by the "
        "engine's tests and benchmark."
    )


class IndicatorValue(Base):
    __tablename__ = "indicator_values"
    __table_args__ = (
        Index("ix_indicator_values_run_code", "run_id", "code"),
        {"comment": "Computed fragmentation indicators with their uncertainty."},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, doc="row number")
    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), doc="the run (or the round's first run)"
    )
    vantage_id: Mapped[str | None] = mapped_column(
        ForeignKey("vantages.id"), doc="the vantage, NULL for round-level values"
    )
    code: Mapped[str] = mapped_column(String(16), doc="indicator code (N1, T2, C2, ...)")
    version: Mapped[int] = mapped_column(Integer, doc="the formula's version")
    value: Mapped[float | None] = mapped_column(
        Float, doc="in [0,1], higher = more fragmented; NULL when withheld (see reason)"
    )
    n: Mapped[int | None] = mapped_column(Integer, doc="the sample size behind the value")
    ci_low: Mapped[float | None] = mapped_column(Float, doc="lower end of the 95% interval")
    ci_high: Mapped[float | None] = mapped_column(Float, doc="upper end of the 95% interval")
    params: Mapped[dict[str, Any]] = mapped_column(
        default=dict, doc="JSON: parameters and raw components (mapping date, raw ratios)"
    )
    reason: Mapped[str | None] = mapped_column(Text, doc="why the value is NULL, if it is")
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime, doc="UTC")


# --------------------------------------------------------------------------------------
# DNS (probes dns.query and dns.iterative; migration 0100_dns)


class DnsObservation(ObservationMixin, Base):
    """One DNS exchange (one attempt on one transport), or one iterative resolution."""

    __tablename__ = "dns_observations"
    __table_args__ = envelope_args(
        "DNS probes (dns.query, dns.iterative): one row per query attempt on one transport "
        "(a UDP attempt truncated with TC and its TCP retry are two rows), or per iterative "
        "resolution; timeouts and errors are rows too.",
        Index("ix_dns_observations_qname_qtype", "qname", "qtype"),
    )

    qname: Mapped[str | None] = mapped_column(
        String(255), doc="the name asked, in A-label (ASCII, IDNA 2008/UTS 46) form"
    )
    qname_unicode: Mapped[str | None] = mapped_column(
        String(255), doc="the name asked, in U-label (Unicode) form"
    )
    qtype: Mapped[str | None] = mapped_column(
        String(16), doc="the query type mnemonic (A, AAAA, HTTPS, TYPE65534, ...)"
    )
    purpose: Mapped[str] = mapped_column(
        String(16),
        default="query",
        doc="query (a target), whoami (the resolver's egress address) or tc_fallback "
        "(the TCP retry of a truncated UDP answer)",
    )
    transport: Mapped[str | None] = mapped_column(
        ForeignKey("vocab_transport.name"), doc="udp, tcp, tls (DoT), https (DoH), quic (DoQ)"
    )
    resolver_address: Mapped[str | None] = mapped_column(
        String(64), doc="IP address the query went to"
    )
    resolver_port: Mapped[int | None] = mapped_column(Integer, doc="port the query went to")
    resolver_role: Mapped[str | None] = mapped_column(
        String(16), doc="control or test (the campaign's design; divergence is test vs control)"
    )
    resolver_operator: Mapped[str | None] = mapped_column(
        String(128), doc="who operates the resolver (campaign label)"
    )
    resolver_namespace: Mapped[str | None] = mapped_column(
        String(32), doc="the naming system the resolver serves (icann, opennic, handshake, ...)"
    )
    query_id: Mapped[int | None] = mapped_column(Integer, doc="DNS message ID of the query")
    rcode: Mapped[int | None] = mapped_column(
        Integer, doc="response code incl. extended bits (RFC 6891 section 6.1.3); NULL: none"
    )
    rcode_name: Mapped[str | None] = mapped_column(
        String(16), doc="response code mnemonic (NOERROR, NXDOMAIN, SERVFAIL, ...)"
    )
    flag_aa: Mapped[bool | None] = mapped_column(doc="AA: authoritative answer")
    flag_tc: Mapped[bool | None] = mapped_column(doc="TC: truncated")
    flag_rd: Mapped[bool | None] = mapped_column(doc="RD: recursion desired (echoed)")
    flag_ra: Mapped[bool | None] = mapped_column(doc="RA: recursion available")
    flag_ad: Mapped[bool | None] = mapped_column(
        doc="AD: the resolver says it validated the answer with DNSSEC (RFC 4035 section 3.2.3)"
    )
    flag_cd: Mapped[bool | None] = mapped_column(doc="CD: checking disabled (echoed)")
    ede_code: Mapped[int | None] = mapped_column(
        Integer, doc="first Extended DNS Error info-code (RFC 8914), if any"
    )
    ede: Mapped[list[Any] | None] = mapped_column(
        doc="JSON list of [info-code, extra-text] of every EDE option (RFC 8914)"
    )
    answer_count: Mapped[int | None] = mapped_column(Integer, doc="ANCOUNT")
    authority_count: Mapped[int | None] = mapped_column(Integer, doc="NSCOUNT")
    additional_count: Mapped[int | None] = mapped_column(Integer, doc="ARCOUNT (incl. OPT)")
    response_size: Mapped[int | None] = mapped_column(
        Integer, doc="size of the DNS response message in octets"
    )
    rtt_ms: Mapped[float | None] = mapped_column(
        Float,
        doc="query sent to response received, milliseconds (excl. connection set-up "
        "for UDP; incl. it for TCP, DoT, DoH, DoQ on a fresh connection)",
    )
    raw_wire: Mapped[bytes | None] = mapped_column(
        LargeBinary, doc="the response message as received (for DoH/DoQ the HTTP/stream payload)"
    )
    late: Mapped[bool] = mapped_column(
        default=False,
        doc="true: a response that came after its query had timed out (or a duplicate); "
        "never matched to a newer query",
    )
    duplicate: Mapped[bool] = mapped_column(
        default=False, doc="true: a second response to an already answered query (injection?)"
    )
    whoami_address: Mapped[str | None] = mapped_column(
        String(64), doc="for purpose=whoami: the egress address the whoami service reported"
    )
    validation: Mapped[str | None] = mapped_column(
        String(16),
        doc="dns.iterative: secure, insecure, bogus or indeterminate (RFC 4035 section 4.3); "
        "NULL for dns.query",
    )
    validation_detail: Mapped[str | None] = mapped_column(
        Text, doc="dns.iterative: why the chain was classified as it was"
    )


class DnsAnswer(Base):
    """One resource record of a DNS response (answer, authority or additional section)."""

    __tablename__ = "dns_answers"
    __table_args__ = (
        Index("ix_dns_answers_name_rtype", "name", "rtype"),
        {
            "comment": "Resource records of DNS responses, one row per record, with HTTPS/SVCB "
            "parameters parsed (RFC 9460)."
        },
    )

    id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False, doc="64-bit hash of parent, index"
    )
    observation_id: Mapped[int] = child_of("dns_observations")
    section: Mapped[str] = mapped_column(String(12), doc="answer, authority or additional")
    position: Mapped[int] = mapped_column(Integer, doc="order in the response, from 0")
    name: Mapped[str] = mapped_column(String(255), doc="owner name, presentation form")
    rtype: Mapped[str] = mapped_column(String(16), doc="record type mnemonic")
    ttl: Mapped[int] = mapped_column(BigInteger, doc="TTL in seconds")
    value: Mapped[str] = mapped_column(Text, doc="RDATA in presentation form")
    svc_priority: Mapped[int | None] = mapped_column(
        Integer, doc="HTTPS/SVCB SvcPriority (0 = AliasMode)"
    )
    svc_target: Mapped[str | None] = mapped_column(String(255), doc="HTTPS/SVCB TargetName")
    svc_alpn: Mapped[str | None] = mapped_column(
        String(255), doc="HTTPS/SVCB alpn ids, comma-separated (h3,h2)"
    )
    svc_port: Mapped[int | None] = mapped_column(Integer, doc="HTTPS/SVCB port")
    svc_ipv4hint: Mapped[str | None] = mapped_column(
        Text, doc="HTTPS/SVCB ipv4hint, comma-separated"
    )
    svc_ipv6hint: Mapped[str | None] = mapped_column(
        Text, doc="HTTPS/SVCB ipv6hint, comma-separated"
    )
    svc_ech: Mapped[bool | None] = mapped_column(doc="HTTPS/SVCB: an ech parameter is present")


class DnsIterativeStep(Base):
    """One query of an iterative resolution: which server, what came back."""

    __tablename__ = "dns_iterative_steps"
    __table_args__ = {
        "comment": "The steps of dns.iterative resolutions: server asked, referral or "
        "answer received, RTT, DNSSEC state at that zone cut."
    }

    id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False, doc="64-bit hash of parent, index"
    )
    observation_id: Mapped[int] = child_of("dns_observations")
    step: Mapped[int] = mapped_column(Integer, doc="order of the step, from 0")
    depth: Mapped[int] = mapped_column(
        Integer, doc="0 for the main chain, 1.. inside out-of-bailiwick NS lookups"
    )
    zone: Mapped[str] = mapped_column(String(255), doc="the zone the server was asked as")
    server_name: Mapped[str | None] = mapped_column(String(255), doc="NS name of the server")
    server_address: Mapped[str] = mapped_column(String(64), doc="IP address asked")
    qname: Mapped[str] = mapped_column(String(255), doc="the name asked at this step")
    qtype: Mapped[str] = mapped_column(String(16), doc="the type asked at this step")
    outcome: Mapped[str] = mapped_column(
        String(16),
        doc="referral, answer, cname, nxdomain, nodata, lame, error or timeout",
    )
    rcode: Mapped[int | None] = mapped_column(Integer, doc="response code, NULL if none")
    referral_zone: Mapped[str | None] = mapped_column(
        String(255), doc="for a referral: the delegated zone"
    )
    referral_ns: Mapped[str | None] = mapped_column(
        Text, doc="for a referral: the NS names, comma-separated"
    )
    rtt_ms: Mapped[float | None] = mapped_column(Float, doc="round-trip time, milliseconds")
    dnssec: Mapped[str | None] = mapped_column(
        String(16), doc="secure, insecure, bogus or indeterminate as of this zone"
    )
    detail: Mapped[str | None] = mapped_column(Text, doc="error or validation detail")


VIEWS: dict[str, str] = {
    "dns_answers_flat": "One row per DNS resource record joined with its query's context "
    "(run, vantage, resolver role/operator/namespace, qname, qtype, rcode, AD, failure, "
    "validation): the usual starting point for answer-divergence questions. Created in "
    "migration 0100_dns.",
}
"""SQL views the migrations create (name -> description), for db describe."""
