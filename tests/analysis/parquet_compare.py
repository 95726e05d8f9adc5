"""The comparison behind the Parquet tests: every estimate DuckDB computes over an export
equals the one the SQL database gives (analysis/dataset.py). Reads the database and files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from fragscope.analysis import asn, scope
from fragscope.analysis.compute import compute
from fragscope.analysis.dataset import open_dataset


def estimate_key(e: Any) -> tuple[Any, ...]:
    """Everything a stored value holds: value, n, interval, status, reason, params."""
    return (e.version, e.value, e.n, e.ci_low, e.ci_high, e.status, e.reason, e.params)


def assert_same_estimates(sql_engine: Engine, parquet_dir: Path, round_name: str) -> int:
    """DuckDB over ``parquet_dir`` == the SQL database, estimate by estimate; their count."""
    mapping = asn.load_lab()
    runs = scope.select_runs(sql_engine, round_name=round_name)
    want = compute(sql_engine, runs, mapping=mapping)
    duck = open_dataset(parquet_dir)
    try:
        got = compute(duck, scope.select_runs(duck, round_name=round_name), mapping=mapping)
    finally:
        duck.dispose()
    assert [r.id for r in got.runs] == [r.id for r in want.runs]
    theirs = {(e.run_id, e.code): estimate_key(e) for e in got.estimates}
    mine = {(e.run_id, e.code): estimate_key(e) for e in want.estimates}
    assert theirs == mine
    assert got.pair_tests == want.pair_tests
    assert got.repeat_baselines == want.repeat_baselines
    return len(mine)
