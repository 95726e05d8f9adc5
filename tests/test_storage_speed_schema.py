"""The fast-insert schema (migration 0500), the AsyncWriter's group commit and the
optional research indexes (`fragscope db index`), on real SQLite databases."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import sqlite3
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine, inspect

from fragscope.cli import main
from fragscope.db import migrate, research_indexes
from fragscope.db.connection import make_engine
from fragscope.db.ids import child_id, row_id
from fragscope.db.writer import AsyncWriter, Row, Writer, spec_for
from tests.fixtures.storage import sample_rows

RUN = "0a0b0c0d-0000-4000-8000-000000000500"
T0 = dt.datetime(2026, 11, 29, 1, 0, 0)


def _dns_rows(vid: str, n: int) -> list[Row]:
    """n dns_observations rows with two dns_answers children each."""
    obs, ans = spec_for("dns_observations"), spec_for("dns_answers")
    rows: list[Row] = []
    for i in range(n):
        key = f"dns.query|h{i}.lab.|udp://127.0.0.1:53|A|0"
        oid = row_id(RUN, key, 0)
        rows.append(
            (
                obs,
                obs.row(
                    id=oid,
                    run_id=RUN,
                    vantage_id=vid,
                    task_key=key,
                    attempt=0,
                    probe="dns.query",
                    probe_version=1,
                    target=f"h{i}.lab.",
                    endpoint="udp://127.0.0.1:53",
                    started_at=T0,
                    qname=f"h{i}.lab.",
                    qtype="A",
                    purpose="query",
                    transport="udp",
                    late=False,
                    duplicate=False,
                ),
            )
        )
        for k in range(2):
            rows.append(
                (
                    ans,
                    ans.row(
                        id=child_id(oid, k),
                        observation_id=oid,
                        section="answer",
                        position=k,
                        name=f"h{i}.lab.",
                        rtype="A",
                        ttl=300,
                        value=f"127.0.{i}.{k + 1}",
                    ),
                )
            )
    return rows


def _count(path: Path, table: str) -> int:
    con = sqlite3.connect(path)
    try:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        con.close()


def test_upgrade_to_0500_keeps_children_views_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    engine = make_engine(str(path))
    migrate.upgrade(engine, "0400_drop_run_id_indexes")
    rows, sample = sample_rows(RUN, n=30)
    # indicator_values gained a column after 0400 (0800_indicator_status): the current
    # writer cannot fill the 0400 table, and this test is about the observation tables.
    old = [r for r in rows if r[0].table.name != "indicator_values"]
    Writer(engine).write([*old, *_dns_rows(sample.vantage_id, 12)])
    before = {t: _count(path, t) for t in ("null_observations", "dns_answers", "dns_answers_flat")}
    assert before == {"null_observations": 30, "dns_answers": 24, "dns_answers_flat": 24}

    migrate.upgrade(engine)

    assert migrate.is_at_head(engine)
    # The table copies ran with foreign keys off: no child row was cascade-deleted.
    assert {t: _count(path, t) for t in before} == before
    insp = inspect(engine)
    assert insp.get_unique_constraints("dns_observations") == []
    indexes = {ix["name"] for ix in insp.get_indexes("dns_observations")}
    assert indexes == {"ix_dns_observations_run_id"}
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        # ...and the pooled connection has them on again.
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    engine.dispose()


def test_replay_adds_nothing_through_the_hashed_primary_key(migrated_engine: Engine) -> None:
    rows, sample = sample_rows(RUN, n=20)
    writer = Writer(migrated_engine)
    writer.write(rows)
    dns = _dns_rows(sample.vantage_id, 5)
    writer.write(dns)
    writer.write(dns)  # the same (run_id, task_key, attempt) again: the same ids
    path = Path(str(migrated_engine.url.database))
    assert _count(path, "dns_observations") == 5
    assert _count(path, "dns_answers") == 10


def test_writer_inserts_each_table_in_primary_key_order(migrated_engine: Engine) -> None:
    rows, sample = sample_rows(RUN, n=10)
    Writer(migrated_engine).write(rows)
    dns = _dns_rows(sample.vantage_id, 300)
    random.Random(5).shuffle(dns)  # children before their parents, keys in random order
    Writer(migrated_engine).write(dns)
    path = Path(str(migrated_engine.url.database))
    con = sqlite3.connect(path)
    try:
        for table in ("dns_observations", "dns_answers"):
            ids = [i for (i,) in con.execute(f"SELECT id FROM {table} ORDER BY rowid")]
            # Rowids follow arrival order, so the B-tree saw the keys ascending.
            assert ids == sorted(ids) and len(ids) == {"dns_observations": 300}.get(table, 600)
    finally:
        con.close()


def test_async_writer_coalesces_handovers_while_a_commit_runs(migrated_engine: Engine) -> None:
    rows, sample = sample_rows(RUN, n=10)
    Writer(migrated_engine).write(rows)
    dns = _dns_rows(sample.vantage_id, 2000)  # 6,000 rows

    async def hand_over(sink: AsyncWriter) -> None:
        for i in range(0, len(dns), 300):
            await sink.put(dns[i : i + 300])
        await sink.close()

    grouped = AsyncWriter(Writer(migrated_engine), batch_rows=600)
    asyncio.run(hand_over(grouped))
    # 20 hand-overs; the first batch is written while the others pile up behind it.
    assert grouped.transactions < 20 // 2
    path = Path(str(migrated_engine.url.database))
    assert _count(path, "dns_answers") == 4000

    bounded = AsyncWriter(Writer(migrated_engine), batch_rows=600, max_rows=900)
    asyncio.run(hand_over(bounded))  # the same rows again: nothing added
    # A buffer held to 900 rows cannot take 6,000 rows in fewer than 6,000 / 1,200 commits.
    assert bounded.transactions >= 5
    assert _count(path, "dns_observations") == 2000


def test_db_index_creates_and_drops_the_research_indexes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade", "--db", url]).exit_code == 0
    names = {name for name, _table, _cols in research_indexes.research_indexes()}
    assert "rx_dns_answers_name_rtype" in names and "rx_null_observations_target" in names

    created = runner.invoke(main, ["db", "index", "--db", url])
    assert created.exit_code == 0, created.output
    engine = make_engine(url)
    present = {
        ix["name"]
        for table in inspect(engine).get_table_names()
        for ix in inspect(engine).get_indexes(table)
    }
    assert names <= present
    again = runner.invoke(main, ["db", "index", "--db", url])
    assert "created 0 index(es)" in again.output
    assert migrate.is_at_head(engine)

    dropped = runner.invoke(main, ["db", "index", "--drop", "--db", url])
    assert dropped.exit_code == 0 and f"dropped {len(names)} index(es)" in dropped.output
    left = {
        ix["name"]
        for table in inspect(engine).get_table_names()
        for ix in inspect(engine).get_indexes(table)
    }
    assert not names & left
    engine.dispose()


def test_db_index_refuses_a_database_behind_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    migrate.upgrade(engine, "0400_drop_run_id_indexes")
    engine.dispose()
    result = CliRunner().invoke(main, ["db", "index", "--db", url])
    assert result.exit_code == 2
    assert "--db" in result.output and "db upgrade" in result.output
