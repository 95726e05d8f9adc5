"""Statistics for the indicators: cluster bootstrap, Wilson, JSD, paired score intervals, Holm.
No I/O.

Targets are the clusters (docs/indicators.md, Method step 4): SQL reduces rows to
per-target aggregates and these functions resample those aggregates with replacement.
Random streams are seeded from the run id, so a recomputation gives the same interval.
"""

from __future__ import annotations

import functools
import hashlib
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

B_DEFAULT = 1000
ALPHA = 0.05
_CHUNK_CELLS = 4_000_000  # replicates x clusters resampled at once: bounds memory (~32 MB)
# Blocks of the shared weight matrix: small enough that a block's draws and counts stay in
# the CPU cache (measured 2-4x faster than 4M-cell blocks at 35,000 targets).
_WEIGHT_CELLS = 262_144

FloatArray = npt.NDArray[np.float64]


def seed_for(*parts: str) -> int:
    """A 64-bit seed from the run id (and the indicator code): reproducible streams."""
    return int.from_bytes(hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest())


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with its 95% interval and the bootstrap replicates, if any."""

    value: float
    low: float
    high: float
    n: int
    replicates: FloatArray | None = None
    bound: str | None = None
    """SCORE_BOUND when a side of a degenerate bootstrap interval is a score bound."""


Z95 = 1.959963984540054


def wilson(successes: int, n: int, *, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (Wilson 1927); (0, 1) for n = 0."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} outside [0, n={n}]")
    low, high = wilson_arrays(np.array([float(successes)]), np.array([float(n)]), z=z)
    return float(low[0]), float(high[0])


def wilson_arrays(
    successes: FloatArray, n: FloatArray, *, z: float = Z95
) -> tuple[FloatArray, FloatArray]:
    """Wilson score intervals of many proportions at once (n > 0)."""
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Clamp the floating-point residue so the interval always holds p.
    return np.maximum(0.0, np.minimum(centre - half, p)), np.minimum(
        1.0, np.maximum(centre + half, p)
    )


# Student's t 97.5% quantiles for 1-10 degrees of freedom; beyond, the Cornish-Fisher
# expansion in 1/df (Abramowitz and Stegun 26.7.5) is within 1e-3 of it.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom (df >= 1)."""
    if df <= len(_T975):
        return _T975[max(df, 1) - 1]
    return _cornish_fisher(Z95, df)


def _cornish_fisher(z: float, df: int) -> float:
    """Student's t quantile at the normal quantile ``z``, to order 1/df^3 (Abramowitz
    and Stegun 26.7.5)."""
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def _t_within(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with ``df`` degrees of freedom, in closed form
    (Abramowitz and Stegun 26.7.3-26.7.4: a finite series in cos(theta), theta =
    atan(t / sqrt(df)))."""
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2:
        term, total = 1.0, 1.0 if df > 1 else 0.0
        for j in range(2, df - 1, 2):
            term *= c2 * j / (j + 1)
            total += term
        return 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * total)
    term, total = 1.0, 1.0
    for j in range(1, df - 2, 2):
        term *= c2 * j / (j + 1)
        total += term
    return math.sin(theta) * total


@functools.lru_cache(maxsize=4096)
def t_like(z: float, df: int) -> float:
    """The quantile of Student's t with ``df`` degrees of freedom whose two-sided tail
    equals the normal's beyond ``z`` (t975(df) at z = 1.96); by bisection of the closed
    form up to 30 df, the Cornish-Fisher expansion beyond (as t975)."""
    df = max(df, 1)
    if df > 30:
        return _cornish_fisher(z, df)
    within = math.erf(z / math.sqrt(2))
    lo, hi = z, z
    while _t_within(hi, df) < within:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_within(mid, df) < within else (lo, mid)
    return (lo + hi) / 2


def expanded_alpha(clusters: int) -> float:
    """The two-sided level of the expanded percentile interval (Hesterberg 2015, "What
    teachers should know about the bootstrap", section 5.2): the percentile bootstrap is
    too narrow by about sqrt((n - 1) / n) and uses z where t is due, so its quantiles are
    taken at the level whose normal quantile is sqrt(n / (n - 1)) t_{n-1} instead of
    1.96. ALPHA itself for n < 2 (nothing to expand); it tends to ALPHA as n grows."""
    if clusters < 2:
        return ALPHA
    z = math.sqrt(clusters / (clusters - 1)) * t975(clusters - 1)
    return math.erfc(z / math.sqrt(2))


def percentile_intervals(
    reps: FloatArray, estimates: FloatArray, clusters: int = 0
) -> tuple[FloatArray, FloatArray]:
    """95% expanded percentile intervals (``expanded_alpha`` of the number of clusters) of
    the columns of ``reps`` (B replicates x m statistics), NaN replicates (an empty
    denominator drawn) left out; an all-NaN column gives the estimate itself."""
    alpha = expanded_alpha(clusters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: handled below
        low, high = np.nanquantile(reps, [alpha / 2, 1 - alpha / 2], axis=0)
    empty = np.isnan(low)
    low, high = np.where(empty, estimates, low), np.where(empty, estimates, high)
    # A percentile interval can miss the estimate on tiny skewed samples; widen it to hold
    # the estimate so the stored interval is never self-contradictory.
    return np.minimum(low, estimates), np.maximum(high, estimates)


def widened_intervals(
    reps: FloatArray,
    estimates: FloatArray,
    clusters: int = 0,
    *,
    normal_clusters: int | None = None,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> tuple[FloatArray, FloatArray]:
    """``percentile_intervals`` united with the normal form of the same expansion:
    estimate +- sqrt(n / (n - 1)) t_{n-1} sd(replicates), n = ``normal_clusters`` (default
    ``clusters``), kept inside ``bounds``. With few clusters the expanded percentile's ends
    are the 2nd-3rd most extreme of B = 1000 replicates, and a resampled mean of six
    targets cannot leave their range, so those quantiles fall short of the t width the
    expansion aims at (Hesterberg 2015, section 5.2): C2 over six targets covered 92 %
    (python -m bench ci). The union keeps the percentile interval's skew and is never
    narrower than either."""
    low, high = percentile_intervals(reps, estimates, clusters)
    n = clusters if normal_clusters is None else normal_clusters
    if n < 2:
        return low, high
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: no spread
        spread = np.nan_to_num(np.nanstd(reps, axis=0))
    half = math.sqrt(n / (n - 1)) * t975(n - 1) * spread
    return (
        np.minimum(low, np.clip(estimates - half, *bounds)),
        np.maximum(high, np.clip(estimates + half, *bounds)),
    )


def satterthwaite_clusters(
    weights: Sequence[float], variances: Sequence[float], clusters: Sequence[int]
) -> int:
    """The clusters n whose n - 1 degrees of freedom a weighted sum of estimates has, the
    i-th with variance v_i over n_i clusters (Welch-Satterthwaite): df = (sum w_i^2 v_i)^2 /
    sum (w_i^2 v_i)^2 / (n_i - 1), kept between the fewest and the most clusters. A member
    over two targets that carries a small part of the variance then does not set t on one
    degree of freedom for the whole sum (C2 with N6 over two resolvers: t_1 = 12.7)."""
    terms = [w * w * v for w, v in zip(weights, variances, strict=True)]
    if not clusters:
        return 0
    low, high = min(clusters), max(clusters)
    total = sum(terms)
    spread = sum(t * t / max(n - 1, 1) for t, n in zip(terms, clusters, strict=True))
    if total <= 0 or spread <= 0:
        return low
    return int(min(high, max(low, round(total * total / spread) + 1)))


def debiased_intervals(
    reps: FloatArray,
    estimates: FloatArray,
    clusters: int = 0,
    *,
    bounds: tuple[float, float] = (0.0, 1.0),
) -> tuple[FloatArray, FloatArray]:
    """``percentile_intervals`` moved by twice the bootstrap bias b = mean(replicates) -
    estimate, for a statistic whose plug-in estimate is biased (C1's JSD: a difference
    the sample shows by chance counts as divergence, so the estimate sits above the truth
    on average; Efron and Tibshirani 1993, section 10.4). The replicates scatter around
    estimate + b, which lies about 2b above the truth, so the corrected interval is
    [q_low - 2b, q_high - 2b], kept inside the statistic's range ``bounds`` and widened
    to hold the estimate itself (the stored value keeps its definition; only the
    interval moves). Without it, JSD's intervals missed the truth from above in 8-9 % of
    rounds of six targets (python -m bench ci)."""
    low, high = percentile_intervals(reps, estimates, clusters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: no bias
        bias = np.nan_to_num(np.nanmean(reps, axis=0) - estimates)
    low = np.clip(low - 2 * bias, *bounds)
    high = np.clip(high - 2 * bias, *bounds)
    return np.minimum(low, estimates), np.maximum(high, estimates)


def debiased(interval: Interval) -> Interval:
    """A bootstrap interval replaced by ``debiased_intervals`` of its replicates (any other
    interval as it is)."""
    if interval.replicates is None:
        return interval
    reps = np.where(np.isfinite(interval.replicates), interval.replicates, np.nan)[:, None]
    low, high = debiased_intervals(reps, np.array([interval.value]), interval.n)
    return Interval(
        interval.value,
        float(low[0]),
        float(high[0]),
        interval.n,
        interval.replicates,
        interval.bound,
    )


def _percentile(reps: FloatArray, estimate: float, clusters: int) -> tuple[float, float]:
    cols = np.where(np.isfinite(reps), reps, np.nan)[:, None]
    low, high = percentile_intervals(cols, np.array([estimate]), clusters)
    return float(low[0]), float(high[0])


T_FREE_K = 25
"""From this many clusters on, stats.cluster_wilson uses z, not t on k - 1 degrees of
freedom: t_24 is within 5 % of z, and the shrink over-covered rare shares of 60 clusters
(97.1 % at p = 0.02, five trials per cluster; 96.5 % without it, python -m bench ci)."""
DEFF_FLOOR = 0.5
"""The smallest design effect stats.cluster_wilson believes (see there)."""


def cluster_wilson(
    num: FloatArray, den: FloatArray, *, z: float = Z95
) -> tuple[FloatArray, FloatArray]:
    """Score intervals of ratios of sums over clusters, one per row of ``num``/``den``
    (rows x clusters; a cluster with den = 0 adds nothing and is not counted, so k is the
    number of clusters with den > 0, at least one per row): Wilson's interval at the
    effective sample size n_eff = trials / deff, and shrunk by (z / t_{k-1})^2 for the
    k - 1 degrees of freedom (Korn and Graubard 1998).

    deff = v / (p (1 - p) / trials), v the linearised (cluster-robust) variance of the
    ratio, floored at DEFF_FLOOR: below 1 is real when a cluster's trials are negatively
    correlated (T9: an address where TLS and QUIC both failed adds exactly one TCP failure
    of two), but an estimate far below it is noise. With few successes x (or failures), v
    rests on at most x clusters and is often far too small (rare events: coverage 0.91 at
    p = 0.02, k = 60, m = 5), so deff is pulled towards its most conservative value, the
    mean trials per cluster m (all of a cluster's trials alike), with weight w =
    1 / (x + 1)^2 on the log scale; a ratio of 0 or 1 has no variance to estimate and gets
    deff = m. The t shrink is for the estimated part only (exponent 1 - w): m is fixed, not
    estimated from k clusters, and shrinking it too made every interval with few successes
    or few clusters over-cover (T9 at p = 0.02: 99-100 %); from T_FREE_K clusters on
    there is no t shrink at all. ``z`` sets the level (1.96:
    95 %; the t quantile is the one with the same two-sided tail, ``t_like``). A row whose
    clusters have at most one trial each gets Wilson's interval itself (deff = 1). Coverage
    on synthetic rounds with intra-cluster correlation 0.3: python -m bench ci."""
    k = np.maximum((den > 0).sum(axis=1), 1)
    trials = den.sum(axis=1)
    successes = num.sum(axis=1)
    p = successes / trials
    v = k / np.maximum(k - 1, 1) * ((num - p[:, None] * den) ** 2).sum(axis=1) / trials**2
    per_cluster = trials / k
    edge = (p == 0) | (p == 1) | (v <= 0)
    safe_pq = np.where(edge, 1.0, p * (1 - p))
    deff = np.where(edge, per_cluster, np.maximum(DEFF_FLOOR, trials * v / safe_pq))
    rare = np.minimum(successes, trials - successes)  # the rarer outcome's count
    weight = 1.0 / (rare + 1.0) ** 2
    deff = np.exp((1 - weight) * np.log(deff) + weight * np.log(per_cluster))
    t = np.array([t_like(z, int(n) - 1) if n < T_FREE_K else z for n in k.tolist()])
    n_eff = trials / deff * ((z / t) ** 2) ** (1 - weight)
    # One binary trial per cluster: the trials are independent, deff = 1 is known, not
    # estimated, and the interval is Wilson's (estimating it anyway over-covered T9 and
    # shares of 60+ unit clusters). Fractional weights or scores are not trials.
    unit = binary_trials(num, den)
    n_eff = np.where(unit, trials, n_eff)
    return wilson_arrays(p * n_eff, n_eff, z=z)


def binary_trials(num: FloatArray, den: FloatArray) -> npt.NDArray[np.bool_]:
    """Per row: whether every cluster is at most one binary trial (den 0, or den 1 with
    num 0 or 1)."""
    return np.asarray(np.all((den == 0) | ((den == 1) & ((num == 0) | (num == 1))), axis=1))


Z95_ONE_SIDED = 1.6448536269514722
"""The normal quantile of a one-sided 95 % bound."""


def _upper_at_edge(num: FloatArray, den: FloatArray) -> FloatArray:
    """cluster_wilson's upper limit of each row's share, one-sided (``Z95_ONE_SIDED``)
    where the share is 0: the statistics bounded by it (below) then sit at the end of
    their range, which is the other end of the interval, so all of the 5 % it may miss
    by lies on this side (a two-sided 1.96 left the interval covering 99-100 %)."""
    two = cluster_wilson(num, den)[1]
    one = cluster_wilson(num, den, z=Z95_ONE_SIDED)[1]
    return np.where(num.sum(axis=1) == 0, one, two)


def jsd_ceiling(dis_num: FloatArray, dis_den: FloatArray) -> FloatArray:
    """An upper 95% bound of a JSD from the keys whose outcomes differ between the two
    runs (rows x clusters: differing keys, keys): JSD (log base 2) <= the total variation
    distance (Lin 1991), which is at most the share of keys whose outcomes differ (two
    distributions of one set of keys differ at most where the keys do), so
    cluster_wilson's upper limit of that share bounds the JSD too; one-sided where no key
    differs (the JSD is then 0, the interval's hard low end)."""
    return _upper_at_edge(dis_num, dis_den)


def jsd_discordance_low(
    low: FloatArray, a: FloatArray, b: FloatArray, dis_num: FloatArray, dis_den: FloatArray
) -> FloatArray:
    """C1's low end ``low`` (one per row) lowered towards what the few keys whose outcomes
    differ allow. ``a``, ``b``: the two runs' outcome counts over the common keys (rows x
    categories); ``dis_num``, ``dis_den``: differing keys and keys per cluster (rows x
    clusters). The two distributions moved towards their midpoint until only the
    cluster_wilson lower limit of the share of differing keys differs (a share t of the
    observed one) have a JSD the data cannot rule out: that level, about t^2 times the
    estimate. The bootstrap rests on the d differing keys, so the low end is the
    log-scale blend of the bootstrap's and that level with weight 1 / (d + 1) on the
    latter (as cluster_wilson's pull on the design effect with few successes), and never
    above the bootstrap's. With four of 60 keys differing in disjoint categories (control
    3 losses, vantage 1 rewrite) the plug-in JSD is five times the truth and the moved
    percentile still missed it from above (coverage 0.928 at p = 0.02, k = 60, one trial
    per key; python -m bench ci)."""
    d = dis_num.sum(axis=1)
    share = d / np.maximum(dis_den.sum(axis=1), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(share > 0, cluster_wilson(dis_num, dis_den)[0] / share, 0.0)
    mid = (a + b) / 2
    level = jsd_rows(mid + t[:, None] * (a - mid), mid + t[:, None] * (b - mid))
    weight = 1.0 / (d + 1.0)
    live = (level > 0) & (low > 0)
    with np.errstate(divide="ignore"):
        blend = np.exp(
            (1 - weight) * np.log(np.where(live, low, 1.0))
            + weight * np.log(np.where(live, level, 1.0))
        )
    return np.where(live, np.minimum(low, blend), low)


def hhi_floor(outside_high: FloatArray) -> FloatArray:
    """The smallest HHI* of any distribution whose largest share is at least 1 - u (u =
    ``outside_high``, an upper bound of the share outside the largest firm): (1 - 2u)^2
    for u < 1/2 (two firms, the second holding u; more firms or a larger top share only
    raise HHI*), else 0 (two equal firms)."""
    return np.where(outside_high < 0.5, (1 - 2 * np.minimum(outside_high, 0.5)) ** 2, 0.0)


def hhi_floor_of(counts: FloatArray) -> FloatArray:
    """hhi_floor of the cluster-adjusted Wilson upper limit of the share outside the
    largest firm (one-sided where that share is 0: HHI* is then 1, the interval's hard
    high end); ``counts`` is rows x clusters x firms."""
    top = counts.sum(axis=1).argmax(axis=-1)
    den = counts.sum(axis=-1)
    inside = np.take_along_axis(counts, top[:, None, None], axis=-1)[..., 0]
    return hhi_floor(_upper_at_edge(den - inside, den))


SCORE_BOUND = "score bound (resampling had nothing to vary)"
"""The ``ci_bound`` param of an interval whose bootstrap was degenerate and whose open side
comes from a score interval instead (docs/indicators.md, Method step 8)."""


def bounded(interval: Interval, low: float | None = None, high: float | None = None) -> Interval:
    """A zero-width bootstrap interval (every replicate equal: resampling had nothing to
    vary) with its low end lowered to ``low`` and its high end raised to ``high``, bounds
    of the statistic that hold whatever the clusters (a score limit mapped through the
    statistic, or the end of its range); any other interval as it is."""
    if not degenerate(interval.low, interval.high):
        return interval
    new_low = interval.low if low is None else min(interval.low, low)
    new_high = interval.high if high is None else max(interval.high, high)
    return Interval(interval.value, new_low, new_high, interval.n, interval.replicates, SCORE_BOUND)


def degenerate(low: float | None, high: float | None) -> bool:
    """A zero-width interval: resampling had nothing to vary (docs/indicators.md, Method)."""
    return low is not None and high is not None and high - low <= 0.0


def resample_counts(
    rng: np.random.Generator, n: int, b: int, cells: int = _CHUNK_CELLS
) -> Iterator[npt.NDArray[np.int64]]:
    """Bootstrap draws a block at a time: row j counts how often each cluster was drawn in
    replicate j. One (k, n) draw yields the same stream as k draws of n, so the blocks do
    not change the replicates; they bound the scratch memory (``cells`` per block)."""
    chunk = max(1, min(b, cells // max(n, 1)))
    done = 0
    while done < b:
        k = min(chunk, b - done)
        idx = rng.integers(0, n, size=(k, n))
        idx += (np.arange(k) * n)[:, None]
        yield np.bincount(idx.ravel(), minlength=k * n).reshape(k, n)
        done += k


def sum_bootstrap(
    columns: FloatArray,
    statistic: Callable[[FloatArray], FloatArray],
    *,
    seed: int,
    b: int = B_DEFAULT,
) -> Interval:
    """Cluster bootstrap of any statistic of column sums.

    ``columns`` has one row per cluster (a target) and one column per additive quantity
    (numerator, denominator, category counts); ``statistic`` maps a (m, k) array of
    column sums to m values, vectorised. Ratios, Jaccard indices, HHI and JSD are all
    functions of such sums, so one resampling engine (a weights matrix times the columns)
    serves every indicator.
    """
    cols = np.asarray(columns, dtype=np.float64)
    if cols.ndim != 2 or cols.shape[0] == 0:
        raise ValueError("columns must be a non-empty (clusters, k) array")
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = float(statistic(cols.sum(axis=0)[None, :])[0])
    reps = np.empty(b, dtype=np.float64)
    pos = 0
    for counts in resample_counts(np.random.default_rng(seed), cols.shape[0], b):
        with np.errstate(invalid="ignore", divide="ignore"):
            reps[pos : pos + len(counts)] = statistic(counts.astype(np.float64) @ cols)
        pos += len(counts)
    low, high = _percentile(reps, estimate, int(cols.shape[0]))
    return Interval(estimate, low, high, int(cols.shape[0]), reps)


class Pending:
    """A bootstrap whose point estimate is known now and whose interval comes when its
    Resampler multiplies the run's queued columns by the shared draws (:meth:`Resampler.flush`)."""

    __slots__ = ("_waiting", "interval", "n", "value")

    def __init__(self, value: float, n: int) -> None:
        self.value = value
        self.n = n
        self.interval: Interval | None = None
        self._waiting: list[Callable[[Interval], None]] = []

    @classmethod
    def done(cls, interval: Interval) -> Pending:
        found = cls(interval.value, interval.n)
        found.interval = interval
        return found

    def map(self, fn: Callable[[Interval], Interval]) -> Pending:
        """A Pending of ``fn`` of this interval, resolved when this one is."""
        out = Pending(self.value, self.n)
        self.then(lambda interval: out.resolve(fn(interval)))
        return out

    def then(self, fn: Callable[[Interval], None]) -> None:
        """Call ``fn`` with the interval, now or when it is known."""
        if self.interval is not None:
            fn(self.interval)
        else:
            self._waiting.append(fn)

    def resolve(self, interval: Interval) -> None:
        self.interval = interval
        waiting, self._waiting = self._waiting, []
        for fn in waiting:
            fn(interval)


# float32 holds every integer below 2**24 exactly: integer columns whose replicate sums stay
# below it sum exactly in any order, so one product over many indicators' columns gives
# the same sums as a product per indicator.
_EXACT_BELOW = float(2**24)


def _point(cols: FloatArray, statistic: Callable[[FloatArray], FloatArray]) -> float:
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(statistic(cols.sum(axis=0)[None, :])[0])


def _finish(
    estimate: float, n: int, sums: FloatArray, statistic: Callable[[FloatArray], FloatArray]
) -> Interval:
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = np.asarray(statistic(sums), dtype=np.float64)
    low, high = _percentile(reps, estimate, n)
    return Interval(estimate, low, high, n, reps)


class Resampler:
    """Bootstrap weights shared by every indicator of one run over one universe of targets.

    Row j of the (B, N) weight matrix counts how often each target was drawn in replicate j
    (an exact multinomial resample of N targets). Every indicator whose clusters are
    targets of the universe takes its replicates from the same matrix, so the targets are
    resampled jointly across indicators (what the composite's interval needs, docs/indicators.md,
    Method step 4), and each replicate costs one matrix product instead of a resample per indicator.
    An indicator over a subset of the targets gets the subset's draws (domain estimation).
    """

    def __init__(
        self, keys: Sequence[str] | npt.NDArray[np.str_], *, seed: int, b: int = B_DEFAULT
    ) -> None:
        arr = np.asarray(keys, dtype=np.str_)
        # Keys are looked up by binary search in their sorted order (numpy strings sort as
        # Python's do); a key's column in the weights is its position in ``keys``.
        self._order = np.argsort(arr, kind="stable")
        self._sorted = arr[self._order]
        self.size = len(arr)
        self.seed = seed
        self.b = b
        self._weights: npt.NDArray[np.float32] | None = None
        self._queue: list[
            tuple[npt.NDArray[np.int64], FloatArray, Callable[[FloatArray], FloatArray], Pending]
        ] = []

    def positions(self, keys: Sequence[str] | npt.NDArray[np.str_]) -> npt.NDArray[np.int64] | None:
        """Each key's column in the weights, or None unless every key is in the universe."""
        arr = np.asarray(keys, dtype=np.str_)
        if len(arr) == 0 or self.size == 0:
            return None
        at = np.minimum(np.searchsorted(self._sorted, arr), self.size - 1)
        if not np.array_equal(self._sorted[at], arr):
            return None
        return np.asarray(self._order[at], dtype=np.int64)

    @property
    def weights(self) -> npt.NDArray[np.float32]:
        if self._weights is None:
            rng = np.random.default_rng(self.seed)
            w = np.empty((self.b, self.size), dtype=np.float32)
            pos = 0
            for counts in resample_counts(rng, self.size, self.b, _WEIGHT_CELLS):
                w[pos : pos + len(counts)] = counts
                pos += len(counts)
            self._weights = w
        return self._weights

    def sums_at(self, positions: npt.NDArray[np.int64], columns: FloatArray) -> FloatArray:
        """Column sums in every replicate: a (B, k) array; row i of ``columns`` is the
        cluster at weight column ``positions[i]``."""
        cols = np.asarray(columns, dtype=np.float64)
        full = np.zeros((self.size, cols.shape[1]), dtype=np.float32)
        full[positions] = cols
        return self._product(full, exact=self.exact(cols))

    def exact(self, cols: FloatArray) -> bool:
        """Whether every replicate sum of ``cols`` is an integer below 2**24 (exact in
        float32, so the same whatever order the product adds in)."""
        return (
            cols.size > 0
            and float(np.abs(cols).max()) * self.size < _EXACT_BELOW
            and bool(np.all(cols == np.floor(cols)))
        )

    def _product(self, full: npt.NDArray[np.float32], *, exact: bool) -> FloatArray:
        """The draws times ``full``, in float64. A product of exact sums runs on one BLAS
        thread: it reads the (B, N) draws once and is bound by memory, so a second thread
        gains nothing and its spin-waiting cost ~5-10 % more CPU on a shared 2-core machine
        (bench.indicators). Other products keep the default threads, whose float32
        summation order their intervals have always been computed with."""
        weights = self.weights
        if not exact:
            return np.asarray((weights @ full).astype(np.float64), dtype=np.float64)
        with threadpool_limits(limits=1, user_api="blas"):
            return np.asarray((weights @ full).astype(np.float64), dtype=np.float64)

    def sums(self, keys: Sequence[str] | npt.NDArray[np.str_], columns: FloatArray) -> FloatArray:
        """Like :meth:`sums_at` with rows of ``columns`` following ``keys``."""
        positions = self.positions(keys)
        if positions is None:
            raise ValueError("keys outside the resampled universe")
        return self.sums_at(positions, columns)

    def bootstrap_at(
        self,
        positions: npt.NDArray[np.int64],
        columns: FloatArray,
        statistic: Callable[[FloatArray], FloatArray],
    ) -> Interval:
        """Like :func:`sum_bootstrap` with this run's shared draws; row i of ``columns`` is
        the cluster at weight column ``positions[i]``."""
        cols = np.asarray(columns, dtype=np.float64)
        return _finish(
            _point(cols, statistic), int(cols.shape[0]), self.sums_at(positions, cols), statistic
        )

    def defer(
        self,
        positions: npt.NDArray[np.int64],
        columns: FloatArray,
        statistic: Callable[[FloatArray], FloatArray],
    ) -> Pending:
        """:meth:`bootstrap_at`, queued until :meth:`flush` when its sums are exact in float32
        (integer columns, sums below 2**24), so that reading the (B, N) draws once serves
        every queued indicator; computed now otherwise."""
        cols = np.asarray(columns, dtype=np.float64)
        if not self.exact(cols):
            return Pending.done(self.bootstrap_at(positions, cols, statistic))
        found = Pending(_point(cols, statistic), int(cols.shape[0]))
        self._queue.append((positions, cols, statistic, found))
        return found

    def flush(self) -> None:
        """Resolve every queued bootstrap with one product of the draws and their columns."""
        queue, self._queue = self._queue, []
        if not queue:
            return
        widths = [cols.shape[1] for _, cols, _, _ in queue]
        full = np.zeros((self.size, sum(widths)), dtype=np.float32)
        edges = np.cumsum([0, *widths])
        for (positions, cols, _, _), lo, hi in zip(queue, edges[:-1], edges[1:], strict=True):
            full[positions, lo:hi] = cols
        sums = self._product(full, exact=True)
        for (_, _cols, statistic, found), lo, hi in zip(queue, edges[:-1], edges[1:], strict=True):
            found.resolve(_finish(found.value, found.n, sums[:, lo:hi], statistic))

    def bootstrap(
        self,
        keys: Sequence[str] | npt.NDArray[np.str_],
        columns: FloatArray,
        statistic: Callable[[FloatArray], FloatArray],
    ) -> Interval:
        """:meth:`bootstrap_at` with rows of ``columns`` following ``keys``."""
        positions = self.positions(keys)
        if positions is None:
            raise ValueError("keys outside the resampled universe")
        return self.bootstrap_at(positions, columns, statistic)


def ratio_bootstrap(
    num: Sequence[float] | FloatArray,
    den: Sequence[float] | FloatArray,
    *,
    seed: int,
    b: int = B_DEFAULT,
) -> Interval:
    """Ratio sum(num)/sum(den) with a cluster-bootstrap percentile CI over the clusters.

    Each index is one cluster (a target) with its numerator and denominator, so the
    repetitions and addresses nested inside a target move together.
    """
    num_a = np.asarray(num, dtype=np.float64)
    den_a = np.asarray(den, dtype=np.float64)
    if num_a.shape != den_a.shape or num_a.ndim != 1:
        raise ValueError("num and den must be 1-d arrays of the same length")
    if num_a.size == 0 or float(den_a.sum()) <= 0:
        raise ValueError("no clusters with a positive denominator")
    return sum_bootstrap(
        np.column_stack([num_a, den_a]), lambda s: s[:, 0] / s[:, 1], seed=seed, b=b
    )


def cluster_bootstrap(
    statistic: Callable[[npt.NDArray[np.int64]], float],
    n: int,
    *,
    seed: int,
    b: int = B_DEFAULT,
) -> Interval:
    """A general cluster bootstrap: ``statistic(indices)`` on the full and resampled sets.

    For statistics that are not ratios of sums (HHI, Jaccard); slower than
    :func:`ratio_bootstrap`, so it is used where clusters are few.
    """
    if n <= 0:
        raise ValueError("no clusters")
    estimate = float(statistic(np.arange(n)))
    rng = np.random.default_rng(seed)
    reps = np.array([statistic(rng.integers(0, n, size=n)) for _ in range(b)], dtype=np.float64)
    low, high = _percentile(reps, estimate, n)
    return Interval(estimate, low, high, n, reps)


def _as_prob(counts: Sequence[float] | FloatArray) -> FloatArray:
    arr = np.asarray(counts, dtype=np.float64)
    if arr.ndim != 1 or (arr < 0).any():
        raise ValueError("a distribution is a 1-d array of non-negative counts")
    total = arr.sum()
    if total <= 0:
        raise ValueError("an empty distribution")
    return np.asarray(arr / total, dtype=np.float64)


def jsd(p: Sequence[float] | FloatArray, q: Sequence[float] | FloatArray) -> float:
    """Jensen-Shannon divergence with log base 2, in [0, 1] (Lin 1991).

    ``p`` and ``q`` are counts or probabilities over the same categories.
    """
    pa, qa = _as_prob(p), _as_prob(q)
    if pa.shape != qa.shape:
        raise ValueError("p and q must have the same categories")
    m = (pa + qa) / 2

    def kl(a: FloatArray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))

    return float(min(1.0, max(0.0, (kl(pa) + kl(qa)) / 2)))


def jsd_rows(p: FloatArray, q: FloatArray) -> FloatArray:
    """Row-wise JSD (log base 2) of two (m, k) arrays of counts; NaN for an empty row."""
    with np.errstate(invalid="ignore", divide="ignore"):
        pa = p / p.sum(axis=1, keepdims=True)
        qa = q / q.sum(axis=1, keepdims=True)
        m = (pa + qa) / 2
        kl_p = np.where(pa > 0, pa * np.log2(pa / m), 0.0).sum(axis=1)
        kl_q = np.where(qa > 0, qa * np.log2(qa / m), 0.0).sum(axis=1)
    return np.asarray(np.clip((kl_p + kl_q) / 2, 0.0, 1.0), dtype=np.float64)


def hhi_rows(counts: FloatArray) -> FloatArray:
    """Row-wise normalised HHI* of an (m, k) array of counts per firm (see :func:`hhi`)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = counts / counts.sum(axis=1, keepdims=True)
        raw = (shares**2).sum(axis=1)
        k = (counts > 0).sum(axis=1)
        norm = np.where(k > 1, (raw - 1 / k) / (1 - 1 / k), 1.0)
    return np.asarray(np.clip(norm, 0.0, 1.0), dtype=np.float64)


def hhi(counts: Sequence[float] | FloatArray) -> tuple[float, float]:
    """Herfindahl-Hirschman index (0..10^4) and its normalised form HHI* in [0, 1].

    HHI* = (HHI/10^4 - 1/N) / (1 - 1/N); a single firm (N = 1) is full concentration.
    """
    shares = _as_prob(counts)
    shares = shares[shares > 0]
    raw = float(np.sum((100 * shares) ** 2))
    k = shares.size
    if k == 1:
        return raw, 1.0
    norm = (raw / 1e4 - 1 / k) / (1 - 1 / k)
    return raw, float(min(1.0, max(0.0, norm)))


def entropy_normalised(counts: Sequence[float] | FloatArray) -> float:
    """Shannon entropy (log2) normalised by log2 K, K = categories present; 0 for K <= 1."""
    shares = _as_prob(counts)
    shares = shares[shares > 0]
    if shares.size <= 1:
        return 0.0
    return float(-np.sum(shares * np.log2(shares)) / math.log2(shares.size))


@dataclass(frozen=True, slots=True)
class PairedResult:
    """Δ = I_u - I_v on common clusters, its 95% CI and the two-sided p-value of the same
    interval family (:func:`paired_test`)."""

    delta: float
    low: float
    high: float
    p_value: float
    n: int


def tango(
    only_u: FloatArray, only_v: FloatArray, n: FloatArray, *, z: float = Z95
) -> tuple[FloatArray, FloatArray]:
    """Tango's score intervals (Tango 1998) of Δ = (only_u - only_v) / n for n paired binary
    trials, only_u of which are positive at u alone and only_v at v alone (arrays, one
    interval per entry). The limits are the δ where the score statistic
    (only_u - only_v - n δ) / sqrt(n (2 q + δ - δ^2)) equals ∓z, q the maximum-likelihood
    share of v-only trials under Δ = δ (the root of 2n q^2 - B q - C = 0, B = (only_u +
    only_v)(1 - δ) - 2 δ (n - only_u), C = only_v δ (1 - δ)); found by bisection, the
    statistic being decreasing in δ."""
    b, c = only_u[:, None], only_v[:, None]
    nn = np.maximum(n, 1.0)[:, None]
    observed = (b - c) / nn

    def score(delta: FloatArray) -> FloatArray:
        big_b = (b + c) * (1 - delta) - 2 * delta * (nn - b)
        q = (big_b + np.sqrt(np.maximum(big_b**2 + 8 * nn * c * delta * (1 - delta), 0.0))) / (
            4 * nn
        )
        q = np.maximum(q, np.maximum(0.0, -delta))
        var = nn * np.maximum(2 * q + delta - delta**2, 1e-300)
        return np.asarray((b - c - nn * delta) / np.sqrt(var))

    # Column 0 searches the low limit in [-1, Δ], column 1 the high one in [Δ, 1].
    target = np.array([[z, -z]])
    lo = np.concatenate([np.full_like(observed, -1.0), observed], axis=1)
    hi = np.concatenate([observed, np.ones_like(observed)], axis=1)
    for _ in range(48):
        mid = (lo + hi) / 2
        above = score(mid) > target  # the limit lies above mid
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    limits = (lo + hi) / 2
    return limits[:, 0], limits[:, 1]


def paired_score(
    num_u: FloatArray, den_u: FloatArray, num_v: FloatArray, den_v: FloatArray, *, z: float = Z95
) -> tuple[FloatArray, FloatArray]:
    """Intervals of Δ = sum(num_u)/sum(den_u) - sum(num_v)/sum(den_v) over the SAME clusters,
    one per row (rows x clusters): the MOVER for dependent proportions (Newcombe 1998,
    method 10; Zou and Donner 2008) on each side's cluster_wilson limits, with the
    correlation of the two ratios estimated from the clusters' linearised residuals (0 when
    a side has none to vary). Unlike the paired cluster bootstrap used before, which claimed
    [0, 0] whenever no target differed, it keeps each side's score interval (coverage:
    python -m bench ci). Rows with one trial per cluster at both sides get ``tango``."""
    lu, hu = cluster_wilson(num_u, den_u, z=z)
    lv, hv = cluster_wilson(num_v, den_v, z=z)
    with np.errstate(invalid="ignore", divide="ignore"):
        pu = num_u.sum(axis=1) / den_u.sum(axis=1)
        pv = num_v.sum(axis=1) / den_v.sum(axis=1)
        eu = num_u - pu[:, None] * den_u
        ev = num_v - pv[:, None] * den_v
        scale = np.sqrt((eu**2).sum(axis=1) * (ev**2).sum(axis=1))
        r = np.where(scale > 0, (eu * ev).sum(axis=1) / np.where(scale > 0, scale, 1.0), 0.0)
    delta = pu - pv
    down = np.sqrt(np.maximum(0.0, (pu - lu) ** 2 - 2 * r * (pu - lu) * (hv - pv) + (hv - pv) ** 2))
    up = np.sqrt(np.maximum(0.0, (hu - pu) ** 2 - 2 * r * (hu - pu) * (pv - lv) + (pv - lv) ** 2))
    # Every target alike at both runs: r = 1 and the MOVER can shrink to [0, 0] (p = 1/2).
    # |Δ| is at most the share of trials that differ, none of which were seen: Δ's bounds
    # are then at least ± that share's score upper limit (as C1's stats.jsd_ceiling).
    alike = np.all((num_u == num_v) & (den_u == den_v), axis=1)
    none = cluster_wilson(np.zeros_like(den_u), den_u, z=z)[1]
    low = np.where(alike, np.minimum(delta - down, -none), delta - down)
    high = np.where(alike, np.maximum(delta + up, none), delta + up)
    # One trial per target at both runs: the trials are paired binary outcomes, and
    # Tango's score interval for them needs no design effect or correlation estimate.
    paired = (
        np.all(den_u == den_v, axis=1) & binary_trials(num_u, den_u) & binary_trials(num_v, den_v)
    )
    if paired.any():
        only_u = ((num_u > num_v) & (den_u > 0)).sum(axis=1).astype(np.float64)
        only_v = ((num_v > num_u) & (den_u > 0)).sum(axis=1).astype(np.float64)
        t_low, t_high = tango(only_u, only_v, den_u.sum(axis=1), z=z)
        low, high = np.where(paired, t_low, low), np.where(paired, t_high, high)
    return low, high


def paired_test(
    num_u: FloatArray, den_u: FloatArray, num_v: FloatArray, den_v: FloatArray
) -> PairedResult:
    """Δ on common clusters (1-d arrays, one entry per cluster) with paired_score's 95%
    interval and the p-value of that same interval family: the two-sided level at which
    its bound nearest 0 reaches 0 (bisection in z), so p < ALPHA exactly when 0 lies
    outside the 95% interval (for binary trials, McNemar's score p-value, the same thing
    for Tango's interval)."""
    cols = [np.asarray(a, dtype=np.float64)[None, :] for a in (num_u, den_u, num_v, den_v)]
    if not (cols[0].shape == cols[1].shape == cols[2].shape == cols[3].shape) or not cols[0].size:
        raise ValueError("paired inputs must be non-empty and of one length")
    low, high = paired_score(*cols)
    delta = float(cols[0].sum() / cols[1].sum() - cols[2].sum() / cols[3].sum())

    def excludes_zero(z: float) -> bool:
        lo, hi = paired_score(*cols, z=z)
        return bool(lo[0] > 0 or hi[0] < 0)

    u, v = cols[0], cols[2]
    if (
        np.array_equal(cols[1], cols[3])
        and binary_trials(u, cols[1])[0]
        and binary_trials(v, cols[3])[0]
    ):
        # Tango's interval (paired_score's for binary trials) excludes 0 exactly when its
        # score statistic at 0, McNemar's (only_u - only_v) / sqrt(only_u + only_v), exceeds
        # z: its p-value, without the bisection.
        only_u, only_v = float((u > v).sum()), float((v > u).sum())
        score = abs(only_u - only_v) / math.sqrt(only_u + only_v) if only_u + only_v else 0.0
        p = math.erfc(min(score, _Z_MAX) / math.sqrt(2))
    elif delta == 0 or not excludes_zero(1e-6):
        p = 1.0
    elif excludes_zero(_Z_MAX):
        p = math.erfc(_Z_MAX / math.sqrt(2))
    else:
        z_in, z_out = _Z_MAX, 1e-6  # 0 inside the interval at z_in, outside at z_out
        for _ in range(40):
            mid = (z_in + z_out) / 2
            z_in, z_out = (z_in, mid) if excludes_zero(mid) else (mid, z_out)
        p = math.erfc((z_in + z_out) / 2 / math.sqrt(2))
    return PairedResult(delta, float(low[0]), float(high[0]), p, int(cols[0].shape[1]))


_Z_MAX = 12.0  # two-sided p = 3.6e-33: beyond it a p-value is reported as this bound


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (Holm 1979), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def intervals_disjoint(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """The trend flag: two 95% intervals that do not overlap (docs/indicators.md, Method step 7)."""
    return a[1] < b[0] or b[1] < a[0]
