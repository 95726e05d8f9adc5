"""Comparison indicators: C1 (divergence to the control) and the composite C2. No I/O.

Also the paired cross-vantage tests (paired bootstrap on common targets, Holm over pairs).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from analysis import stats
from analysis.facts import RunFacts
from analysis.naming import DnsFacts
from analysis.registry import PILLAR_MIN_COVERAGE, PILLARS
from analysis.result import Estimate, bootstrap, from_interval, withheld
from analysis.scope import RunInfo


def outcomes(f: RunFacts, d: DnsFacts | None) -> dict[tuple[str, ...], tuple[str, str]]:
    """key -> (cluster, outcome class) over every channel a run measured."""
    out: dict[tuple[str, ...], tuple[str, str]] = {}
    for (target, addr), p in f.pairs.items():
        if p.tls_outcome is not None:
            out[("tls", target, addr)] = (target, f"tls:{p.tls_outcome}")
        if p.quic_outcome is not None:
            out[("quic", target, addr)] = (target, f"quic:{p.quic_outcome}")
        if p.vn_outcome is not None:
            out[("vn", target, addr)] = (target, f"vn:{p.vn_outcome}")
    for (target, test), counts in f.path.items():
        top = max(counts, key=lambda o: (counts[o], o)) if len(counts) > 1 else next(iter(counts))
        out[("path", target, test)] = (target, f"path:{test}:{top}")
    if d is not None:
        slots = _resolver_slots(d)
        for (name, qtype), views in d.views.items():
            for resolver, v in views.items():
                out[("dns", name, qtype, slots[resolver])] = (name, f"dns:{v.rcode}")
    return out


def _resolver_slots(d: DnsFacts) -> dict[str, str]:
    """Resolver address -> the key part that pairs it with another run's resolver.

    Each vantage asks its own local resolver (role ``test``), whose address differs from
    vantage to vantage; keyed by address, a vantage's own resolver would never meet the
    control's, and C1 would be blind to the most common interference (a manipulating
    local resolver). So a role held by exactly one resolver in the run is the key
    ("role:test"); resolvers sharing a role are keyed by address as before."""
    by_role: dict[str | None, set[str]] = {}
    for views in d.views.values():
        for resolver, v in views.items():
            by_role.setdefault(v.role, set()).add(resolver)
    slots: dict[str, str] = {}
    for role, resolvers in by_role.items():
        for resolver in resolvers:
            unique = role is not None and len(resolvers) == 1
            slots[resolver] = f"role:{role}" if unique else resolver
    return slots


def divergence(
    a: dict[tuple[str, ...], tuple[str, str]],
    b: dict[tuple[str, ...], tuple[str, str]],
    *,
    run: RunInfo,
) -> tuple[stats.Interval, float, int] | None:
    """JSD of the outcome distributions over common keys, its CI, DIS and the key count."""
    # One pass over the keys (this runs over every pair of every channel: hundreds of
    # thousands of keys at scale), numbering clusters and classes as they come; the numbers
    # are then mapped to sorted order, so the columns are the same as sorting first.
    cindex: dict[str, int] = {}
    index: dict[str, int] = {}
    rows_l: list[int] = []
    oa_l: list[int] = []
    ob_l: list[int] = []
    for key, (cluster, outcome) in a.items():
        other = b.get(key)
        if other is None:
            continue
        rows_l.append(cindex.setdefault(cluster, len(cindex)))
        oa_l.append(index.setdefault(outcome, len(index)))
        ob_l.append(index.setdefault(other[1], len(index)))
    if not rows_l:
        return None
    clusters, rows = _sorted_codes(cindex, rows_l)
    cats, codes = _sorted_codes(index, oa_l + ob_l)
    oa, ob = codes[: len(oa_l)], codes[len(oa_l) :]
    k, m = len(cats), len(clusters)
    cols = np.zeros((m, 2 * k + 2))
    cols[:, :k] = np.bincount(rows * k + oa, minlength=m * k).reshape(m, k)
    cols[:, k : 2 * k] = np.bincount(rows * k + ob, minlength=m * k).reshape(m, k)
    cols[:, 2 * k] = np.bincount(rows, weights=(oa != ob).astype(float), minlength=m)
    cols[:, 2 * k + 1] = np.bincount(rows, minlength=m)
    interval = bootstrap(
        run, "C1", clusters, cols, lambda s: stats.jsd_rows(s[:, :k], s[:, k : 2 * k])
    )
    dis = float(cols[:, 2 * k].sum() / cols[:, 2 * k + 1].sum())
    return interval, dis, len(rows_l)


def _sorted_codes(numbering: dict[str, int], codes: list[int]) -> tuple[list[str], np.ndarray]:
    """The numbered names in sorted order, and ``codes`` renumbered to match."""
    names = sorted(numbering)
    rank = np.empty(len(names), dtype=np.int64)
    rank[[numbering[n] for n in names]] = np.arange(len(names))
    return names, rank[np.asarray(codes, dtype=np.int64)]


def c1(
    run: RunInfo,
    mine: dict[tuple[str, ...], tuple[str, str]],
    control_run: RunInfo | None,
    control: dict[tuple[str, ...], tuple[str, str]] | None,
) -> Estimate:
    if control_run is None or control is None:
        return withheld("C1", run, "no control run in this run's round")
    result = divergence(mine, control, run=run)
    if result is None:
        return withheld("C1", run, "no outcome keys in common with the control run")
    interval, dis, keys = result
    params = {"dis": dis, "common_keys": keys, "control_run": control_run.id}
    return from_interval("C1", run, interval, params=params)


def _member(code: str, by_code: dict[str, Estimate]) -> tuple[float, np.ndarray | None] | None:
    base, _, param = code.partition(".")
    est = by_code.get(base)
    if est is None:
        return None
    if param:
        value = est.params.get(param)
        return (float(value), None) if isinstance(value, int | float) else None
    if est.value is None:
        return None
    return est.value, est.replicates


def _mean_present(rows: stats.FloatArray) -> stats.FloatArray:
    """Column means over the non-NaN rows, NaN where every row is NaN (np.nanmean without
    its "Mean of empty slice" warning). A replicate that drew no target of any member of a
    pillar has no value for that pillar: it is absent there, as a pillar without members
    is in the point formula, and the AFI averages the pillars present."""
    present = ~np.isnan(rows)
    count = present.sum(axis=0)
    total = np.where(present, rows, 0.0).sum(axis=0)
    return np.asarray(np.where(count > 0, total / np.maximum(count, 1), np.nan), np.float64)


def c2(run: RunInfo, by_code: dict[str, Estimate]) -> Estimate:
    """AFI: mean of pillar means (equal weights), members' replicates combined index-wise."""
    pillar_values: dict[str, float] = {}
    pillar_reps: list[np.ndarray] = []
    coverage: dict[str, Any] = {}
    for pillar, members in PILLARS.items():
        found = {m: v for m in members if (v := _member(m, by_code)) is not None}
        coverage[pillar] = sorted(found)
        if len(found) < PILLAR_MIN_COVERAGE * len(members):
            continue
        pillar_values[pillar] = float(np.mean([v for v, _ in found.values()]))
        reps = [r if r is not None else np.full(stats.B_DEFAULT, v) for v, r in found.values()]
        pillar_reps.append(_mean_present(np.vstack(reps)))
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
    # Weight sensitivity (INDICATORS.md step 5): w ~ Dirichlet(1, ..., 1), M = 1000 draws,
    # seeded from the run id; the 2.5-97.5% range of the AFI under random weights.
    rng = np.random.default_rng(stats.seed_for(run.id, "C2-weights"))
    weights = rng.dirichlet(np.ones(len(pillar_values)), size=1000)
    draws = weights @ np.array(list(pillar_values.values()))
    params["weight_sensitivity"] = {
        "p025": float(np.quantile(draws, 0.025)),
        "p975": float(np.quantile(draws, 0.975)),
        "draws": 1000,
    }
    afi_reps = _mean_present(np.vstack(pillar_reps))
    low, high = np.nanquantile(afi_reps, [0.025, 0.975])
    interval = stats.Interval(
        value, float(min(low, value)), float(max(high, value)), len(pillar_values), afi_reps
    )
    est = from_interval("C2", run, interval, params=params)
    est.n = len(pillar_values)
    return est


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

    @property
    def significant(self) -> bool:
        return self.p_holm < stats.ALPHA


def pair_tests(estimates: list[Estimate], runs: list[RunInfo]) -> list[PairTest]:
    """Paired bootstrap of Δ for each indicator with per-target data, over every pair of
    runs of a round, on the targets common to all of them (one set of draws per round and
    indicator, so every pair is paired); Holm-corrected over the pairs of each indicator."""
    by_round: dict[str, list[RunInfo]] = defaultdict(list)
    for r in runs:
        if r.round:
            by_round[r.round].append(r)
    by_key = {(e.run_id, e.code): e for e in estimates if e.clusters}
    out: list[PairTest] = []
    codes = sorted({e.code for e in estimates if e.clusters})
    for round_name, members in sorted(by_round.items()):
        ordered = sorted(members, key=lambda r: (r.vantage_label, r.id))
        for code in codes:
            ests = [(r, by_key.get((r.id, code))) for r in ordered]
            present = [(r, e) for r, e in ests if e is not None and e.clusters]
            if len(present) < 2:
                continue
            common = sorted(set.intersection(*(set(e.clusters or {}) for _, e in present)))
            if len(common) < 2:
                continue
            # Columns (num, den) of each run side by side, one row per common target.
            cols = np.hstack(
                [
                    np.array([(e.clusters or {})[t] for t in common], dtype=np.float64)
                    for _, e in present
                ]
            )
            shared = stats.Resampler(common, seed=stats.seed_for(round_name, code))
            sums = shared.sums(common, cols)
            totals = cols.sum(axis=0)
            raw = []
            for (i, (u, _)), (j, (v, _)) in combinations(enumerate(present), 2):
                delta = float(totals[2 * i] / totals[2 * i + 1] - totals[2 * j] / totals[2 * j + 1])
                pick = sums[:, [2 * i, 2 * i + 1, 2 * j, 2 * j + 1]]
                raw.append((u, v, stats.paired_from_sums(pick, delta, len(common))))
            adjusted = stats.holm([r.p_value for _, _, r in raw])
            for (u, v, res), p_adj in zip(raw, adjusted, strict=True):
                out.append(
                    PairTest(
                        code, u.id, v.id, res.delta, res.low, res.high, res.p_value, p_adj, res.n
                    )
                )
    return out
