"""The value of one indicator for one run, and how ratio values get their interval. No I/O."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from fragscope.analysis import stats
from fragscope.analysis.registry import REGISTRY

WILSON_MAX_N = 30  # below this many unit-weight clusters the Wilson interval is used
BOOTSTRAP = f"cluster bootstrap expanded percentile, B = {stats.B_DEFAULT}"
"""The interval of statistics that are not ratios of sums (stats.expanded_alpha)."""
DEBIASED = f"cluster bootstrap expanded percentile less twice the bias, B = {stats.B_DEFAULT}"
"""The interval of a statistic whose plug-in estimate is biased: C1 (stats.debiased_intervals)."""
WIDENED = (
    f"cluster bootstrap expanded percentile united with t times its standard error, "
    f"B = {stats.B_DEFAULT}"
)
"""The composite's interval (stats.widened_intervals)."""
CLUSTER_WILSON = "cluster-adjusted Wilson (design-effect n, t with k - 1 df)"
"""The interval of the other ratios (stats.cluster_wilson)."""

VALUE = "value"
WITHHELD = "withheld"
"""No value for lack of data: too few clusters, an input table or fact missing."""
NOT_APPLICABLE = "not_applicable"
"""No value because the formula is undefined on complete data (T9 when nothing interferes:
0/0), docs/indicators.md "Withheld and not applicable"."""
STATUSES = (VALUE, WITHHELD, NOT_APPLICABLE)

StrArray = npt.NDArray[np.str_]

_RESAMPLERS: dict[str, stats.Resampler] = {}


def use_resampler(run_id: str, resampler: stats.Resampler | None) -> None:
    """Install (or remove) the shared bootstrap draws of a run while it is computed; removing
    them first resolves the intervals still queued on them."""
    if resampler is None:
        settle(run_id)
        _RESAMPLERS.pop(run_id, None)
    else:
        _RESAMPLERS[run_id] = resampler


def settle(run_id: str) -> None:
    """Fill in the intervals of a run's estimates that wait on its shared draws."""
    shared = _RESAMPLERS.get(run_id)
    if shared is not None:
        shared.flush()


def bootstrap(
    run: Any,
    code: str,
    keys: Sequence[str] | StrArray | None,
    columns: Any,
    statistic: Any,
) -> stats.Pending:
    """A cluster bootstrap of a statistic of column sums: the run's shared draws when the
    clusters are its targets (the interval may come at :func:`settle`), else an independent
    resample seeded from run id and code."""
    shared = _RESAMPLERS.get(run.id)
    if shared is not None and keys is not None:
        positions = shared.positions(keys)
        if positions is not None:
            return shared.defer(positions, columns, statistic)
    return stats.Pending.done(
        stats.sum_bootstrap(
            np.asarray(columns, dtype=np.float64), statistic, seed=stats.seed_for(run.id, code)
        )
    )


@dataclass(frozen=True, slots=True)
class ClusterSums:
    """A ratio indicator's per-cluster numerators and denominators (clusters with den > 0),
    kept for the paired cross-vantage tests and ``indicators explain``."""

    keys: StrArray
    num: stats.FloatArray
    den: stats.FloatArray

    def __len__(self) -> int:
        return len(self.keys)


@dataclass
class Estimate:
    """A computed indicator value, or none (value None) with a reason and a status that
    says whether it is withheld (lack of data) or not applicable (undefined formula)."""

    code: str
    run_id: str
    vantage_id: str | None
    value: float | None
    n: int | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    status: str = VALUE
    replicates: stats.FloatArray | None = field(default=None, repr=False)
    cluster_sums: ClusterSums | None = field(default=None, repr=False)

    @property
    def clusters(self) -> dict[str, tuple[float, float]] | None:
        """Cluster -> (numerator, denominator) of a ratio indicator (None for others)."""
        c = self.cluster_sums
        if c is None:
            return None
        return {
            k: (a, b)
            for k, a, b in zip(c.keys.tolist(), c.num.tolist(), c.den.tolist(), strict=True)
        }

    @property
    def version(self) -> int:
        return REGISTRY[self.code].version


def withheld(code: str, run: Any, reason: str, **params: Any) -> Estimate:
    """A NULL value with the reason it is withheld (never a placeholder number)."""
    return Estimate(
        code, run.id, run.vantage_id, None, params=params, reason=reason, status=WITHHELD
    )


def not_applicable(code: str, run: Any, reason: str, **params: Any) -> Estimate:
    """A NULL value on complete data where the formula is undefined, with the reason."""
    return Estimate(
        code, run.id, run.vantage_id, None, params=params, reason=reason, status=NOT_APPLICABLE
    )


def missing_tables(code: str, present: set[str], optional: Collection[str] = ()) -> str | None:
    """The reason to withhold when an input table of ``code`` is not in the database;
    ``optional`` inputs only add evidence, so their absence withholds nothing."""
    absent = [t for t in REGISTRY[code].inputs if t not in present and t not in optional]
    if absent:
        return f"input table {', '.join(absent)} not present"
    return None


def from_ratio(
    code: str,
    run: Any,
    num: Sequence[float] | stats.FloatArray,
    den: Sequence[float] | stats.FloatArray,
    *,
    params: dict[str, Any] | None = None,
    keys: Sequence[str] | StrArray | None = None,
) -> Estimate:
    """sum(num)/sum(den) over clusters (targets) with its 95% interval, or withheld.

    Wilson's interval serves small samples of unit clusters (one trial per target); the
    cluster-adjusted Wilson interval (stats.cluster_wilson) serves the rest: the percentile
    bootstrap undercovers with few clusters and claims [0, 0] when every cluster is 0
    (python -m bench ci). Replicates are always kept for the composite.
    """
    params = dict(params or {})
    ind = REGISTRY[code]
    num_all = np.asarray(num, dtype=np.float64)
    den_all = np.asarray(den, dtype=np.float64)
    if num_all.shape != den_all.shape:
        raise ValueError(f"{code}: numerators and denominators differ in length")
    positive = den_all > 0
    n_clusters = int(positive.sum())
    if n_clusters < ind.min_n:
        return withheld(code, run, f"n = {n_clusters} < minimum {ind.min_n} clusters", **params)
    num_a, den_a = num_all[positive], den_all[positive]
    kept = _key_array(keys)[positive] if keys is not None else None
    boot = bootstrap(run, code, kept, np.column_stack([num_a, den_a]), lambda s: s[:, 0] / s[:, 1])
    binary = bool(np.all(den_a == 1) and np.all((num_a == 0) | (num_a == 1)))
    wilson = binary and n_clusters < WILSON_MAX_N
    params["interval"] = "wilson" if wilson else CLUSTER_WILSON
    est = Estimate(
        code,
        run.id,
        run.vantage_id,
        boot.value,
        n=n_clusters,
        params=params,
        cluster_sums=ClusterSums(kept, num_a, den_a) if kept is not None else None,
    )
    if wilson:
        est.ci_low, est.ci_high = stats.wilson(int(num_a.sum()), n_clusters)
    else:
        low, high = stats.cluster_wilson(num_a[None, :], den_a[None, :])
        est.ci_low, est.ci_high = float(low[0]), float(high[0])
    # The bootstrap replicates still serve the composite and the pair tests.
    boot.then(partial(_fill, est, keep_bounds=True))
    return est


def from_cluster_ratio(
    code: str,
    run: Any,
    num: stats.FloatArray,
    den: stats.FloatArray,
    *,
    n: int,
    params: dict[str, Any],
) -> Estimate:
    """sum(num)/sum(den) with stats.cluster_wilson's interval over the clusters with
    den > 0, for a ratio whose n counts every cluster it was computed over (T9: the
    targets both channels reached from the control, most of which failed on neither);
    the caller has applied the minimum-n rule and checked sum(den) > 0."""
    low, high = stats.cluster_wilson(num[None, :], den[None, :])
    return Estimate(
        code,
        run.id,
        run.vantage_id,
        float(num.sum() / den.sum()),
        n=n,
        ci_low=float(low[0]),
        ci_high=float(high[0]),
        params={**params, "interval": CLUSTER_WILSON},
    )


def _fill(est: Estimate, interval: stats.Interval, *, keep_bounds: bool = False) -> None:
    """An estimate's interval and replicates, once its bootstrap is resolved; a zero-width
    interval (resampling had nothing to vary) is marked ``ci_degenerate`` for the reports."""
    est.replicates = interval.replicates
    if keep_bounds:
        return
    est.ci_low, est.ci_high = interval.low, interval.high
    if stats.degenerate(est.ci_low, est.ci_high):
        est.params["ci_degenerate"] = True
    if interval.bound:
        est.params["ci_bound"] = interval.bound


def _key_array(keys: Sequence[str] | StrArray) -> StrArray:
    """Cluster keys as a numpy string array (which sorts and compares like Python str)."""
    arr = np.asarray(keys, dtype=np.str_)
    if len(arr) != len(keys):
        raise ValueError("keys must be a flat sequence of strings")
    return arr


def from_interval(
    code: str,
    run: Any,
    interval: stats.Interval | stats.Pending,
    *,
    params: dict[str, Any],
    method: str = BOOTSTRAP,
) -> Estimate:
    """An Estimate from a general cluster bootstrap result, with the minimum-n rule;
    ``method`` names its interval in params."""
    ind = REGISTRY[code]
    if interval.n < ind.min_n:
        return withheld(code, run, f"n = {interval.n} < minimum {ind.min_n} clusters", **params)
    params = {**params, "interval": method}
    est = Estimate(code, run.id, run.vantage_id, interval.value, n=interval.n, params=params)
    pending = interval if isinstance(interval, stats.Pending) else stats.Pending.done(interval)
    pending.then(partial(_fill, est))
    return est
