"""C2 combines its members' bootstrap replicates index-wise: a replicate in which no member
of a pillar has a value leaves that pillar out of that replicate (as the point formula
leaves out a pillar without members), without numpy's "Mean of empty slice" warning that
every lab round used to print. No I/O."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pytest

from fragscope.analysis import comparison, stats
from fragscope.analysis.result import Estimate
from fragscope.analysis.scope import RunInfo

RUN = RunInfo(
    "00000000-0000-4000-8000-000000000001",
    "v",
    "censored",
    "r",
    "c",
    dt.datetime(2026, 11, 28),
    "done",
)


def _member(code: str, value: float, reps: np.ndarray) -> Estimate:
    return Estimate(code, RUN.id, RUN.vantage_id, value, n=5, replicates=reps)


def test_a_replicate_without_any_transport_member_takes_the_naming_pillar_alone() -> None:
    b = stats.B_DEFAULT
    naming = {c: _member(c, 0.2, np.full(b, 0.2)) for c in ("N1", "N2", "N5")}
    transport = {}
    for c in ("T1", "T2", "T3"):
        reps = np.full(b, 0.6)
        reps[0] = np.nan  # replicate 0 drew no target of any transport member
        transport[c] = _member(c, 0.6, reps)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e = comparison.composite(RUN, {**naming, **transport})
    assert e.value == pytest.approx(0.4)
    assert e.replicates is not None
    assert e.replicates[0] == pytest.approx(0.2)  # the naming pillar only
    assert np.all(e.replicates[1:] == pytest.approx(0.4))


def test_a_replicate_without_any_member_is_nan_and_left_out_of_the_interval() -> None:
    b = stats.B_DEFAULT
    members = {}
    for c in ("T1", "T2", "T3"):
        reps = np.linspace(0.1, 0.9, b)
        reps[:3] = np.nan
        members[c] = _member(c, 0.5, reps)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e = comparison.composite(RUN, members)
    assert e.replicates is not None
    assert np.isnan(e.replicates[:3]).all() and not np.isnan(e.replicates[3:]).any()
    assert e.ci_low is not None and e.ci_high is not None
    assert 0.0 <= e.ci_low < 0.5 < e.ci_high <= 1.0
    # The NaN replicates are left out: the interval is that of the others alone.
    low, high = stats.widened_intervals(e.replicates[3:, None], np.array([0.5]), 5)
    assert (e.ci_low, e.ci_high) == pytest.approx((low[0], high[0]))
