"""The value of one indicator for one run, and how ratio values get their interval. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis import stats
from analysis.registry import REGISTRY

WILSON_MAX_N = 30  # below this many unit-weight clusters the Wilson interval is used

_RESAMPLERS: dict[str, stats.Resampler] = {}


def use_resampler(run_id: str, resampler: stats.Resampler | None) -> None:
    """Install (or remove) the shared bootstrap draws of a run while it is computed."""
    if resampler is None:
        _RESAMPLERS.pop(run_id, None)
    else:
        _RESAMPLERS[run_id] = resampler


def bootstrap(
    run: Any,
    code: str,
    keys: Sequence[str] | None,
    columns: Any,
    statistic: Any,
) -> stats.Interval:
    """A cluster bootstrap of a statistic of column sums: the run's shared draws when the
    clusters are its targets, else an independent resample seeded from run id and code."""
    shared = _RESAMPLERS.get(run.id)
    if shared is not None and keys is not None and shared.covers(keys):
        return shared.bootstrap(keys, columns, statistic)
    return stats.sum_bootstrap(
        np.asarray(columns, dtype=np.float64), statistic, seed=stats.seed_for(run.id, code)
    )


@dataclass
class Estimate:
    """A computed indicator value (or a withheld one: value None and a reason)."""

    code: str
    run_id: str
    vantage_id: str | None
    value: float | None
    n: int | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    replicates: stats.FloatArray | None = field(default=None, repr=False)
    clusters: dict[str, tuple[float, float]] | None = field(default=None, repr=False)

    @property
    def version(self) -> int:
        return REGISTRY[self.code].version


def withheld(code: str, run: Any, reason: str, **params: Any) -> Estimate:
    """A NULL value with the reason it is withheld (never a placeholder number)."""
    return Estimate(code, run.id, run.vantage_id, None, params=params, reason=reason)


def missing_tables(code: str, present: set[str]) -> str | None:
    """The reason to withhold when an input table of ``code`` is not in the database."""
    absent = [t for t in REGISTRY[code].inputs if t not in present]
    if absent:
        return f"input table {', '.join(absent)} not present"
    return None


def from_ratio(
    code: str,
    run: Any,
    num: Sequence[float],
    den: Sequence[float],
    *,
    params: dict[str, Any] | None = None,
    keys: Sequence[str] | None = None,
) -> Estimate:
    """sum(num)/sum(den) over clusters (targets) with its 95% interval, or withheld.

    Wilson's interval serves small samples of unit clusters (one trial per target); the
    cluster bootstrap serves the rest. Replicates are always kept for the composite.
    """
    params = dict(params or {})
    ind = REGISTRY[code]
    n_clusters = sum(1 for d in den if d > 0)
    if n_clusters < ind.min_n:
        return withheld(code, run, f"n = {n_clusters} < minimum {ind.min_n} clusters", **params)
    pairs = [(a, b) for a, b in zip(num, den, strict=True) if b > 0]
    num_a = np.array([p[0] for p in pairs], dtype=float)
    den_a = np.array([p[1] for p in pairs], dtype=float)
    kept = [k for k, b in zip(keys, den, strict=True) if b > 0] if keys is not None else None
    boot = bootstrap(run, code, kept, np.column_stack([num_a, den_a]), lambda s: s[:, 0] / s[:, 1])
    low, high = boot.low, boot.high
    binary = bool(np.all(den_a == 1) and np.all((num_a == 0) | (num_a == 1)))
    if binary and n_clusters < WILSON_MAX_N:
        low, high = stats.wilson(int(num_a.sum()), n_clusters)
        params["interval"] = "wilson"
    else:
        params["interval"] = "cluster bootstrap percentile, B = 1000"
    return Estimate(
        code,
        run.id,
        run.vantage_id,
        boot.value,
        n=n_clusters,
        ci_low=low,
        ci_high=high,
        params=params,
        replicates=boot.replicates,
        clusters=(
            {k: (a, b) for k, a, b in zip(keys, num, den, strict=True) if b > 0}
            if keys is not None
            else None
        ),
    )


def from_interval(
    code: str, run: Any, interval: stats.Interval, *, params: dict[str, Any]
) -> Estimate:
    """An Estimate from a general cluster bootstrap result, with the minimum-n rule."""
    ind = REGISTRY[code]
    if interval.n < ind.min_n:
        return withheld(code, run, f"n = {interval.n} < minimum {ind.min_n} clusters", **params)
    params = {**params, "interval": "cluster bootstrap percentile, B = 1000"}
    return Estimate(
        code,
        run.id,
        run.vantage_id,
        interval.value,
        n=interval.n,
        ci_low=interval.low,
        ci_high=interval.high,
        params=params,
        replicates=interval.replicates,
    )
