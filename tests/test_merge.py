"""``fragscope db merge``: runs copied by UUID, idempotently, on tables it never named."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, Table, func, select, text

from fragscope.cli import main
from fragscope.db import migrate
from fragscope.db.connection import make_engine
from fragscope.db.merge import MergeError, merge
from fragscope.db.models import Base
from tests.fixtures.storage import EVIDENCE, EXTENDED, write_sample_run

RUN_1 = "9d3e7a10-0001-4bbb-8ccc-0000000000a1"
RUN_2 = "9d3e7a10-0002-4bbb-8ccc-0000000000a2"


def _db(path: Path) -> Engine:
    engine = make_engine(str(path))
    migrate.upgrade(engine)
    EVIDENCE.create(engine, checkfirst=True)
    return engine


def _counts(url: str, tables: list[Table] = EXTENDED.sorted_tables) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in tables
            }
    finally:
        engine.dispose()


@pytest.fixture
def sources(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    ea, eb = _db(a), _db(b)
    write_sample_run(ea, RUN_1, label="clean", hostname="host-a", n=30, evidence=True)
    write_sample_run(eb, RUN_2, label="censored", hostname="host-b", n=20, evidence=True)
    # b also holds RUN_1 as another shard would: the same run, some of the same rows.
    write_sample_run(eb, RUN_1, label="clean", hostname="host-a", n=35, evidence=True)
    ea.dispose()
    eb.dispose()
    return a, b


def test_merge_twice_adds_nothing(sources: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = sources
    into = tmp_path / "all.sqlite"
    _db(into).dispose()  # the test-only child table exists in the target too
    first = merge([str(a), str(b)], str(into), tables=EXTENDED.sorted_tables)
    counts = _counts(str(into))
    assert counts["runs"] == 2 and counts["vantages"] == 2
    assert counts["null_observations"] == 35 + 20  # RUN_1's 30 rows are a subset of its 35
    assert counts["test_evidence"] == 2 * (35 + 20)
    assert counts["tasks_done"] == 35 + 20
    assert counts["indicator_values"] == 4  # deduplicated on (run, vantage, code, version)
    assert first.added[str(a)]["null_observations"] == 30
    assert first.added[str(b)]["null_observations"] == 25
    again = merge([str(a), str(b)], str(into), tables=EXTENDED.sorted_tables)
    assert again.total() == 0
    assert _counts(str(into)) == counts


def test_merge_one_run_creates_the_target(sources: tuple[Path, Path], tmp_path: Path) -> None:
    _a, b = sources
    into = tmp_path / "new" / "only2.sqlite"
    report = merge([str(b)], str(into), run_ids=[RUN_2])
    engine = make_engine(str(into))
    with engine.connect() as conn:
        runs = [r[0] for r in conn.execute(text("SELECT id FROM runs"))]
        n_obs = conn.execute(text("SELECT count(*) FROM null_observations")).scalar_one()
    engine.dispose()
    assert runs == [RUN_2] and n_obs == 20
    assert report.added[str(b)]["tasks_done"] == 20


@pytest.mark.postgres
def test_merge_into_postgresql(sources: tuple[Path, Path], pg_url: str) -> None:
    a, b = sources
    merge([str(a), str(b)], pg_url)
    counts = _counts(pg_url, Base.metadata.sorted_tables)
    assert counts["null_observations"] == 55 and counts["indicator_values"] == 4
    assert merge([str(a), str(b)], pg_url).total() == 0


def test_merge_refuses_sources_not_at_head(sources: tuple[Path, Path], tmp_path: Path) -> None:
    a, _b = sources
    engine = make_engine(str(a))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0500_storage_speed'"))
    engine.dispose()
    into = tmp_path / "all.sqlite"
    result = CliRunner().invoke(main, ["db", "merge", str(a), "--into", str(into)])
    assert result.exit_code == 2
    assert "schema revision 0500_storage_speed, older than" in result.output
    assert f"fragscope db upgrade --db {a}" in result.output
    assert not into.exists()


def test_merge_refuses_missing_and_foreign_files(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = tmp_path / "missing.sqlite"
    result = runner.invoke(main, ["db", "merge", str(missing), "--into", str(tmp_path / "x")])
    assert result.exit_code == 2 and "no such database file" in result.output
    assert not missing.exists()
    empty = tmp_path / "empty.sqlite"
    make_engine(str(empty)).connect().close()
    result = runner.invoke(main, ["db", "merge", str(empty), "--into", str(tmp_path / "x")])
    assert result.exit_code == 2 and "not a fragscope database" in result.output
    with pytest.raises(MergeError, match="cannot also be"):
        merge([str(empty)], str(empty))


def test_merge_cli_reports_rows(sources: tuple[Path, Path], tmp_path: Path) -> None:
    a, _b = sources
    into = tmp_path / "all.sqlite"
    runner = CliRunner()
    result = runner.invoke(main, ["db", "merge", str(a), "--into", str(into)])
    assert result.exit_code == 0, result.output
    assert "null_observations 30" in result.output
    result = runner.invoke(main, ["db", "merge", str(a), "--into", str(into)])
    assert result.exit_code == 0 and "added 0 rows (nothing new)" in result.output
