"""Per-(run, target, address) facts reduced in SQL from the transport tables. Reads the database.

One GROUP BY per table and run (docs/architecture.md §5: heavy lifting in the database); every
transport indicator then works from these small per-pair facts, so each row is read once
however many indicators read it. A pair is ``ok`` on a channel when any of its attempts succeeded.

The facts are columnar: one numpy array per fact over a run's pairs, sorted by (target,
address). Targets, addresses and labels are numbered once for the whole computation, in
sorted order, so the pairs of two runs match on integer keys and the indicators reduce
per target with numpy instead of a Python loop over hundreds of thousands of pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine, and_, case, func, literal, select
from sqlalchemy.sql.expression import ColumnElement, TableClause

from fragscope.analysis.tables import fetch_columns, light
from fragscope.probes.transport.quic_wire import VENDOR_KINDS, classify_version

QUIC_V1 = 0x00000001
QUIC_V2 = 0x6B3343CF
# Failures that mean nothing (or no completion) came back to the QUIC Initial: the
# signature of UDP/443 blocking (Elmenhorst et al. 2021), as opposed to a refusal.
QUIC_TIMEOUTS = ("quic_no_reply", "quic_handshake_timeout", "generic_timeout_error")
QUIC_DONE = ("handshake_done", "http_done")
LEGACY_KINDS = ("gquic", "draft")
VENDOR_KIND_NAMES = tuple(sorted(str(k) for k in VENDOR_KINDS))
UNKNOWN_FAILURE = "unknown_failure"

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Pair keys pack (target, address) ranks into one int64; ranks stay below 2**31.
_SHIFT = 32


def version_kinds(versions: Sequence[int]) -> list[str]:
    """The kind of each version number, classified now (probes.transport.quic_wire), not
    read from the stored ``kind``: a database written before a classification changed
    (mvfst's 0xfaceb010/11/13 were stored as "other") reads as today's code classifies."""
    memo: dict[int, str] = {}
    out = []
    for version in versions:
        kind = memo.get(version)
        if kind is None:
            kind = memo[version] = str(classify_version(int(version)))
        out.append(kind)
    return out


def _empty_int() -> IntArray:
    return np.zeros(0, dtype=np.int64)


def _empty_bool() -> BoolArray:
    return np.zeros(0, dtype=np.bool_)


class Vocab:
    """Strings numbered as they arrive; :meth:`ranks` renumbers them in sorted order."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self._recent: list[tuple[Sequence[str], IntArray]] = []

    def codes(self, values: Sequence[str]) -> IntArray:
        # The tables of a run (and the runs of a round) list the same targets and addresses
        # in the same order: comparing with a recent column costs far less than numbering.
        for seen, codes in self._recent:
            if seen == values:
                return codes
        codes = self._number(values)
        self._recent = [(values, codes), *self._recent[:3]]
        return codes

    def _number(self, values: Sequence[str]) -> IntArray:
        ix = self.index
        # New strings first (their arrival numbers only matter until ranks() sorts them),
        # then one C-level lookup per value.
        for v in set(values).difference(ix):
            ix[v] = len(ix)
        return np.fromiter(map(ix.__getitem__, values), dtype=np.int64, count=len(values))

    def ranks(self) -> tuple[list[str], IntArray]:
        """The strings in sorted order, and each arrival code's sorted rank."""
        names = sorted(self.index)
        rank = np.empty(len(names), dtype=np.int64)
        rank[[self.index[n] for n in names]] = np.arange(len(names))
        return names, rank


@dataclass
class Names:
    """The sorted strings every run's codes index: targets, addresses, labels (failures,
    VN replies, path outcomes and tests) and VN version kinds."""

    targets: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    _target_array: npt.NDArray[np.str_] | None = None
    _asns: dict[int, IntArray] = field(default_factory=dict)

    @property
    def target_array(self) -> npt.NDArray[np.str_]:
        """The target names as a numpy string array (sorts like Python strings)."""
        if self._target_array is None:
            self._target_array = np.array(self.targets, dtype=np.str_)
        return self._target_array

    def word(self, text: str) -> int:
        """The code of a label, -1 when no run used it."""
        i = int(np.searchsorted(np.array(self.words, dtype=np.str_), text))
        return i if i < len(self.words) and self.words[i] == text else -1

    def kind_bits(self, kinds: Iterable[str]) -> int:
        return sum(1 << i for i, k in enumerate(self.kinds) if k in set(kinds))

    def asns(self, mapping: Any) -> IntArray:
        """The origin ASN of every address (-1 unmapped), looked up once per mapping."""
        found = self._asns.get(id(mapping))
        if found is None:
            found = np.array(
                [-1 if (a := mapping.lookup(x)) is None else a for x in self.addresses],
                dtype=np.int64,
            )
            self._asns[id(mapping)] = found
        return found


@dataclass
class TargetFlags:
    """Per-target "any pair" flags (arrays over the run's targets, in sorted order), computed
    once per run for T1, T4, T5, T6 and T7."""

    targets: IntArray
    starts: IntArray
    altsvc: BoolArray
    tls_tried: BoolArray
    tls_ok: BoolArray
    tls13: BoolArray
    h2: BoolArray
    quic_tried: BoolArray
    quic_ok: BoolArray
    vn_reply: BoolArray
    v6_tried: BoolArray
    v6_ok: BoolArray


@dataclass
class RunFacts:
    """Facts of one run: arrays over its (target, address) pairs in sorted order, the path
    tests' outcome counts per (target, test, outcome), and the HTTPS-RR h3 names."""

    names: Names = field(default_factory=Names)
    t: IntArray = field(default_factory=_empty_int)  # target rank (names.targets)
    a: IntArray = field(default_factory=_empty_int)  # address rank (names.addresses)
    ip_version: IntArray = field(default_factory=_empty_int)  # 0 when unknown
    tls_tried: BoolArray = field(default_factory=_empty_bool)
    tcp_ok: BoolArray = field(default_factory=_empty_bool)
    tls_ok: BoolArray = field(default_factory=_empty_bool)
    tls13: BoolArray = field(default_factory=_empty_bool)
    h2: BoolArray = field(default_factory=_empty_bool)
    altsvc_h3: BoolArray = field(default_factory=_empty_bool)
    tls_outcome: IntArray = field(default_factory=_empty_int)  # names.words, -1 untried
    quic_tried: BoolArray = field(default_factory=_empty_bool)
    quic_ok: BoolArray = field(default_factory=_empty_bool)
    quic_timeout: BoolArray = field(default_factory=_empty_bool)
    quic_std: BoolArray = field(default_factory=_empty_bool)
    quic_outcome: IntArray = field(default_factory=_empty_int)
    vn_tried: BoolArray = field(default_factory=_empty_bool)
    vn_reply: BoolArray = field(default_factory=_empty_bool)
    vn_v1: BoolArray = field(default_factory=_empty_bool)
    vn_v2: BoolArray = field(default_factory=_empty_bool)
    vn_grease: BoolArray = field(default_factory=_empty_bool)
    vn_outcome: IntArray = field(default_factory=_empty_int)
    vn_kinds: IntArray = field(default_factory=_empty_int)  # bit i: names.kinds[i] listed
    # Each pair's position in the order the tables first saw it (tls, quic, then vn pairs,
    # each in (target, address) order): the order first-seen counts follow.
    seen: IntArray = field(default_factory=_empty_int)
    path_t: IntArray = field(default_factory=_empty_int)
    path_test: IntArray = field(default_factory=_empty_int)  # names.words
    path_outcome: IntArray = field(default_factory=_empty_int)  # names.words ("none")
    path_n: IntArray = field(default_factory=_empty_int)
    https_h3: set[str] = field(default_factory=set)
    _flags: TargetFlags | None = None

    @property
    def keys(self) -> IntArray:
        """One int64 per pair, ordered as the pairs: (target rank, address rank)."""
        return (self.t << _SHIFT) | self.a

    def matched(self, other: RunFacts, *flags: str) -> list[BoolArray]:
        """``other``'s named flags for each of this run's pairs (false where ``other`` did
        not measure the pair)."""
        theirs = other.keys
        if not len(theirs):
            return [np.zeros(len(self.t), dtype=np.bool_) for _ in flags]
        pos = np.minimum(np.searchsorted(theirs, self.keys), len(theirs) - 1)
        found = theirs[pos] == self.keys
        return [getattr(other, name)[pos] & found for name in flags]

    def target_names(self) -> set[str]:
        """Every target with a pair or a path test in this run."""
        ranks = np.union1d(self.t, self.path_t)
        return set(self.names.target_array[ranks].tolist())

    def in_https_h3(self, targets: IntArray) -> BoolArray:
        """Whether each target (rank) is named with h3 in an HTTPS record of this run."""
        rr = self.https_h3
        if not rr:
            return np.zeros(len(targets), dtype=np.bool_)
        names = self.names.targets
        return np.array([norm_name(names[t]) in rr for t in targets.tolist()], dtype=np.bool_)

    def flags(self) -> TargetFlags:
        """Per-target flags over the run's pairs (one reduction per flag)."""
        if self._flags is None:
            starts = segment_starts(self.t)

            def any_(x: BoolArray) -> BoolArray:
                return per_segment(np.logical_or, x, starts)

            v6 = (self.ip_version == 6) & self.tls_tried
            self._flags = TargetFlags(
                targets=self.t[starts],
                starts=starts,
                altsvc=any_(self.altsvc_h3),
                tls_tried=any_(self.tls_tried),
                tls_ok=any_(self.tls_ok),
                tls13=any_(self.tls13),
                h2=any_(self.h2),
                quic_tried=any_(self.quic_tried),
                quic_ok=any_(self.quic_ok),
                vn_reply=any_(self.vn_reply),
                v6_tried=any_(v6),
                v6_ok=any_(v6 & self.tcp_ok),
            )
        return self._flags


def segment_starts(sorted_ids: IntArray) -> IntArray:
    """Where each run of equal values starts in a sorted array."""
    if len(sorted_ids) == 0:
        return _empty_int()
    return np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])


def per_segment(op: np.ufunc, values: npt.NDArray[Any], starts: IntArray) -> npt.NDArray[Any]:
    """``op`` reduced over each segment starting at ``starts`` (empty for no segments)."""
    if len(starts) == 0:
        return np.zeros(0, dtype=values.dtype)
    return np.asarray(op.reduceat(values, starts))


def _flag(cond: ColumnElement[bool]) -> ColumnElement[int]:
    # MAX over a 0/1 CASE is "any" on SQLite and PostgreSQL alike (PostgreSQL has no
    # MAX(boolean)).
    return func.max(case((cond, 1), else_=0))


def norm_name(name: str | None) -> str:
    """Names compare case-insensitively and without the root dot."""
    return (name or "").rstrip(".").lower()


_TABLES = ("tls_observations", "quic_observations", "quic_vn_observations")


@dataclass
class _Raw:
    """One run's query results with strings numbered in arrival order (before ranking)."""

    tables: dict[str, tuple[IntArray, IntArray, list[Any]]] = field(default_factory=dict)
    kinds: tuple[IntArray, IntArray, IntArray] | None = None
    path: tuple[IntArray, IntArray, IntArray, IntArray] | None = None
    https_h3: set[str] = field(default_factory=set)


@dataclass
class _Vocabs:
    targets: Vocab = field(default_factory=Vocab)
    addresses: Vocab = field(default_factory=Vocab)
    words: Vocab = field(default_factory=Vocab)
    kinds: Vocab = field(default_factory=Vocab)


def load(engine: Engine, run_ids: Iterable[str], present: set[str]) -> dict[str, RunFacts]:
    """Facts for every run id: per run, one GROUP BY query per table present.

    A query per run (``run_id = :id``, the run_id index) rather than one over all runs:
    each run's rows are still read once, but the sort behind each GROUP BY is a run's
    rows on (target, address) instead of every run's on (run_id, target, address), which
    costs about a third less on SQLite (bench.indicators)."""
    ids = sorted(set(run_ids))
    v = _Vocabs()
    with engine.connect() as conn:
        raws = {r: _load_run(conn, r, present, v) for r in ids}
    t_names, t_rank = v.targets.ranks()
    a_names, a_rank = v.addresses.ranks()
    w_names, w_rank = v.words.ranks()
    k_names, k_rank = v.kinds.ranks()
    names = Names(t_names, a_names, w_names, k_names)
    ranks = (t_rank, a_rank, w_rank, k_rank)
    return {r: _finish(raw, names, ranks) for r, raw in raws.items()}


def _pair_table(name: str, *columns: str) -> TableClause:
    """A transport table with the columns every per-pair query reads, and ``columns``."""
    return light(name, "run_id", "target", "address", "ip_version", *columns)


def _packed(conds: Sequence[ColumnElement[bool]], radix_bits: int) -> ColumnElement[int]:
    """One SUM whose base-2**radix_bits digits count the rows meeting each condition."""
    terms = [case((c, 1 << (radix_bits * i)), else_=0) for i, c in enumerate(conds)]
    total: ColumnElement[Any] = terms[0]
    for term in terms[1:]:
        total = total + term
    return func.sum(total)


def _per_pair(
    conn: Connection,
    run_id: str,
    t: TableClause,
    flags: Sequence[ColumnElement[bool]],
    *aggregates: ColumnElement[Any],
) -> list[Any]:
    """One run's rows of ``t`` grouped per (target, address): columns target, address, the
    IP version, one 0/1 "any row" column per condition in ``flags``, then ``aggregates``.

    The flags come from a single SUM packing one count per condition into the digits of an
    integer: SQLite spends more on each aggregate call over a run's rows than on the
    arithmetic, so this costs about 15 % less than a MAX(CASE) per flag (bench.indicators).
    A group with more rows than a digit holds (never seen: a pair has a few attempts) has
    its query run again with one MAX per flag."""
    bits = 60 // len(flags)
    stmt = (
        select(
            t.c.target,
            t.c.address,
            func.max(t.c.ip_version),
            func.count(),
            _packed(flags, bits),
            *aggregates,
        )
        .where(t.c.run_id == run_id)
        .group_by(t.c.target, t.c.address)
    )
    cols = fetch_columns(conn, stmt, 5 + len(aggregates))
    counts = np.asarray(cols[3], dtype=np.int64)
    if len(counts) and int(counts.max()) >= 1 << bits:
        stmt = stmt.with_only_columns(
            t.c.target, t.c.address, func.max(t.c.ip_version), *map(_flag, flags), *aggregates
        )
        return fetch_columns(conn, stmt, 3 + len(flags) + len(aggregates))
    packed = np.asarray(cols[4], dtype=np.int64)
    mask = (1 << bits) - 1
    found = [((packed >> (bits * i)) & mask) > 0 for i in range(len(flags))]
    return [*cols[:3], *found, *cols[5:]]


def _load_run(conn: Connection, run_id: str, present: set[str], v: _Vocabs) -> _Raw:
    """One run's aggregated rows, their strings numbered in ``v``."""
    raw = _Raw()

    def keep(table: str, cols: list[Any]) -> None:
        raw.tables[table] = (v.targets.codes(cols[0]), v.addresses.codes(cols[1]), cols[2:])

    def outcome(ok: Sequence[int], fail: Sequence[str | None], good: str) -> IntArray:
        # "ok" when any attempt succeeded, else the first failure (or unknown_failure).
        failed = v.words.codes([f or UNKNOWN_FAILURE for f in fail])
        return np.where(_bools(ok), v.words.codes([good])[0], failed)

    if "tls_observations" in present:
        t = _pair_table(
            "tls_observations", "tls_version", "alpn", "alt_svc_h3", "connect_ms", "failure"
        )
        cols = _per_pair(
            conn,
            run_id,
            t,
            [
                t.c.connect_ms.is_not(None) | t.c.tls_version.is_not(None),
                t.c.tls_version.is_not(None),
                t.c.tls_version == "TLSv1.3",
                t.c.alpn == "h2",
                t.c.alt_svc_h3,
            ],
            func.min(t.c.failure),
        )
        cols[-1] = outcome(cols[4], cols[-1], "ok")
        keep("tls_observations", cols)
    if "quic_observations" in present:
        q = _pair_table("quic_observations", "stage", "failure", "quic_version")
        cols = _per_pair(
            conn,
            run_id,
            q,
            [
                q.c.stage.in_(QUIC_DONE),
                q.c.failure.in_(QUIC_TIMEOUTS) | (q.c.stage == "initial_sent"),
                q.c.quic_version.in_([QUIC_V1, QUIC_V2]),
            ],
            func.min(q.c.failure),
        )
        cols[-1] = outcome(cols[3], cols[-1], "ok")
        keep("quic_observations", cols)
    if "quic_vn_observations" in present:
        vn = _pair_table("quic_vn_observations", "id", "reply", "has_v1", "has_v2", "has_grease")
        cols = _per_pair(
            conn,
            run_id,
            vn,
            [vn.c.reply == "vn", vn.c.has_v1, vn.c.has_v2, vn.c.has_grease],
            func.min(vn.c.reply),
        )
        # "vn" when any attempt got a Version Negotiation, else the (first) other reply;
        # -1 when the reply is unknown (no outcome key for C1).
        replies = v.words.codes(["" if r is None else r for r in cols[-1]])
        unknown = np.array([r is None for r in cols[-1]], dtype=np.bool_)
        got_vn = _bools(cols[3])
        vn_code = v.words.codes(["vn"])[0]
        cols[-1] = np.where(got_vn, vn_code, np.where(unknown, -1, replies))
        keep("quic_vn_observations", cols)
        if "quic_vn_versions" in present:
            k = light("quic_vn_versions", "observation_id", "version")
            stmt = (
                select(vn.c.target, vn.c.address, k.c.version)
                .join_from(vn, k, k.c.observation_id == vn.c.id)
                .where(vn.c.run_id == run_id)
                .group_by(vn.c.target, vn.c.address, k.c.version)
            )
            kc = fetch_columns(conn, stmt, 3)
            raw.kinds = (
                v.targets.codes(kc[0]),
                v.addresses.codes(kc[1]),
                v.kinds.codes(version_kinds(kc[2])),
            )
    if "path_observations" in present:
        po = light("path_observations", "run_id", "target", "test", "outcome")
        stmt = (
            select(po.c.target, po.c.test, po.c.outcome, func.count())
            .where(po.c.run_id == run_id)
            .group_by(po.c.target, po.c.test, po.c.outcome)
        )
        pc = fetch_columns(conn, stmt, 4)
        raw.path = (
            v.targets.codes(pc[0]),
            v.words.codes(pc[1]),
            v.words.codes([o or "none" for o in pc[2]]),
            np.asarray(pc[3], dtype=np.int64),
        )
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
        raw.https_h3 = {norm_name(q) for q in fetch_columns(conn, stmt, 1)[0]}
    return raw


def _bools(values: Sequence[Any]) -> BoolArray:
    """0/1 (or NULL) aggregates as booleans."""
    return np.array(values, dtype=np.bool_)


def _finish(raw: _Raw, names: Names, ranks: tuple[IntArray, ...]) -> RunFacts:
    """A run's columnar facts: codes mapped to sorted ranks, the tables' pairs merged."""
    t_rank, a_rank, w_rank, k_rank = ranks
    keyed = {
        table: ((t_rank[tc] << _SHIFT) | a_rank[ac], cols)
        for table, (tc, ac, cols) in raw.tables.items()
    }
    kinds_keys = None
    if raw.kinds is not None:
        kinds_keys = (t_rank[raw.kinds[0]] << _SHIFT) | a_rank[raw.kinds[1]]
    parts = [k for k, _ in keyed.values()] + ([kinds_keys] if kinds_keys is not None else [])
    keys = np.unique(np.concatenate(parts)) if parts else _empty_int()
    n = len(keys)
    f = RunFacts(names=names, t=keys >> _SHIFT, a=keys & ((1 << _SHIFT) - 1))
    f.ip_version = np.zeros(n, dtype=np.int64)
    f.vn_kinds = np.zeros(n, dtype=np.int64)
    for fld in fields(RunFacts):
        if fld.type == "BoolArray":  # every flag starts false for every pair
            setattr(f, fld.name, np.zeros(n, dtype=np.bool_))
    for name in ("tls_outcome", "quic_outcome", "vn_outcome"):
        setattr(f, name, np.full(n, -1, dtype=np.int64))

    origin = np.full(n, len(_TABLES), dtype=np.int64)

    def place(table: str) -> tuple[IntArray, list[Any]] | None:
        found = keyed.get(table)
        if found is None:
            return None
        k, cols = found
        pos = np.searchsorted(keys, k)
        origin[pos] = np.minimum(origin[pos], _TABLES.index(table))
        ipv = np.asarray(cols[0], dtype=np.int64)
        # The first table that saw the pair gives its IP version (tls, then quic, then vn).
        f.ip_version[pos] = np.where(f.ip_version[pos] != 0, f.ip_version[pos], ipv)
        return pos, cols

    if (got := place("tls_observations")) is not None:
        pos, (_, tcp, tls, v13, h2, alt, out) = got
        f.tls_tried[pos] = True
        f.tcp_ok[pos], f.tls_ok[pos], f.tls13[pos] = _bools(tcp), _bools(tls), _bools(v13)
        f.h2[pos], f.altsvc_h3[pos] = _bools(h2), _bools(alt)
        f.tls_outcome[pos] = w_rank[out]
    if (got := place("quic_observations")) is not None:
        pos, (_, ok, timeout, std, out) = got
        okb = _bools(ok)
        f.quic_tried[pos], f.quic_ok[pos] = True, okb
        f.quic_timeout[pos], f.quic_std[pos] = _bools(timeout) & ~okb, _bools(std)
        f.quic_outcome[pos] = w_rank[out]
    if (got := place("quic_vn_observations")) is not None:
        pos, (_, vn, v1, v2, grease, out) = got
        f.vn_tried[pos], f.vn_reply[pos] = True, _bools(vn)
        f.vn_v1[pos], f.vn_v2[pos], f.vn_grease[pos] = _bools(v1), _bools(v2), _bools(grease)
        f.vn_outcome[pos] = np.where(out >= 0, w_rank[np.maximum(out, 0)], -1)
    f.seen = np.empty(n, dtype=np.int64)
    f.seen[np.lexsort((keys, origin))] = np.arange(n)
    if kinds_keys is not None and raw.kinds is not None:
        np.bitwise_or.at(f.vn_kinds, np.searchsorted(keys, kinds_keys), 1 << k_rank[raw.kinds[2]])
    if raw.path is not None:
        pt, test, out, count = raw.path
        pt, test, out = t_rank[pt], w_rank[test], w_rank[out]
        # (target, test, outcome) can repeat once NULL outcomes count as "none": summed.
        packed = (pt << 2 * 20) | (test << 20) | out
        uniq, inverse = np.unique(packed, return_inverse=True)
        f.path_t = uniq >> 40
        f.path_test = (uniq >> 20) & ((1 << 20) - 1)
        f.path_outcome = uniq & ((1 << 20) - 1)
        f.path_n = np.bincount(inverse, weights=count, minlength=len(uniq)).astype(np.int64)
    f.https_h3 = raw.https_h3
    return f
