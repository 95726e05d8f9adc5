"""``python -m bench ci``: coverage of the indicators' 95% intervals on synthetic clustered
data whose truth is known, each interval method measured on the kind of statistic analysis
uses it for. No I/O beyond printing.

A round has k clusters (targets) of m trials each. Cluster i's outcome probabilities are
drawn from a Dirichlet (a beta for two outcomes) around the true distribution with
concentration (1 - rho) / rho, so the trials of one cluster share an intra-cluster
correlation rho = 0.3 (the beta-binomial model). The grid: p in {0.02, 0.1, 0.5}; k in
{6, 25}, the lab's numbers of targets (6 web hosts for T4/T5, 25 names for N1/C1), and
10 times them (60, 250); m = 1 (one trial per target, T2/T5-like) and m = 5 (a name asked
of five resolver endpoints, N1-like). The statistics (``STATISTICS``), with the interval
analysis gives each (docs/indicators.md, Method step 8):

- share (N1-N6, N8, T1-T4, T8, O1; analysis.result.from_ratio): a share p; Wilson's
  interval for binary unit clusters below WILSON_MAX_N, else stats.cluster_wilson;
- failure attribution (T9): f_tcp / (f_tcp + f_quic), TCP failing with probability p and
  QUIC with p / 2 per trial (truth 2/3), over the rounds where something failed;
- pair difference (the cross-vantage pair tests): a - b of two vantages on the same
  targets, a failing with probability p and b with p / 2 per trial (truth p / 2), half
  of b's failures shared with a (``pair_outcomes``): each vantage also fails alone, as
  two real vantages do, and a target's four joint outcome probabilities come from one
  Dirichlet, so its trials are correlated at both; the paired score interval
  stats.paired_score, which is valid for any discordance;
- divergence (C1): JSD between a control whose outcomes are (ok, loss) with
  probabilities (1 - p, p) and a vantage with (1 - p, p / 2, p / 2) (half of the failures
  rewritten), each from its own Dirichlet clusters, trial j of the one and trial j of the
  other being one key (DIS counts the keys whose outcomes differ); the bootstrap moved by
  twice its bias (stats.debiased_intervals: the plug-in JSD sits above the truth), with
  stats.jsd_ceiling where it is degenerate, and the low end lowered towards the JSD that
  the lower limit of the differing keys allows (stats.jsd_discordance_low);
- concentration (N7, T7): HHI* of m = 1 units over four ASes with shares
  (1 - p, p/3, p/3, p/3); the bootstrap, with stats.hhi_floor_of where it is degenerate;
- composite (C2): the mean of three shares of the same targets (the pair difference's
  two, p and p / 2, and an independent 1/2), from the members' joint bootstrap
  replicates (stats.widened_intervals).

The bootstrap replicates of a cell's replications come from one matrix of draws (each
interval is still a bootstrap of its own data; sharing only correlates the replications),
so a cell costs one matrix product. Coverage = share of the replications (with a defined
statistic) whose interval holds the truth; the target is 93-97 %. Attainability is judged
for the class of intervals whose two ends are non-decreasing functions of the estimate
(every interval analysis uses, and every sensible one: a larger estimate never lowers a
bound). Such an interval holds the truth exactly when the estimate lies in some range
[a, b], so its coverage is the mass of a run of consecutive estimate values; a band no
run's mass falls in is unattainable, and the bench prints the masses of the runs nearest
it (``by_estimate``). The discreteness of small rounds decides this: at k = 6, p = 0.02 the
estimate is 0 in most rounds, and covering the truth there or not moves the coverage by
that whole mass. For information it also prints the finer check over the multisets of
cluster outcomes (``reachable``: rules that look at the clusters, not only the estimate).
Prints one JSON object per (statistic, cell, method) and a line per (statistic, method);
a cell whose band is attainable and whose coverage lies above it is printed as
"conservative at" that cell (the interval is valid there, wider than it need be: rare
events and few clusters, where the discreteness makes a valid interval cover more);
exit 1 when a cell whose band is attainable is covered less than the band (too narrow).

usage: python -m bench.ci [--replications R] [--seed S] [--statistic NAME ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fragscope.analysis import stats
from fragscope.analysis.result import WILSON_MAX_N

PS = (0.02, 0.1, 0.5)
CLUSTERS = (6, 25, 60, 250)
TRIALS = (1, 5)
ICC = 0.3
REPLICATIONS = 1000
BAND = (0.93, 0.97)
SEED = 20261207
ATTAIN_DRAWS = 20_000
ATTAIN_MAX_K = 60
BOOTSTRAP = "cluster bootstrap, expanded percentile"
DEBIASED = "cluster bootstrap, expanded percentile less twice the bias"
WIDENED = "cluster bootstrap, expanded percentile united with t times its standard error"
WILSON = "wilson"
CLUSTER_WILSON = "cluster-adjusted wilson"
PAIRED_SCORE = "paired score (MOVER on cluster-adjusted wilson)"

Array = np.ndarray
Intervals = tuple[Array, Array]


@dataclass(frozen=True)
class Cell:
    p: float
    k: int
    m: int

    @property
    def ratio_method(self) -> str:
        """The interval analysis.result.from_ratio stores for a share of this cell."""
        return WILSON if self.m == 1 and self.k < WILSON_MAX_N else CLUSTER_WILSON


def beta_binomial(rng: np.random.Generator, p: float, m: int, shape: tuple[int, int]) -> Array:
    """Successes of clusters of m trials sharing a Beta probability around p (ICC ``ICC``)."""
    a = p * (1 - ICC) / ICC
    b = (1 - p) * (1 - ICC) / ICC
    return rng.binomial(m, rng.beta(a, b, size=shape)).astype(np.float64)


def dirichlet_multinomial(
    rng: np.random.Generator, probs: tuple[float, ...], m: int, shape: tuple[int, int]
) -> Array:
    """Outcome counts (shape + (len(probs),)) of clusters of m trials sharing Dirichlet
    probabilities around ``probs`` (ICC ``ICC`` for each outcome); zero outcomes stay 0."""
    conc = (1 - ICC) / ICC
    alpha = np.array(probs) * conc
    live = alpha > 0
    # numpy's gamma of shape 0 is 0: a Dirichlet through normalised gammas keeps 0 outcomes.
    g = rng.gamma(np.where(live, alpha, 1.0), size=(*shape, len(probs))) * live
    probs_i = g / g.sum(axis=-1, keepdims=True)
    return rng.multinomial(m, probs_i).astype(np.float64)


def jsd_truth(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return stats.jsd(np.array(a), np.array(b))


def hhi_truth(shares: tuple[float, ...]) -> float:
    return stats.hhi(np.array(shares))[1]


@dataclass(frozen=True)
class Statistic:
    """A kind of statistic analysis computes: how a round's per-cluster columns are drawn,
    the statistic of their sums, its truth, and which interval methods analysis uses."""

    name: str
    used_by: str
    columns: Callable[[Cell, int, np.random.Generator], Array]  # (R, k, c) per-cluster columns
    statistic: Callable[[Array], Array]  # (..., c) sums -> values
    truth: Callable[[Cell], float]
    methods: Callable[[Cell], tuple[str, ...]]
    trials: tuple[int, ...] = TRIALS
    bound: Callable[[Array, Array, Array], Intervals] | None = None
    """How analysis replaces a degenerate bootstrap interval: (cols, low, high) -> (low, high)."""
    size: Callable[[Array], Array] | None = None
    """The sample size the estimate comes with where it varies between rounds (T9's
    failures): attainability then allows the interval to depend on it too."""


def _share_columns(cell: Cell, r: int, rng: np.random.Generator) -> Array:
    s = beta_binomial(rng, cell.p, cell.m, (r, cell.k))
    return np.stack([s, np.full_like(s, float(cell.m))], axis=-1)


def _t9_columns(cell: Cell, r: int, rng: np.random.Generator) -> Array:
    tcp = beta_binomial(rng, cell.p, cell.m, (r, cell.k))
    quic = beta_binomial(rng, cell.p / 2, cell.m, (r, cell.k))
    return np.stack([tcp, tcp + quic], axis=-1)


def pair_outcomes(p: float) -> tuple[float, ...]:
    """The joint outcome of one trial at the two vantages of a pair difference: both fail,
    a alone, b alone, neither. a fails with probability p, b with p / 2, half of b's
    failures shared with a: discordance runs both ways, as between two real vantages
    (each has failures of its own: its path's loss, its own middlebox)."""
    both = p / 4
    return (both, p - both, p / 2 - both, 1 - 3 * p / 2 + both)


def _pair_columns(cell: Cell, r: int, rng: np.random.Generator) -> Array:
    """Per cluster: a's failures and trials, b's failures and trials. A target's four joint
    outcome probabilities are drawn from a Dirichlet around ``pair_outcomes`` (ICC ``ICC``),
    so a target that fails often at one vantage tends to at the other (shared targets,
    correlated clusters) while neither vantage's failures are a copy of the other's."""
    joint = dirichlet_multinomial(rng, pair_outcomes(cell.p), cell.m, (r, cell.k))
    a = joint[..., 0] + joint[..., 1]
    b = joint[..., 0] + joint[..., 2]
    m = np.full_like(a, float(cell.m))
    return np.stack([a, m, b, m], axis=-1)


def control(p: float) -> tuple[float, ...]:
    """C1's control outcomes: ok, loss."""
    return (1 - p, p, 0.0)


def vantage(p: float) -> tuple[float, ...]:
    """C1's vantage outcomes: ok, loss, rewrite (half of the failures rewritten)."""
    return (1 - p, p / 2, p / 2)


def dirichlet_trials(
    rng: np.random.Generator, probs: tuple[float, ...], m: int, shape: tuple[int, int]
) -> Array:
    """The outcome (an index into ``probs``) of each of m trials (shape + (m,)) of clusters
    sharing Dirichlet probabilities around ``probs``, as in dirichlet_multinomial."""
    conc = (1 - ICC) / ICC
    alpha = np.array(probs) * conc
    live = alpha > 0
    g = rng.gamma(np.where(live, alpha, 1.0), size=(*shape, len(probs))) * live
    edges = np.cumsum(g / g.sum(axis=-1, keepdims=True), axis=-1)
    u = rng.random((*shape, m))
    return np.minimum((u[..., None] > edges[..., None, :]).sum(axis=-1), len(probs) - 1)


def _jsd_columns(cell: Cell, r: int, rng: np.random.Generator) -> Array:
    """Per cluster: the control's and the vantage's outcome counts, then (as analysis's
    DIS) the trials whose outcomes differ and the trials; the two are drawn independently,
    trial j of the one paired with trial j of the other (one key)."""
    here = dirichlet_trials(rng, control(cell.p), cell.m, (r, cell.k))
    there = dirichlet_trials(rng, vantage(cell.p), cell.m, (r, cell.k))
    cats = np.arange(3)
    counts = [(x[..., None] == cats).sum(axis=-2).astype(np.float64) for x in (here, there)]
    differ = (here != there).sum(axis=-1).astype(np.float64)
    return np.concatenate(
        [*counts, np.stack([differ, np.full_like(differ, float(cell.m))], axis=-1)], axis=-1
    )


def supply(p: float) -> tuple[float, ...]:
    """N7/T7's ASes: one holding 1 - p, three sharing p."""
    return (1 - p, p / 3, p / 3, p / 3)


def _hhi_columns(cell: Cell, r: int, rng: np.random.Generator) -> Array:
    return dirichlet_multinomial(rng, supply(cell.p), cell.m, (r, cell.k))


def _composite_columns(cell: Cell, r: int, rng: np.random.Generator) -> Array:
    pair = _pair_columns(cell, r, rng)
    half = beta_binomial(rng, 0.5, cell.m, (r, cell.k))
    return np.concatenate([pair, np.stack([half, pair[..., 1]], axis=-1)], axis=-1)


def _ratio(s: Array) -> Array:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(s[..., 0] / s[..., 1])


def _difference(s: Array) -> Array:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(s[..., 0] / s[..., 1] - s[..., 2] / s[..., 3])


def _members(s: Array) -> Array:
    """The composite's three member shares (..., 3)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([s[..., 0] / s[..., 1], s[..., 2] / s[..., 3], s[..., 4] / s[..., 5]], -1)


def _flat(fn: Callable[[Array], Array]) -> Callable[[Array], Array]:
    """A stats.*_rows function of (n, c) sums as a function of (..., c) sums."""
    return lambda s: fn(s.reshape(-1, s.shape[-1])).reshape(s.shape[:-1])


def _jsd_bound(cols: Array, low: Array, high: Array) -> Intervals:
    """comparison.divergence: a degenerate interval becomes [0, stats.jsd_ceiling]; the
    low end is then lowered by stats.jsd_discordance_low."""
    ceiling = stats.jsd_ceiling(cols[..., 6], cols[..., 7])
    flat = high - low <= 0
    low = stats.jsd_discordance_low(
        np.where(flat, 0.0, low),
        cols[..., :3].sum(axis=1),
        cols[..., 3:6].sum(axis=1),
        cols[..., 6],
        cols[..., 7],
    )
    return low, np.where(flat, np.maximum(high, ceiling), high)


def _hhi_bound(cols: Array, low: Array, high: Array) -> Intervals:
    """N7/T7: a degenerate interval becomes [stats.hhi_floor_of, 1]."""
    flat = high - low <= 0
    return np.where(flat, np.minimum(low, stats.hhi_floor_of(cols)), low), np.where(flat, 1.0, high)


STATISTICS = (
    Statistic(
        "share",
        "N1-N6, N8, T1-T4, T8, O1",
        _share_columns,
        _ratio,
        lambda c: c.p,
        lambda c: (c.ratio_method,),
    ),
    Statistic(
        "failure attribution",
        "T9",
        _t9_columns,
        _ratio,
        lambda c: 2 / 3,
        lambda c: (CLUSTER_WILSON,),
        size=lambda s: s[..., 1],
    ),
    Statistic(
        "pair difference",
        "pair tests",
        _pair_columns,
        _difference,
        lambda c: c.p / 2,
        lambda c: (PAIRED_SCORE,),
    ),
    Statistic(
        "divergence",
        "C1",
        _jsd_columns,
        _flat(lambda s: stats.jsd_rows(s[:, :3], s[:, 3:6])),
        lambda c: jsd_truth(control(c.p), vantage(c.p)),
        lambda c: (DEBIASED,),
        bound=_jsd_bound,
    ),
    Statistic(
        "concentration",
        "N7, T7",
        _hhi_columns,
        _flat(stats.hhi_rows),
        lambda c: hhi_truth(supply(c.p)),
        lambda c: (BOOTSTRAP,),
        trials=(1,),
        bound=_hhi_bound,
    ),
    Statistic(
        "composite",
        "C2",
        _composite_columns,
        lambda s: _members(s).mean(axis=-1),
        lambda c: (c.p + c.p / 2 + 0.5) / 3,
        lambda c: (WIDENED,),
    ),
)


def bootstrap_sums(cols: Array, seed: int, b: int = stats.B_DEFAULT) -> Array:
    """Column sums of every replication in every bootstrap replicate: (B, R, c); one draw
    of cluster counts serves all R replications."""
    r, k, c = cols.shape
    flat = cols.transpose(1, 0, 2).reshape(k, r * c)
    out = np.empty((b, r * c))
    done = 0
    for counts in stats.resample_counts(np.random.default_rng(seed), k, b):
        out[done : done + len(counts)] = counts @ flat
        done += len(counts)
    return out.reshape(b, r, c)


def intervals(
    method: str, stat: Statistic, cell: Cell, cols: Array, estimate: Array, seed: int
) -> Intervals:
    """The intervals of every replication by ``method``, as analysis computes them."""
    if method == WILSON:
        return stats.wilson_arrays(cols[..., 0].sum(axis=1), cols[..., 1].sum(axis=1))
    if method == CLUSTER_WILSON:
        return stats.cluster_wilson(cols[..., 0], cols[..., 1])
    if method == PAIRED_SCORE:
        return stats.paired_score(cols[..., 0], cols[..., 1], cols[..., 2], cols[..., 3])
    reps = stat.statistic(bootstrap_sums(cols, seed))
    finish = {
        BOOTSTRAP: stats.percentile_intervals,
        DEBIASED: stats.debiased_intervals,
        WIDENED: stats.widened_intervals,
    }.get(method)
    if finish is not None:
        low, high = finish(reps, estimate, cell.k)
        return (low, high) if stat.bound is None else stat.bound(cols, low, high)
    raise ValueError(f"unknown method {method!r}")


def atoms(cols: Array) -> Array:
    """Each replication's multiset of per-cluster rows, as an integer label."""
    r, k, c = cols.shape
    base = int(cols.max()) + 1 if cols.size else 1
    codes = np.zeros((r, k), dtype=np.int64)
    for j in range(c):
        codes = codes * base + cols[..., j].astype(np.int64)
    codes.sort(axis=1)
    return np.unique(codes, axis=0, return_inverse=True)[1].ravel()


def reachable(labels: Array, band: tuple[float, float], exact: int = 12) -> dict[str, object]:
    """Whether a coverage in ``band`` is reachable by choosing which multisets of cluster
    outcomes an interval covers (information only; attainability is ``by_estimate``):
    the ``exact`` heaviest ones are combined exactly, the rest may go either way
    (their mass is added in full or not at all, so the check never claims too little)."""
    mass = np.sort(np.bincount(labels) / len(labels))[::-1]
    sums = np.zeros(1)
    for x in mass[:exact]:
        sums = np.unique(np.concatenate([sums, sums + x]))
    rest = float(mass[exact:].sum())
    ok = bool(np.any((sums <= band[1]) & (sums + rest >= band[0])))
    below = sums[sums + rest < band[0]]
    above = sums[sums > band[1]]
    return {
        "by_multiset": ok,
        "heaviest": [round(float(x), 4) for x in mass[:4]],
        "rest": round(rest, 4),
        "nearest_below": round(float(below.max() + rest), 4) if len(below) else None,
        "nearest_above": round(float(above.min()), 4) if len(above) else None,
    }


def by_estimate(estimates: Array, band: tuple[float, float]) -> dict[str, object]:
    """Whether an interval whose ends are non-decreasing functions of the estimate could
    reach ``band`` (the bench's attainability rule): such an interval holds the truth
    exactly when the estimate lies in some range [a, b], so its coverage is the mass of a
    run of consecutive estimate values. Also the runs' masses nearest the band."""
    _, inverse = np.unique(np.round(estimates, 12), return_inverse=True)
    cum = np.concatenate([[0.0], np.cumsum(np.bincount(inverse.ravel()) / len(estimates))])
    ends = np.minimum(np.searchsorted(cum, cum + band[0] - 1e-12), len(cum) - 1)
    first = cum[ends] - cum  # per start: the lightest run reaching band[0] (if any)
    last = cum[np.maximum(ends - 1, 0)] - cum  # ... and the heaviest run below it
    reach = first >= band[0] - 1e-12
    return {
        "attainable": bool(np.any(reach & (first <= band[1]))),
        "by_estimate_below": round(float(last.max()), 4),
        "by_estimate_above": round(float(first[reach].min()), 4) if reach.any() else None,
    }


def by_estimate_given(
    estimates: Array, sizes: Array, band: tuple[float, float], grid: int = 100_000
) -> dict[str, object]:
    """``by_estimate`` for intervals that may also depend on the sample size (Wilson's
    interval of a ratio whose denominator varies): monotone in the estimate at each size,
    so the coverage is a sum, over the sizes, of the mass of one run of that size's
    estimate values. The reachable sums are built size by size on a grid of 1/``grid``
    (each mass rounded down and up, so the check never claims too little)."""
    reach = np.zeros(grid + 1, dtype=bool)
    reach[0] = True
    for size in np.unique(sizes):
        mine = estimates[sizes == size]
        _, counts = np.unique(np.round(mine, 12), return_counts=True)
        cum = np.concatenate([[0.0], np.cumsum(counts)]) / len(estimates)
        runs = (cum[None, :] - cum[:, None])[np.triu_indices(len(cum))]
        steps = np.unique(np.concatenate([np.floor(runs * grid), np.ceil(runs * grid)]))
        nxt = np.zeros_like(reach)
        for step in steps.astype(np.int64):
            nxt[step:] |= reach[: grid + 1 - step]
        reach = nxt
    sums = np.flatnonzero(reach) / grid
    inside = (sums >= band[0]) & (sums <= band[1])
    below, above = sums[sums < band[0]], sums[sums > band[1]]
    return {
        "attainable": bool(inside.any()),
        "by_estimate_below": round(float(below.max()), 4) if len(below) else None,
        "by_estimate_above": round(float(above.min()), 4) if len(above) else None,
    }


def attainability(
    stat: Statistic, cell: Cell, cols: Array, rng: np.random.Generator, draws: int
) -> dict[str, object]:
    """``by_estimate`` (and ``reachable``) on the masses of the cell's estimate values
    (and multisets), estimated from ``draws``
    (ATTAIN_DRAWS) fresh rounds where they are few enough to be told apart
    (k <= ATTAIN_MAX_K): 1,000 rounds alone leave a 1 % mass uncertain by 0.3 points,
    enough to call a band attainable by a run no interval rule would pick. Larger
    rounds have almost continuous estimates, which makes every band attainable anyway."""
    if draws and cell.k <= ATTAIN_MAX_K:
        cols = stat.columns(cell, draws, rng)
        cols = cols[np.isfinite(stat.statistic(cols.sum(axis=1)))]
    if not len(cols):
        return {"attainable": False}
    return {
        **reachable(atoms(cols), BAND),
        **monotone_attainable(stat, cols.sum(axis=1)),
    }


def monotone_attainable(stat: Statistic, sums: Array) -> dict[str, object]:
    """``by_estimate``, or where the statistic's sample size varies and that alone does not
    reach the band, ``by_estimate_given`` that size."""
    plain = by_estimate(stat.statistic(sums), BAND)
    if plain["attainable"] or stat.size is None:
        return plain
    return by_estimate_given(stat.statistic(sums), stat.size(sums), BAND)


def grid(stat: Statistic) -> tuple[Cell, ...]:
    return tuple(Cell(p, k, m) for p in PS for k in CLUSTERS for m in stat.trials)


def run(
    replications: int,
    seed: int,
    cells: dict[str, tuple[Cell, ...]] | None = None,
    attain_draws: int = ATTAIN_DRAWS,
) -> list[dict[str, object]]:
    """One row per (statistic, cell, method): coverage, zero-width intervals, mean width."""
    out: list[dict[str, object]] = []
    for s, stat in enumerate(STATISTICS):
        chosen = grid(stat) if cells is None else cells.get(stat.name, ())
        for n, cell in enumerate(chosen):
            rng = np.random.default_rng([seed, s, n])
            cols = stat.columns(cell, replications, rng)
            estimate = stat.statistic(cols.sum(axis=1))
            defined = np.isfinite(estimate)
            cols, estimate = cols[defined], estimate[defined]
            truth = stat.truth(cell)
            decided = attainability(
                stat, cell, cols, np.random.default_rng([seed, s, n, 1]), attain_draws
            )
            for method in stat.methods(cell):
                low, high = intervals(method, stat, cell, cols, estimate, seed + 1000 * s + n)
                out.append(
                    {
                        "statistic": stat.name,
                        "used_by": stat.used_by,
                        "method": method,
                        "p": cell.p,
                        "clusters": cell.k,
                        "trials_per_cluster": cell.m,
                        "truth": round(truth, 4),
                        "defined": int(defined.sum()),
                        "coverage": round(float(np.mean((low <= truth) & (truth <= high))), 4),
                        "zero_width": int(np.sum(high - low <= 0)),
                        "mean_width": round(float(np.mean(high - low)), 4),
                        **decided,
                    }
                )
    return out


def missed(rows: list[dict[str, object]], band: tuple[float, float]) -> list[dict[str, object]]:
    """Rows whose band is attainable and whose coverage lies outside it."""
    return [r for r in rows if r["attainable"] and not band[0] <= number(r["coverage"]) <= band[1]]


def conservative(
    rows: list[dict[str, object]], band: tuple[float, float]
) -> list[dict[str, object]]:
    """The missed rows (``missed``) whose coverage lies above the band."""
    return [r for r in missed(rows, band) if number(r["coverage"]) > band[1]]


def number(x: object) -> float:
    """A numeric field of a row (rows are JSON-ready dicts)."""
    assert isinstance(x, float | int)
    return float(x)


def only(names: list[str] | None) -> dict[str, tuple[Cell, ...]] | None:
    """``run``'s cells for the statistics ``names`` (each its full grid), None for all."""
    if not names:
        return None
    return {stat.name: grid(stat) for stat in STATISTICS if stat.name in names}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ci")
    parser.add_argument("--replications", type=int, default=REPLICATIONS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--statistic",
        action="append",
        choices=[stat.name for stat in STATISTICS],
        help="only this statistic's grid (repeatable); its cells keep their streams",
    )
    args = parser.parse_args(sys.argv[1:])
    t0 = time.perf_counter()
    rows = run(args.replications, args.seed, only(args.statistic))
    for r in rows:
        print(json.dumps(r))
    wide = conservative(rows, BAND)
    misses = [r for r in missed(rows, BAND) if r not in wide]
    for key in sorted({(str(r["statistic"]), str(r["method"])) for r in rows}):
        mine = [r for r in rows if (r["statistic"], r["method"]) == key]
        cov = [number(r["coverage"]) for r in mine]
        n_miss = sum(1 for r in misses if (r["statistic"], r["method"]) == key)
        n_wide = sum(1 for r in wide if (r["statistic"], r["method"]) == key)
        n_un = sum(1 for r in mine if not r["attainable"])
        print(
            f"{key[0]} / {key[1]}: {len(mine)} cells, coverage {min(cov):.3f}-{max(cov):.3f}, "
            f"{n_un} unattainable, {n_wide} conservative (above {BAND[1]:.0%}), {n_miss} "
            f"attainable cells below {BAND[0]:.0%}"
        )
    for r in rows:
        if not r["attainable"]:
            print(
                f"unattainable: {r['statistic']} / {r['method']} p={r['p']} k={r['clusters']} "
                f"m={r['trials_per_cluster']}: coverage {r['coverage']}; no interval monotone "
                f"in the estimate reaches the band: the runs of estimate values nearest it "
                f"hold {r.get('by_estimate_below')} and {r.get('by_estimate_above')} "
                f"(cluster-outcome multisets: {'could' if r.get('by_multiset') else 'could not'}"
                f", nearest {r.get('nearest_below')} and {r.get('nearest_above')})"
            )
    for r in wide:
        print(
            f"conservative at: {r['statistic']} / {r['method']} p={r['p']} k={r['clusters']} "
            f"m={r['trials_per_cluster']}: coverage {r['coverage']}"
        )
    for r in misses:
        print(
            f"missed: {r['statistic']} / {r['method']} p={r['p']} k={r['clusters']} "
            f"m={r['trials_per_cluster']}: coverage {r['coverage']}; runs of estimate values "
            f"nearest the band hold {r.get('by_estimate_below')} and "
            f"{r.get('by_estimate_above')}"
        )
    print(f"{args.replications} replications per cell, {time.perf_counter() - t0:.1f} s")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
