"""The shared tables and the helpers every observation table uses. No I/O.

Vocabularies, vantages, runs, targets, the task ledger and indicator values; the
observation envelope (:class:`ObservationMixin`, :func:`envelope_args`) and child tables
(:func:`child_of`). The probe areas' tables live in the sibling modules of this package
(db.models), which import this one; this one imports none of them.
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
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from fragscope.db.vocab import Role, RunStatus

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


def defaults_to(value: Any) -> dict[str, Any]:
    """``mapped_column`` keywords giving a column ``value`` as its default on both sides.

    The ORM default serves SQLAlchemy's inserts; the server default serves every other
    writer (a raw INSERT, ``sqlite3``, a research script) that leaves the column out. The
    engine's writer names every column, so its row builders fill these defaults in
    themselves (db.writer.column_defaults); without either, a NOT NULL column such as
    ``dns_observations.purpose`` refused the engine's failure rows (issue 18).
    A list or dict (a JSON column) gets a fresh one per row on the ORM side.
    """
    server: Any
    if isinstance(value, bool):
        server = true() if value else false()
    elif isinstance(value, int):
        server = text(str(value))
    elif isinstance(value, str):
        server = text("'" + value.replace("'", "''") + "'")
    elif isinstance(value, (list, dict)) and not value:
        server = text("'[]'" if isinstance(value, list) else "'{}'")
        return {"default": type(value), "server_default": server}
    else:
        raise TypeError(f"no server default for {value!r}")
    return {"default": value, "server_default": server}


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
        **defaults_to([]), doc="JSON list of egress addresses seen by whoami services"
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
        **defaults_to({}), doc="JSON: per-probe counts of tasks, successes and failures"
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
        String(32),
        **defaults_to("icann"),
        doc="the naming system (icann, opennic, handshake, ens, ...)",
    )
    role: Mapped[str] = mapped_column(
        String(16), **defaults_to("test"), doc="test, control or canary"
    )
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
    shard: Mapped[int] = mapped_column(Integer, **defaults_to(0), doc="the shard that ran it")
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime, doc="UTC")


class TaskFollowUp(Base):
    """A follow-up task planned by a finished task, kept so a resumed run still runs it."""

    __tablename__ = "task_followups"
    __table_args__ = {
        "comment": "Follow-up tasks spawned by finished tasks (written in the parent's "
        "transaction); resume runs those whose task_key is not in tasks_done."
    }

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True, doc="the run"
    )
    task_key: Mapped[str] = mapped_column(
        String(512), primary_key=True, doc="the follow-up's key: parent key + '>' + suffix"
    )
    root_key: Mapped[str] = mapped_column(
        String(512), doc="key of the planned task at the root of the chain (decides the shard)"
    )
    parent_key: Mapped[str] = mapped_column(String(512), doc="key of the task that spawned it")
    probe: Mapped[str] = mapped_column(String(64), doc="the follow-up's probe")
    target: Mapped[str] = mapped_column(String(255), doc="what it measures")
    endpoint: Mapped[dict[str, Any] | None] = mapped_column(
        doc="JSON of the endpoint (url, operator, role, namespace, label, rate), if any"
    )
    params: Mapped[dict[str, Any]] = mapped_column(**defaults_to({}), doc="JSON task parameters")
    repetition: Mapped[int] = mapped_column(Integer, doc="the repetition of the root task")


class RunLease(Base):
    """A run lock on a shared database: a lease its holder renews (probes/engine/lock.py)."""

    __tablename__ = "run_leases"
    __table_args__ = {
        "comment": "Run locks on PostgreSQL: one lease per (campaign, vantage, shard), "
        "renewed by its holder's heartbeat; an expired lease is free, whatever became of "
        'the holder\'s session (docs/operations.md, "Shared databases").'
    }

    name: Mapped[str] = mapped_column(
        String(512), primary_key=True, doc="campaign, vantage and shard joined by \\x1f"
    )
    holder: Mapped[str] = mapped_column(String(128), doc="host, pid and a random token")
    expires_at: Mapped[dt.datetime] = mapped_column(
        DateTime, doc="the database server's UTC time when the lease lapses unless renewed"
    )


class ObservationMixin:
    """The envelope every observation table shares (docs/architecture.md §4).

    ``id`` is assigned by the client as a 64-bit hash of ``(run_id, task_key, attempt)``
    (:func:`db.ids.row_id`), so child rows can go into the same batch as their parent, and
    it is the primary key: two rows with the same ``(run_id, task_key, attempt)`` have the
    same id, so that triple is unique and the writer's ON CONFLICT DO NOTHING makes a
    replayed task or shard add nothing. (Two different triples would have to collide in
    64 bits to lose a row: about n**2 / 2**65, 3e-6 for ten million rows of one table.)

    The hot tables carry no secondary index whose key arrives in random order (a separate
    unique index on the text triple, ``target``): each cost every insert a random B-tree
    insertion and made the writer 4-10x slower (issue 2, bench/writer.py). ``run_id`` is
    indexed: its entries arrive in rowid order, so that index only appends.

    A row the engine makes itself (blocked_by_policy, its deadline, a probe's crash)
    carries this envelope alone, so every probe column of an observation table is
    nullable or has a default (:func:`defaults_to`); tests/test_engine_failure_rows.py
    stores such rows for every registered probe.
    """

    id: Mapped[int] = mapped_column(
        BigInteger,
        primary_key=True,
        autoincrement=False,
        doc="64-bit hash of run, task_key, attempt",
    )

    @declared_attr
    def run_id(cls) -> Mapped[str]:
        # Indexed: every analysis query and ``runs prune`` select by run (0500).
        return mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True, doc="the run")

    @declared_attr
    def vantage_id(cls) -> Mapped[str]:
        return mapped_column(ForeignKey("vantages.id"), doc="where it was measured from")

    task_key: Mapped[str] = mapped_column(String(512), doc="deterministic key of the task")
    attempt: Mapped[int] = mapped_column(Integer, doc="0 for the first try, 1.. for retries")
    probe: Mapped[str] = mapped_column(String(64), doc="the probe's dotted name (dns.query, ...)")
    probe_version: Mapped[int] = mapped_column(Integer, doc="bumped when a field's meaning changes")
    target: Mapped[str] = mapped_column(String(255), doc="what was measured")
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
    """``__table_args__`` for an observation table: its extra constraints and a comment."""
    return (*extra, {"comment": comment})


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
        Float,
        doc="in [0,1], higher = more fragmented; NULL when withheld or not applicable "
        "(see status, reason)",
    )
    n: Mapped[int | None] = mapped_column(Integer, doc="the sample size behind the value")
    ci_low: Mapped[float | None] = mapped_column(Float, doc="lower end of the 95% interval")
    ci_high: Mapped[float | None] = mapped_column(Float, doc="upper end of the 95% interval")
    params: Mapped[dict[str, Any]] = mapped_column(
        **defaults_to({}), doc="JSON: parameters and raw components (mapping date, raw ratios)"
    )
    reason: Mapped[str | None] = mapped_column(Text, doc="why the value is NULL, if it is")
    status: Mapped[str] = mapped_column(
        String(16),
        **defaults_to("value"),
        doc="value; withheld (NULL for lack of data); not_applicable (NULL: the formula is "
        "undefined on complete data, e.g. T9 with no interference)",
    )
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime, doc="UTC")
