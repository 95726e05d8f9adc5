"""Statistics: hand-computed table values and hypothesis properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fragscope.analysis import stats


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Wilson (1927) score interval, z = 1.959964; values from the closed form by hand.
        (0, 10, 0.0, 0.27753),
        (10, 10, 0.72247, 1.0),
        (5, 10, 0.23659, 0.76341),
        (1, 8, 0.02242, 0.47089),
    ],
)
def test_wilson_table(k: int, n: int, low: float, high: float) -> None:
    lo, hi = stats.wilson(k, n)
    assert lo == pytest.approx(low, abs=1e-5)
    assert hi == pytest.approx(high, abs=1e-5)


def test_wilson_rejects_bad_counts() -> None:
    with pytest.raises(ValueError, match="successes"):
        stats.wilson(11, 10)


@pytest.mark.parametrize(
    ("p", "q", "expected"),
    [
        ([1, 0], [0, 1], 1.0),  # disjoint supports: the maximum, 1 bit
        ([1, 1], [1, 1], 0.0),
        # P = (1/2, 1/2), Q = (1, 0): M = (3/4, 1/4);
        # KL(P||M) = 1/2 log2(2/3) + 1/2 log2(2) ; KL(Q||M) = log2(4/3)
        ([1, 1], [1, 0], 0.5 * (0.5 * math.log2(2 / 3) + 0.5 + math.log2(4 / 3))),
    ],
)
def test_jsd_table(p: list[float], q: list[float], expected: float) -> None:
    assert stats.jsd(p, q) == pytest.approx(expected, abs=1e-12)
    assert stats.jsd_rows(np.array([p], float), np.array([q], float))[0] == pytest.approx(
        expected, abs=1e-12
    )


dists = st.lists(st.integers(0, 50), min_size=3, max_size=3).filter(lambda v: sum(v) > 0)


@given(dists, dists)
def test_jsd_symmetric_bounded(p: list[int], q: list[int]) -> None:
    a, b = stats.jsd(p, q), stats.jsd(q, p)
    assert a == pytest.approx(b, abs=1e-12)
    assert 0.0 <= a <= 1.0
    assert stats.jsd(p, p) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("counts", "raw", "norm"),
    [
        ([1], 10_000.0, 1.0),
        ([1, 1], 5_000.0, 0.0),
        # shares 3/4, 1/4: HHI = 5625 + 625 = 6250; HHI* = (0.625 - 0.5) / 0.5 = 0.25
        ([3, 1], 6_250.0, 0.25),
    ],
)
def test_hhi_table(counts: list[int], raw: float, norm: float) -> None:
    assert stats.hhi(counts) == pytest.approx((raw, norm))
    assert stats.hhi_rows(np.array([counts], float))[0] == pytest.approx(norm)


def test_holm_table() -> None:
    # Holm (1979): sorted p (0.01, 0.02, 0.04) x (3, 2, 1) = (0.03, 0.04, 0.04) monotone.
    assert stats.holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_intervals_disjoint() -> None:
    assert stats.intervals_disjoint((0.0, 0.1), (0.2, 0.3))
    assert not stats.intervals_disjoint((0.0, 0.25), (0.2, 0.3))


def test_ratio_bootstrap_reproducible_and_exact_point() -> None:
    num, den = [1, 0, 2, 1], [1, 1, 2, 2]
    a = stats.ratio_bootstrap(num, den, seed=stats.seed_for("run", "T2"))
    b = stats.ratio_bootstrap(num, den, seed=stats.seed_for("run", "T2"))
    assert a.value == 4 / 6
    assert (a.low, a.high) == (b.low, b.high)
    assert a.replicates is not None and a.replicates.size == stats.B_DEFAULT


def test_constant_clusters_give_a_zero_width_interval() -> None:
    res = stats.ratio_bootstrap([1] * 20, [2] * 20, seed=1)
    assert (res.value, res.low, res.high) == (0.5, 0.5, 0.5)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(1, 5)), min_size=1, max_size=30),
    st.integers(0, 2**32),
)
def test_bootstrap_interval_contains_estimate(pairs: list[tuple[int, int]], seed: int) -> None:
    num = [min(a, b) for a, b in pairs]
    den = [b for _, b in pairs]
    res = stats.ratio_bootstrap(num, den, seed=seed, b=200)
    assert res.low <= res.value <= res.high
    assert res.low >= 0.0 and res.high <= 1.0


def test_paired_test_detects_a_planted_difference() -> None:
    n = 40
    res = stats.paired_test(*(np.array(a, float) for a in ([1] * n, [1] * n, [0] * n, [1] * n)))
    assert res.delta == 1.0 and res.p_value < 1e-6 and res.low > 0.5
    same = stats.paired_test(*(np.array(a, float) for a in ([1, 0] * 20, [1] * n) * 2))
    assert same.delta == 0.0 and same.p_value == 1.0


def test_paired_interval_is_not_zero_width_when_no_target_differs() -> None:
    # 6 targets, no failure at either vantage: the paired bootstrap claimed Δ in [0, 0]
    # (pair difference coverage 0.06 in python -m bench ci); each side's score interval
    # leaves room for a difference either way.
    zeros, ones = np.zeros(6), np.ones(6)
    res = stats.paired_test(zeros, ones, zeros, ones)
    assert res.low < -0.2 and res.high > 0.2 and res.p_value == 1.0


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=2, max_size=25),
)
def test_paired_p_value_agrees_with_the_interval(pairs: list[tuple[int, int]]) -> None:
    # Holm adjusts the p-values, so the unadjusted test must be the interval's: p < 0.05
    # exactly when 0 lies outside the 95 % interval.
    u = np.array([a for a, _ in pairs], float)
    v = np.array([b for _, b in pairs], float)
    den = np.full(len(pairs), 4.0)
    res = stats.paired_test(u, den, v, den)
    assert res.low <= res.delta <= res.high
    outside = res.low > 0 or res.high < 0
    if abs(res.p_value - stats.ALPHA) > 1e-6:
        assert (res.p_value < stats.ALPHA) == outside, res


@given(st.lists(st.integers(0, 9), min_size=2, max_size=8).filter(lambda v: sum(v) > 0))
def test_entropy_normalised_bounds(counts: list[int]) -> None:
    h = stats.entropy_normalised(counts)
    assert 0.0 <= h <= 1.0 + 1e-12


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3)), min_size=2, max_size=25),
    st.integers(0, 2**32),
)
def test_shared_resampler_matches_definition(pairs: list[tuple[int, int]], seed: int) -> None:
    """Shared draws over a universe: a subset's replicate equals the ratio of its drawn
    sums, and the interval holds the estimate."""
    keys = [f"t{i}" for i in range(len(pairs))]
    shared = stats.Resampler(keys, seed=seed, b=200)
    sub = keys[::2]
    cols = np.array([[min(a, b), b] for a, b in pairs[::2]], dtype=float)
    res = shared.bootstrap(sub, cols, lambda s: s[:, 0] / s[:, 1])
    assert res.low <= res.value <= res.high
    w = shared.weights[:, ::2].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = (w @ cols[:, 0]) / (w @ cols[:, 1])
    assert res.replicates is not None
    np.testing.assert_allclose(res.replicates, expected, rtol=1e-6)
    # Each replicate draws exactly len(keys) targets (a multinomial resample).
    assert (shared.weights.sum(axis=1) == len(keys)).all()


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3)), min_size=2, max_size=25),
    st.integers(0, 2**32),
)
def test_queued_bootstraps_equal_immediate_ones(pairs: list[tuple[int, int]], seed: int) -> None:
    """Bootstraps queued on a Resampler and resolved by one product give exactly the
    replicates of one product each; a non-integer column is not queued at all."""
    keys = [f"t{i}" for i in range(len(pairs))]
    shared = stats.Resampler(keys, seed=seed, b=200)
    at = shared.positions(keys[::2])
    assert at is not None
    ints = np.array([[min(a, b), b] for a, b in pairs[::2]], dtype=float)
    quarters = ints + 0.25

    def ratio(s: stats.FloatArray) -> stats.FloatArray:
        return s[:, 0] / s[:, 1]

    queued = [shared.defer(at, cols, ratio) for cols in (ints, quarters, ints[:, ::-1])]
    assert queued[0].interval is None and queued[1].interval is not None
    shared.flush()
    for found, cols in zip(queued, (ints, quarters, ints[:, ::-1]), strict=True):
        assert found.interval is not None and found.interval.replicates is not None
        direct = shared.bootstrap_at(at, cols, ratio)
        assert direct.replicates is not None
        np.testing.assert_array_equal(found.interval.replicates, direct.replicates)
        assert (found.value, found.interval.low, found.interval.high) == (
            direct.value,
            direct.low,
            direct.high,
        )
