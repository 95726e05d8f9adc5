"""Per-(run, target, address) facts reduced in SQL from the transport tables. Reads the database.

One GROUP BY per table and run (DESIGN section 5: heavy lifting in the database); every
transport indicator then works from these small per-pair facts, so each row is read once
however many indicators read it. A pair is ``ok`` on a channel when any of its attempts succeeded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, func, literal, select
from sqlalchemy.sql.expression import ColumnElement, TableClause

from analysis.tables import light, stream_rows

QUIC_V1 = 0x00000001
QUIC_V2 = 0x6B3343CF
# Failures that mean nothing (or no completion) came back to the QUIC Initial: the
# signature of UDP/443 blocking (Elmenhorst et al. 2021), as opposed to a refusal.
QUIC_TIMEOUTS = ("quic_no_reply", "quic_handshake_timeout", "generic_timeout_error")
QUIC_DONE = ("handshake_done", "http_done")
LEGACY_KINDS = ("gquic", "draft")


@dataclass(slots=True)
class Pair:
    """What one run saw at one (target, address)."""

    target: str
    address: str
    ip_version: int | None = None
    tls_tried: bool = False
    tcp_ok: bool = False
    tls_ok: bool = False
    tls13: bool = False
    h2: bool = False
    altsvc_h3: bool = False
    tls_outcome: str | None = None
    quic_tried: bool = False
    quic_ok: bool = False
    quic_timeout: bool = False
    quic_std: bool = False
    quic_outcome: str | None = None
    vn_tried: bool = False
    vn_reply: bool = False
    vn_v1: bool = False
    vn_v2: bool = False
    vn_grease: bool = False
    vn_outcome: str | None = None
    vn_kinds: frozenset[str] = frozenset()


@dataclass(slots=True)
class TargetFlags:
    """Per-target "any pair" flags, computed once per run for T1, T4, T5 and T6."""

    altsvc: bool = False
    tls_tried: bool = False
    tls_ok: bool = False
    tls13: bool = False
    h2: bool = False
    quic_tried: bool = False
    quic_ok: bool = False
    vn_reply: bool = False
    v6_tried: bool = False
    v6_ok: bool = False


@dataclass
class RunFacts:
    """Facts of one run: pairs by (target, address), path outcomes, HTTPS-RR h3 names."""

    pairs: dict[tuple[str, str], Pair] = field(default_factory=dict)
    path: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    https_h3: set[str] = field(default_factory=set)
    _by_target: dict[str, list[Pair]] | None = None
    _flags: dict[str, TargetFlags] | None = None

    def pair(self, target: str, address: str) -> Pair:
        key = (target, address)
        found = self.pairs.get(key)
        if found is None:
            found = self.pairs[key] = Pair(target, address)
        return found

    def flags(self) -> dict[str, TargetFlags]:
        """Target -> its flags, in sorted target order (one pass over the pairs)."""
        if self._flags is None:
            out: dict[str, TargetFlags] = {}
            for p in self.pairs.values():
                t = out.get(p.target)
                if t is None:
                    t = out[p.target] = TargetFlags()
                t.altsvc |= p.altsvc_h3
                t.tls_tried |= p.tls_tried
                t.tls_ok |= p.tls_ok
                t.tls13 |= p.tls13
                t.h2 |= p.h2
                t.quic_tried |= p.quic_tried
                t.quic_ok |= p.quic_ok
                t.vn_reply |= p.vn_reply
                if p.ip_version == 6 and p.tls_tried:
                    t.v6_tried = True
                    t.v6_ok |= p.tcp_ok
            self._flags = dict(sorted(out.items()))
        return self._flags

    def by_target(self) -> dict[str, list[Pair]]:
        """Pairs grouped by target (computed once; facts do not change after loading)."""
        if self._by_target is None:
            out: dict[str, list[Pair]] = defaultdict(list)
            for p in self.pairs.values():
                out[p.target].append(p)
            self._by_target = dict(out)
        return self._by_target


def _flag(cond: ColumnElement[bool]) -> ColumnElement[int]:
    # MAX over a 0/1 CASE is "any" on SQLite and PostgreSQL alike (PostgreSQL has no
    # MAX(boolean)).
    return func.max(case((cond, 1), else_=0))


def norm_name(name: str | None) -> str:
    """Names compare case-insensitively and without the root dot."""
    return (name or "").rstrip(".").lower()


def load(engine: Engine, run_ids: Iterable[str], present: set[str]) -> dict[str, RunFacts]:
    """Facts for every run id: per run, one GROUP BY query per table present.

    A query per run (``run_id = :id``, the run_id index) rather than one over all runs:
    each run's rows are still read once, but the sort behind each GROUP BY is a run's
    rows on (target, address) instead of every run's on (run_id, target, address), which
    costs about a third less on SQLite (bench.indicators)."""
    ids = sorted(set(run_ids))
    with engine.connect() as conn:
        return {r: _load_run(conn, r, present) for r in ids}


def _pair_table(name: str, *columns: str) -> TableClause:
    """A transport table with the columns every per-pair query reads, and ``columns``."""
    return light(name, "run_id", "target", "address", "ip_version", *columns)


def _per_pair(
    conn: Connection, run_id: str, t: TableClause, *aggregates: ColumnElement[Any]
) -> Iterator[tuple[Any, ...]]:
    """One run's rows of ``t`` grouped per (target, address): target, address, the IP
    version and ``aggregates``."""
    stmt = (
        select(t.c.target, t.c.address, func.max(t.c.ip_version), *aggregates)
        .where(t.c.run_id == run_id)
        .group_by(t.c.target, t.c.address)
    )
    return stream_rows(conn, stmt)


def _load_run(conn: Connection, run_id: str, present: set[str]) -> RunFacts:
    """One run's facts; its rows arrive in (target, address) order."""
    f = RunFacts()
    if "tls_observations" in present:
        t = _pair_table(
            "tls_observations", "tls_version", "alpn", "alt_svc_h3", "connect_ms", "failure"
        )
        rows = _per_pair(
            conn,
            run_id,
            t,
            _flag(t.c.connect_ms.is_not(None) | t.c.tls_version.is_not(None)),
            _flag(t.c.tls_version.is_not(None)),
            _flag(t.c.tls_version == "TLSv1.3"),
            _flag(t.c.alpn == "h2"),
            _flag(t.c.alt_svc_h3),
            func.min(t.c.failure),
        )
        for target, addr, ipv, tcp, tls, v13, h2, alt, fail in rows:
            p = f.pair(target, addr)
            p.ip_version = ipv
            p.tls_tried, p.tcp_ok, p.tls_ok = True, bool(tcp), bool(tls)
            p.tls13, p.h2, p.altsvc_h3 = bool(v13), bool(h2), bool(alt)
            p.tls_outcome = "ok" if tls else (fail or "unknown_failure")
    if "quic_observations" in present:
        q = _pair_table("quic_observations", "stage", "failure", "quic_version")
        rows = _per_pair(
            conn,
            run_id,
            q,
            _flag(q.c.stage.in_(QUIC_DONE)),
            _flag(q.c.failure.in_(QUIC_TIMEOUTS) | (q.c.stage == "initial_sent")),
            _flag(q.c.quic_version.in_([QUIC_V1, QUIC_V2])),
            func.min(q.c.failure),
        )
        for target, addr, ipv, ok, timeout, std, fail in rows:
            p = f.pair(target, addr)
            p.ip_version = p.ip_version or ipv
            p.quic_tried, p.quic_ok = True, bool(ok)
            p.quic_timeout, p.quic_std = bool(timeout) and not ok, bool(std)
            p.quic_outcome = "ok" if ok else (fail or "unknown_failure")
    if "quic_vn_observations" in present:
        v = _pair_table("quic_vn_observations", "id", "reply", "has_v1", "has_v2", "has_grease")
        rows = _per_pair(
            conn,
            run_id,
            v,
            _flag(v.c.reply == "vn"),
            _flag(v.c.has_v1),
            _flag(v.c.has_v2),
            _flag(v.c.has_grease),
            func.min(v.c.reply),
        )
        for target, addr, ipv, vn, v1, v2, grease, reply in rows:
            p = f.pair(target, addr)
            p.ip_version = p.ip_version or ipv
            p.vn_tried, p.vn_reply = True, bool(vn)
            p.vn_v1, p.vn_v2, p.vn_grease = bool(v1), bool(v2), bool(grease)
            p.vn_outcome = "vn" if vn else reply
        if "quic_vn_versions" in present:
            k = light("quic_vn_versions", "observation_id", "kind")
            stmt = (
                select(v.c.target, v.c.address, k.c.kind)
                .join_from(v, k, k.c.observation_id == v.c.id)
                .where(v.c.run_id == run_id)
                .group_by(v.c.target, v.c.address, k.c.kind)
            )
            for target, addr, kind in stream_rows(conn, stmt):
                p = f.pair(target, addr)
                p.vn_kinds = p.vn_kinds | {kind}
    if "path_observations" in present:
        po = light("path_observations", "run_id", "target", "test", "outcome")
        stmt = (
            select(po.c.target, po.c.test, po.c.outcome, func.count())
            .where(po.c.run_id == run_id)
            .group_by(po.c.target, po.c.test, po.c.outcome)
        )
        for target, test, outcome, count in stream_rows(conn, stmt):
            slot = f.path.setdefault((target, test), {})
            slot[outcome or "none"] = slot.get(outcome or "none", 0) + count
    if "dns_observations" in present and "dns_answers" in present:
        o = light("dns_observations", "id", "run_id", "qname")
        a = light("dns_answers", "observation_id", "rtype", "svc_alpn", "section")
        stmt = (
            select(o.c.qname)
            .join_from(o, a, a.c.observation_id == o.c.id)
            .where(
                and_(
                    o.c.run_id == run_id,
                    a.c.rtype == "HTTPS",
                    a.c.section == "answer",
                    # alpn ids are comma-separated (h3,h2); h3 or h3-NN drafts count.
                    (literal(",") + a.c.svc_alpn + literal(",")).like("%,h3%"),
                )
            )
            .group_by(o.c.qname)
        )
        for (qname,) in stream_rows(conn, stmt):
            f.https_h3.add(norm_name(qname))
    return f
