"""The same SQL on PostgreSQL: every indicator value and interval equals SQLite's.

Uses the storage area's PostgreSQL session fixture (``pg_url``, tests/fixtures/postgres.py)
when it is present; checked by hand against a scratch PostgreSQL before that fixture merged.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fragscope.analysis import asn, compute, scope, summary
from tests.fixtures.analysis import STANDARD_PLANTS, add_dns_world, build_world


def _values(url: str) -> dict[tuple[str, str], tuple[object, ...]]:
    w = build_world(url, STANDARD_PLANTS, extra=lambda e, r: add_dns_world(e, r, "censored"))
    runs = scope.select_runs(w.engine, round_name="r1")
    c = compute.compute(w.engine, runs, mapping=asn.load_lab())
    compute.store(w.engine, c)
    summary.build(w.engine, c, everyone=scope.all_runs(w.engine)).to_json()
    w.engine.dispose()
    return {(e.run_id, e.code): (e.value, e.n, e.ci_low, e.ci_high) for e in c.estimates}


@pytest.mark.postgres
def test_postgres_equals_sqlite(pg_url: str, tmp_path: Path) -> None:
    assert _values(pg_url) == _values(f"sqlite:///{tmp_path / 'same.sqlite'}")
