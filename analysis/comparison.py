"""Comparison indicators: C1 (divergence to the control) and the composite C2. No I/O.

Each indicator's catalogue entry sits on its function (``@indicator``, analysis/registry.py).
Also the paired cross-vantage tests (paired score intervals on common targets, Holm over pairs).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import numpy.typing as npt

from fragscope.analysis import registry, stats
from fragscope.analysis.asn import AsnMap
from fragscope.analysis.facts import Names, RunFacts
from fragscope.analysis.naming import DnsFacts, Endpoint, View, consistent
from fragscope.analysis.registry import PILLAR_MIN_COVERAGE, PILLARS, Context, Facts, indicator
from fragscope.analysis.result import (
    DEBIASED,
    WIDENED,
    Estimate,
    bootstrap,
    from_interval,
    withheld,
)
from fragscope.analysis.scope import RunInfo

_CHANNEL_SHIFT = 60  # a key's channel sits above (target << 30 | address or test)
_PART = 30


class Labels:
    """Strings numbered for one computation: clusters, outcome classes and the keys that are
    not (target, address) pairs, shared by every run's outcome table so two runs' tables
    compare on integers."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.strings: list[str] = []
        self.dns_keys: dict[tuple[str, ...], int] = {}
        self._targets: dict[int, npt.NDArray[np.int64]] = {}

    def code(self, text: str) -> int:
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.strings)
            self.strings.append(text)
        return found

    def codes(self, texts: list[str]) -> npt.NDArray[np.int64]:
        return np.array([self.code(t) for t in texts], dtype=np.int64)

    def targets(self, names: Names) -> npt.NDArray[np.int64]:
        """Each target's label code (its cluster), by target rank."""
        found = self._targets.get(id(names))
        if found is None:
            found = self._targets[id(names)] = self.codes(names.targets)
        return found


@dataclass
class OutcomeTable:
    """A run's outcome per key over every channel it measured: keys (int64, sorted) with the
    cluster and outcome class of each as label codes. A key is (channel, target, address)
    for tls/quic/vn, (path, target, test), or a numbered (dns, name, type, resolver slot)."""

    labels: Labels
    names: Names
    keys: npt.NDArray[np.int64]
    cluster: npt.NDArray[np.int64]
    outcome: npt.NDArray[np.int64]

    def as_dict(self) -> dict[tuple[str, ...], tuple[str, str]]:
        """key -> (cluster, outcome class), spelled out (for reading, not for computing)."""
        names = {v: k for k, v in self.labels.dns_keys.items()}
        out: dict[tuple[str, ...], tuple[str, str]] = {}
        strings = self.labels.strings
        for key, c, o in zip(
            self.keys.tolist(), self.cluster.tolist(), self.outcome.tolist(), strict=True
        ):
            channel = key >> _CHANNEL_SHIFT
            if channel == _DNS:
                spelled: tuple[str, ...] = names[key & ((1 << _CHANNEL_SHIFT) - 1)]
            else:
                target = self.names.targets[(key >> _PART) & ((1 << _PART) - 1)]
                low = key & ((1 << _PART) - 1)
                where = self.names.words if channel == _PATH else self.names.addresses
                spelled = (_CHANNELS[channel], target, where[low])
            out[spelled] = (strings[c], strings[o])
        return out


_CHANNELS = ("tls", "quic", "vn", "path")
_PATH, _DNS = 3, 4


def outcomes(
    f: RunFacts,
    d: DnsFacts | None,
    labels: Labels | None = None,
    mapping: AsnMap | None = None,
) -> OutcomeTable:
    """Every key's (cluster, outcome class) over every channel a run measured; a DNS key's
    class is its N1 answer class (:func:`dns_class`, IP-to-ASN test with ``mapping``)."""
    labels = labels if labels is not None else Labels()
    clusters = labels.targets(f.names)
    words = f.names.words
    keys, cl, out = [], [], []
    for channel, codes in enumerate((f.tls_outcome, f.quic_outcome, f.vn_outcome)):
        sel = codes >= 0
        name = _CHANNELS[channel]
        classes = labels.codes([f"{name}:{w}" for w in words])
        keys.append((channel << _CHANNEL_SHIFT) | (f.t[sel] << _PART) | f.a[sel])
        cl.append(clusters[f.t[sel]])
        out.append(classes[codes[sel]] if len(classes) else codes[sel])
    if len(f.path_t):
        # The path class of a (target, test): its most frequent outcome, ties to the
        # greatest outcome name (rows are sorted by target, test and outcome name).
        group = (f.path_t << _PART) | f.path_test
        order = np.lexsort((f.path_outcome, f.path_n, group))
        last = np.r_[group[order][1:] != group[order][:-1], True]
        top = order[last]
        tops = list(zip(f.path_test[top].tolist(), f.path_outcome[top].tolist(), strict=True))
        path_classes = {(t, o): labels.code(f"path:{words[t]}:{words[o]}") for t, o in set(tops)}
        keys.append((_PATH << _CHANNEL_SHIFT) | group[top])
        cl.append(clusters[f.path_t[top]])
        out.append(np.array([path_classes[k] for k in tops], dtype=np.int64))
    if d is not None:
        slots = _resolver_slots(d)
        dk, dc, do = [], [], []
        for (name, qtype), views in d.views.items():
            controls = [v for e, v in views.items() if e.role == "control"]
            if not controls:
                continue  # no reference in this run: the answers cannot be classed
            for resolver, v in views.items():
                if resolver.role != "test":
                    continue  # the control against itself is always consistent
                key = ("dns", name, qtype, slots[resolver])
                dk.append(labels.dns_keys.setdefault(key, len(labels.dns_keys)))
                dc.append(labels.code(name))
                do.append(labels.code(f"dns:{dns_class(v, controls, mapping)}"))
        keys.append((_DNS << _CHANNEL_SHIFT) | np.array(dk, dtype=np.int64))
        cl.append(np.array(dc, dtype=np.int64))
        out.append(np.array(do, dtype=np.int64))
    all_keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
    order = np.argsort(all_keys, kind="stable")

    def cat(parts: list[npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
        return np.concatenate(parts)[order] if parts else np.zeros(0, dtype=np.int64)

    return OutcomeTable(labels, f.names, all_keys[order], cat(cl), cat(out))


def dns_class(view: View, controls: list[View], mapping: AsnMap | None) -> str:
    """A test endpoint's answer as N1 judges it against the run's control endpoints:
    ``consistent`` (cons = 1 with one of them), ``rewrite`` (NOERROR, inconsistent), or
    its rcode (NXDOMAIN beside a control's answer, SERVFAIL, REFUSED, ...)."""
    if any(consistent(view, c, mapping) for c in controls):
        return "consistent"
    return "rewrite" if view.rcode == "NOERROR" else view.rcode


def _resolver_slots(d: DnsFacts) -> dict[Endpoint, str]:
    """Resolver endpoint -> the key part that pairs it with another run's endpoint.

    Each vantage asks its own local resolver (role ``test``), whose address differs from
    vantage to vantage; keyed by address, a vantage's own resolver would never meet the
    control run's, and C1 would be blind to the most common interference (a manipulating
    local resolver). So the slot is (role, transport): an endpoint alone in its slot in
    the run is keyed by the slot ("test/udp"), endpoints sharing a slot also by address
    and port (several public resolvers over Do53)."""
    by_slot: dict[tuple[str | None, str | None], set[Endpoint]] = {}
    for views in d.views.values():
        for resolver in views:
            by_slot.setdefault((resolver.role, resolver.transport), set()).add(resolver)
    slots: dict[Endpoint, str] = {}
    for (role, transport), resolvers in by_slot.items():
        for resolver in resolvers:
            unique = role is not None and len(resolvers) == 1
            slots[resolver] = f"{role}/{transport}" if unique else resolver.label
    return slots


def divergence(
    a: OutcomeTable, b: OutcomeTable, *, run: RunInfo
) -> tuple[stats.Pending, float, int] | None:
    """JSD of the outcome distributions over common keys, its CI, DIS and the key count."""
    _, ia, ib = np.intersect1d(a.keys, b.keys, assume_unique=True, return_indices=True)
    if not len(ia):
        return None
    strings = a.labels.strings
    clusters, rows = _sorted_codes(strings, a.cluster[ia])
    cats, codes = _sorted_codes(strings, np.concatenate([a.outcome[ia], b.outcome[ib]]))
    oa, ob = codes[: len(ia)], codes[len(ia) :]
    k, m = len(cats), len(clusters)
    cols = np.zeros((m, 2 * k + 2))
    cols[:, :k] = np.bincount(rows * k + oa, minlength=m * k).reshape(m, k)
    cols[:, k : 2 * k] = np.bincount(rows * k + ob, minlength=m * k).reshape(m, k)
    cols[:, 2 * k] = np.bincount(rows, weights=(oa != ob).astype(float), minlength=m)
    cols[:, 2 * k + 1] = np.bincount(rows, minlength=m)
    # The plug-in JSD is biased upwards, so the interval is moved by twice the bootstrap
    # bias (stats.debiased_intervals; the value stays the plug-in). Every target alike (no
    # key differs, or all identical): each replicate is the same; the high end becomes a
    # score bound (via DIS), the low end JSD's own floor, 0. Few keys differing: the low
    # end is lowered towards what their lower limit allows (stats.jsd_discordance_low).
    ceiling = float(stats.jsd_ceiling(cols[None, :, 2 * k], cols[None, :, 2 * k + 1])[0])
    interval = bootstrap(
        run, "C1", clusters, cols, lambda s: stats.jsd_rows(s[:, :k], s[:, k : 2 * k])
    ).map(
        lambda found: _discordance_low(
            stats.bounded(stats.debiased(found), low=0.0, high=ceiling), cols, k
        )
    )
    dis = float(cols[:, 2 * k].sum() / cols[:, 2 * k + 1].sum())
    return interval, dis, len(ia)


def _discordance_low(
    found: stats.Interval, cols: npt.NDArray[np.float64], k: int
) -> stats.Interval:
    """C1's interval with its low end from stats.jsd_discordance_low (``cols`` as in
    divergence: k control counts, k vantage counts, differing keys, keys per target)."""
    low = stats.jsd_discordance_low(
        np.array([found.low]),
        cols[None, :, :k].sum(axis=1),
        cols[None, :, k : 2 * k].sum(axis=1),
        cols[None, :, 2 * k],
        cols[None, :, 2 * k + 1],
    )
    return dataclasses.replace(found, low=float(low[0]))


def _sorted_codes(
    strings: list[str], codes: npt.NDArray[np.int64]
) -> tuple[list[str], npt.NDArray[np.int64]]:
    """The distinct labels of ``codes`` in sorted order, and ``codes`` renumbered to match."""
    used = np.flatnonzero(np.bincount(codes, minlength=len(strings)))
    names = [strings[c] for c in used.tolist()]
    order = sorted(range(len(names)), key=names.__getitem__)
    rank = np.zeros(len(strings), dtype=np.int64)
    rank[used[order]] = np.arange(len(names))
    return [names[i] for i in order], rank[codes]


@indicator(
    code="C1",
    title="Cross-Vantage Divergence (CVD) to the control",
    question="How different are this vantage's outcomes from the control vantage's?",
    unit="Jensen-Shannon divergence (bits)",
    formula="Outcome o(key) per (table, target, address or resolver slot) = ok or its "
    "failure class (transport), reply/outcome class (VN, path), and for DNS the answer "
    "class of N1 of each test resolver endpoint against the run's control endpoints "
    "(consistent, rewrite, or the rcode: NXDOMAIN, SERVFAIL, ...; names the run's control "
    "did not answer are left out); a DNS key is (name, type, slot), the slot being "
    "(role, transport) when the endpoint is the run's only one there (each vantage's own "
    "resolver meets the control run's on every transport), else (role, transport, "
    "address, port); P_v = distribution of o over keys common with the control run; "
    "CVD = JSD(P_v || P_c) with log base 2. params: DIS = mean over common keys of "
    "1[o_v != o_c].",
    reasoning="Restricting to common keys removes target-list differences. Version 2 "
    "classes DNS answers as N1 does (version 1 compared rcodes, so a rewrite was "
    "invisible) and keys resolvers by (role, transport) slot (version 1 keyed them by "
    "role only when the role was unique, so a vantage's own resolver never met the "
    "control run's).",
    version=2,
    inputs=("tls_observations", "quic_observations", "quic_vn_observations"),
    min_n=5,
    pillar=registry.DESCRIPTIVE,
    needs=(Facts.OUTCOMES, Facts.CONTROL_OUTCOMES),
    needs_control=True,
    headline=2,
)
def c1(ctx: Context) -> Estimate:
    run, control_run = ctx.run, ctx.control_run
    mine, control = ctx.outcomes, ctx.control_outcomes
    if control_run is None or control is None:
        return withheld("C1", run, "no control run in this run's round")
    result = divergence(mine, control, run=run)
    if result is None:
        return withheld("C1", run, "no outcome keys in common with the control run")
    interval, dis, keys = result
    params = {"dis": dis, "common_keys": keys, "control_run": control_run.id}
    return from_interval("C1", run, interval, params=params, method=DEBIASED)


def _member(code: str, by_code: dict[str, Estimate]) -> tuple[float, np.ndarray | None, int] | None:
    """A member's value, its bootstrap replicates (None for a param) and its clusters."""
    base, _, param = code.partition(".")
    est = by_code.get(base)
    if est is None:
        return None
    if param:
        value = est.params.get(param)
        return (float(value), None, 0) if isinstance(value, int | float) else None
    if est.value is None:
        return None
    return est.value, est.replicates, est.n or 0


def _variance(reps: np.ndarray) -> float:
    """The variance of a member's replicates, those without a value left out (0 if none)."""
    present = reps[np.isfinite(reps)]
    return float(present.var()) if len(present) else 0.0


def _mean_present(rows: stats.FloatArray) -> stats.FloatArray:
    """Column means over the non-NaN rows, NaN where every row is NaN (np.nanmean without
    its "Mean of empty slice" warning). A replicate that drew no target of any member of a
    pillar has no value for that pillar: it is absent there, as a pillar without members
    is in the point formula, and the AFI averages the pillars present."""
    present = ~np.isnan(rows)
    count = present.sum(axis=0)
    total = np.where(present, rows, 0.0).sum(axis=0)
    return np.asarray(np.where(count > 0, total / np.maximum(count, 1), np.nan), np.float64)


def composite(run: RunInfo, by_code: dict[str, Estimate]) -> Estimate:
    """AFI: mean of pillar means (equal weights), members' replicates combined index-wise."""
    pillar_values: dict[str, float] = {}
    pillar_reps: list[np.ndarray] = []
    clusters: list[int] = []
    parts: list[tuple[float, float, int]] = []
    coverage: dict[str, Any] = {}
    for pillar, members in PILLARS.items():
        found = {m: v for m in members if (v := _member(m, by_code)) is not None}
        coverage[pillar] = sorted(found)
        if len(found) < PILLAR_MIN_COVERAGE * len(members):
            continue
        pillar_values[pillar] = float(np.mean([v for v, _, _ in found.values()]))
        reps = [r if r is not None else np.full(stats.B_DEFAULT, v) for v, r, _ in found.values()]
        pillar_reps.append(_mean_present(np.vstack(reps)))
        resampled = [(r, n) for _, r, n in found.values() if r is not None]
        clusters += [n for _, n in resampled]
        # Each member's share of the pillar mean and its replicates' variance, for the
        # degrees of freedom of the interval's normal form (stats.satterthwaite_clusters).
        parts += [(1 / len(found), _variance(r), n) for r, n in resampled]
    params: dict[str, Any] = {"pillars": pillar_values, "members_present": coverage}
    if not pillar_values:
        return withheld(
            "C2", run, "no pillar has >= 60% of its member indicators present", **params
        )
    value = float(np.mean(list(pillar_values.values())))
    eps = 1e-3
    params["geometric"] = float(
        np.prod([(v + eps) ** (1 / len(pillar_values)) for v in pillar_values.values()])
    )
    # Weight sensitivity (docs/indicators.md, Method step 5): w ~ Dirichlet(1, ..., 1),
    # M = 1000 draws seeded from the run id; the 2.5-97.5% range of the AFI under them.
    rng = np.random.default_rng(stats.seed_for(run.id, "C2-weights"))
    weights = rng.dirichlet(np.ones(len(pillar_values)), size=1000)
    draws = weights @ np.array(list(pillar_values.values()))
    params["weight_sensitivity"] = {
        "p025": float(np.quantile(draws, 0.025)),
        "p975": float(np.quantile(draws, 0.975)),
        "draws": 1000,
    }
    afi_reps = _mean_present(np.vstack(pillar_reps))
    # The expanded percentile interval at the fewest clusters any resampled member had,
    # united with its normal form (stats.widened_intervals): the members' replicates
    # resample targets, and with few of them the plain 2.5-97.5 % range undercovered (86 %
    # with 6 targets), the expanded percentile alone 92 % (python -m bench ci).
    low, high = stats.widened_intervals(
        afi_reps[:, None],
        np.array([value]),
        min(clusters, default=0),
        normal_clusters=stats.satterthwaite_clusters(*zip(*parts, strict=True)) if parts else 0,
    )
    interval = stats.Interval(value, float(low[0]), float(high[0]), len(pillar_values), afi_reps)
    est = from_interval("C2", run, interval, params=params, method=WIDENED)
    est.n = len(pillar_values)
    return est


@indicator(
    code="C2",
    title="Architectural Fragmentation Index (AFI)",
    question="Taken together, how fragmented is the Internet seen from this vantage?",
    unit="index",
    formula="Pillars Naming = {N1, N2, N5, N8, N6}, Concentration = {N7, N7.spd, N4.apd}, "
    "Transport = {T1, T2, T3, T4, T5}; P_p = mean of the members present if >= 60% are "
    "present; AFI = mean of the pillars present (w = 1/3 each, renormalised). CI from the "
    "members' bootstrap replicates combined index-wise (targets resampled jointly through "
    "the run's shared draws). params: the geometric variant and the AFI's 2.5-97.5% range "
    "under Dirichlet(1,..,1) pillar weights (1000 draws).",
    reasoning="OECD/JRC practice; members are already in [0,1].",
    version=1,
    inputs=(),
    min_n=1,
    pillar=registry.COMPOSITE,
    needs=(Facts.ESTIMATES,),
    headline=1,
)
def c2(ctx: Context) -> Estimate:
    """C2 over the run's other indicators (their queued intervals settled first)."""
    return composite(ctx.run, ctx.estimates)


@dataclass(frozen=True, slots=True)
class PairTest:
    """Δ of one indicator between two runs of a round on common targets."""

    code: str
    run_u: str
    run_v: str
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    p_holm: float
    n_common: int
    value_u: float
    """The indicator of run_u on the common targets only (not its headline value)."""
    value_v: float

    @property
    def significant(self) -> bool:
        return self.p_holm < stats.ALPHA


def _sorted_unique(keys: npt.NDArray[np.str_]) -> npt.NDArray[np.str_]:
    if len(keys) < 2 or bool(np.all(keys[1:] > keys[:-1])):
        return keys
    return np.unique(keys)


def _common_keys(key_sets: list[npt.NDArray[np.str_]]) -> npt.NDArray[np.str_]:
    """The keys in every set, sorted: binary searches over sorted sets (the indicators list
    their clusters sorted) instead of a sort of all sets together per pair of runs."""
    common = _sorted_unique(key_sets[0])
    for keys in key_sets[1:]:
        if np.array_equal(keys, common):
            continue
        other = _sorted_unique(keys)
        if not len(other):
            return other
        at = np.minimum(np.searchsorted(other, common), len(other) - 1)
        common = common[other[at] == common]
    return common


def _positions(keys: npt.NDArray[np.str_], wanted: npt.NDArray[np.str_]) -> npt.NDArray[np.int64]:
    """Where each of ``wanted`` (all present) sits in ``keys``."""
    order = np.argsort(keys, kind="stable")
    return np.asarray(order[np.searchsorted(keys[order], wanted)], dtype=np.int64)


def pair_tests(estimates: list[Estimate], runs: list[RunInfo]) -> list[PairTest]:
    """Δ of each indicator with per-target data, over every pair of runs of a round, on the
    targets common to all of them, with a paired score interval and its p-value
    (stats.paired_test: the two runs' clusters are the same targets); Holm-corrected over
    the pairs of each indicator."""
    by_round: dict[str, list[RunInfo]] = defaultdict(list)
    for r in runs:
        if r.round:
            by_round[r.round].append(r)
    by_key = {(e.run_id, e.code): e for e in estimates if e.cluster_sums}
    out: list[PairTest] = []
    codes = sorted({e.code for e in estimates if e.cluster_sums})
    for _, members in sorted(by_round.items()):
        ordered = sorted(members, key=lambda r: (r.vantage_label, r.id))
        for code in codes:
            present = [
                (r, c)
                for r in ordered
                if (e := by_key.get((r.id, code))) is not None and (c := e.cluster_sums)
            ]
            if len(present) < 2:
                continue
            common = _common_keys([c.keys for _, c in present])
            if len(common) < 2:
                continue
            # Columns (num, den) of each run side by side, one row per common target.
            blocks = []
            for _, c in present:
                at = _positions(c.keys, common)
                blocks += [c.num[at], c.den[at]]
            cols = np.column_stack(blocks)
            totals = cols.sum(axis=0)
            raw = []
            for (i, (u, _)), (j, (v, _)) in combinations(enumerate(present), 2):
                on_common = (
                    float(totals[2 * i] / totals[2 * i + 1]),
                    float(totals[2 * j] / totals[2 * j + 1]),
                )
                pick = (cols[:, c] for c in (2 * i, 2 * i + 1, 2 * j, 2 * j + 1))
                raw.append((u, v, on_common, stats.paired_test(*pick)))
            adjusted = stats.holm([r.p_value for *_, r in raw])
            for (u, v, (a, b), res), p_adj in zip(raw, adjusted, strict=True):
                out.append(
                    PairTest(
                        code,
                        u.id,
                        v.id,
                        res.delta,
                        res.low,
                        res.high,
                        res.p_value,
                        p_adj,
                        res.n,
                        a,
                        b,
                    )
                )
    return out
