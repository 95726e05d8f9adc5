"""Honest intervals (issue 19, "Honest CIs"): all-zero clusters get a score interval, not
[0, 0]; a zero-width bootstrap interval is marked; and a reduced run of the seeded coverage
check (bench/ci.py; the full grid is `python -m bench ci`) keeps every interval method in a
band around 95 % on cells where the band is attainable."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from bench import ci
from fragscope.analysis import stats
from fragscope.analysis.result import from_interval, from_ratio

RUN = SimpleNamespace(id="00000000-0000-4000-8000-00000000c1c1", vantage_id="v")


def test_all_zero_clusters_give_a_score_interval_not_zero_width() -> None:
    # 25 names, each asked of 4 resolvers, no divergence anywhere: the percentile bootstrap
    # resampled 0 a thousand times and claimed [0, 0].
    est = from_ratio("N1", RUN, np.zeros(25), np.full(25, 4.0), keys=[f"n{i}" for i in range(25)])
    assert est.value == 0.0 and est.ci_low == 0.0
    assert est.ci_high is not None and est.ci_high > 0.05
    # Each cluster counts as one trial at most: never narrower than Wilson over 25 clusters
    # shrunk for 24 degrees of freedom, never wider than Wilson over 6.
    assert stats.wilson(0, 25)[1] <= est.ci_high <= stats.wilson(0, 6)[1]
    assert est.params["interval"].startswith("cluster-adjusted Wilson")


def test_zero_width_bootstrap_interval_is_marked_degenerate() -> None:
    flat = stats.Interval(0.0, 0.0, 0.0, 25, np.zeros(stats.B_DEFAULT))
    est = from_interval("C1", RUN, flat, params={})
    assert est.params.get("ci_degenerate") is True
    spread = stats.Interval(0.1, 0.05, 0.2, 25, np.linspace(0.05, 0.2, stats.B_DEFAULT))
    assert "ci_degenerate" not in from_interval("C1", RUN, spread, params={}).params


def test_expanded_percentile_widens_for_few_clusters() -> None:
    assert stats.expanded_alpha(6) < 0.005 < stats.expanded_alpha(25) < stats.ALPHA
    assert stats.expanded_alpha(10_000) == pytest.approx(stats.ALPHA, abs=2e-4)
    assert stats.t975(30) == pytest.approx(2.042, abs=1e-3)


CELLS = tuple(ci.Cell(p, k, m) for p in (0.1, 0.5) for k in (6, 25, 250) for m in (1, 5))


def test_reduced_coverage_check() -> None:
    # 300 replications: a binomial standard error of 1.3 points around 95 %, so the band
    # is looser than the bench's 93-97 %.
    band = (0.89, 0.995)
    rows = ci.run(300, ci.SEED, CELLS)
    assert {r["method"] for r in rows} == {"wilson", "cluster-adjusted wilson", ci.BOOTSTRAP}
    # The shares' intervals hold the band on every cell; the bootstrap (the method of the
    # statistics that are not shares) where percentile intervals are known to work: at least
    # 25 clusters and 10 expected successes. Below that it undercovers (6 clusters of 5
    # trials at p = 0.1: 85 % in the full bench), which the report states.
    shares = [r for r in rows if r["method"] != ci.BOOTSTRAP]
    boot = [
        r
        for r in rows
        if r["method"] == ci.BOOTSTRAP
        and ci.number(r["clusters"]) >= 25
        and ci.number(r["p"]) * ci.number(r["clusters"]) * ci.number(r["trials_per_cluster"]) >= 10
    ]
    assert len(shares) == 12 and len(boot) == 7
    assert not ci.missed(shares + boot, band), ci.missed(shares + boot, band)


def test_cluster_wilson_covers_rare_events() -> None:
    # p = 0.02, 60 clusters of 5 trials: about 6 successes per round, in 2-3 clusters, so
    # the cluster variance is estimated from almost nothing and came out too small (90.6 %
    # coverage). The design effect is now pulled towards m when successes are few.
    rows = ci.run(ci.REPLICATIONS, ci.SEED, (ci.Cell(0.02, 60, 5),))
    (share,) = [r for r in rows if r["method"] == "cluster-adjusted wilson"]
    assert ci.BAND[0] <= ci.number(share["coverage"]) <= ci.BAND[1], share
