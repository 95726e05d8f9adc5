"""Upgrades: databases written by earlier fragscope versions migrate to head unchanged.

tests/fixtures/data/v1.sqlite was written at revision "0001" (by make_v1.py beside it),
a4946a4.sqlite by main at commit a4946a4 at its head (make_a4946a4.py); `fragscope db
upgrade` must bring each to head without losing or changing a row.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner

from fragscope.cli import main
from fragscope.db.connection import make_engine
from fragscope.db.migrate import current_revision, heads, is_at_head
from fragscope.db.models import Base

FIXTURE = Path(__file__).parent / "fixtures" / "data" / "v1.sqlite"
V1_TABLES = {
    "vantages": "id",
    "runs": "id",
    "targets": "id",
    "tasks_done": "run_id, task_key",
    "null_observations": "id",
    "indicator_values": "id",
    "vocab_failure": "name",
    "vocab_operation": "name",
    "vocab_path_outcome": "name",
    "vocab_transport": "name",
}


def _snapshot(path: Path, columns: dict[str, list[str]] | None = None) -> dict[str, object]:
    """Every row of the v1 tables, restricted to the v1 columns, in primary-key order."""
    con = sqlite3.connect(path)
    try:
        out: dict[str, object] = {}
        for table, order in V1_TABLES.items():
            cols = (columns or {}).get(table) or [
                r[1] for r in con.execute(f"PRAGMA table_info({table})")
            ]
            select = ", ".join(f'"{c}"' for c in cols)
            out[table] = (
                cols,
                con.execute(f"SELECT {select} FROM {table} ORDER BY {order}").fetchall(),
            )
        return out
    finally:
        con.close()


def test_fixture_is_at_revision_0001(tmp_path: Path) -> None:
    db = tmp_path / "v1.sqlite"  # never open the fixture itself: SQLite may write beside it
    shutil.copyfile(FIXTURE, db)
    engine = make_engine(str(db))
    try:
        assert current_revision(engine) == "0001"
    finally:
        engine.dispose()
    before = _snapshot(db)
    assert len(before["null_observations"][1]) == 10  # type: ignore[index]
    assert len(before["runs"][1]) == 2  # type: ignore[index]


def test_db_upgrade_keeps_every_row(tmp_path: Path) -> None:
    db = tmp_path / "v1.sqlite"
    shutil.copyfile(FIXTURE, db)
    before = _snapshot(db)
    result = CliRunner().invoke(main, ["db", "upgrade", "--db", str(db)])
    assert result.exit_code == 0, result.output
    engine = make_engine(str(db))
    try:
        assert is_at_head(engine), (current_revision(engine), heads())
    finally:
        engine.dispose()
    v1_columns = {t: cols for t, (cols, _rows) in before.items()}  # type: ignore[misc]
    after = _snapshot(db, v1_columns)
    for table, (_cols, rows) in before.items():  # type: ignore[misc]
        after_rows = after[table][1]  # type: ignore[index]
        if table.startswith("vocab_"):
            # Later revisions may add vocabulary values; none may vanish or change.
            assert set(rows) <= set(after_rows), table
        else:
            assert after_rows == rows, table


def test_upgrade_twice_is_a_no_op(tmp_path: Path) -> None:
    db = tmp_path / "v1.sqlite"
    shutil.copyfile(FIXTURE, db)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade", "--db", str(db)]).exit_code == 0
    once = _snapshot(db)
    assert runner.invoke(main, ["db", "upgrade", "--db", str(db)]).exit_code == 0
    assert _snapshot(db) == once


MAIN_A4946A4 = Path(__file__).parent / "fixtures" / "data" / "a4946a4.sqlite"
"""A database as main at a4946a4 wrote it at its head (make_a4946a4.py beside it): before
the models became a package and the migration files were renamed."""


TABLES_AFTER_A4946A4 = {"sni_observations", "sni_attempts", "run_leases"}
TABLES_AFTER_A4946A4 |= {"ech_observations", "ech_attempts", "ech_configs"}
"""Tables later revisions created (0900_sni, 1100_ech, 1200_run_leases;
1000_ens_registry_walk adds a column): the upgrade adds them, empty."""


def _all_rows(
    path: Path, columns: dict[str, list[str]] | None = None
) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in a fixed order: all columns, or those ``columns`` names
    per table (the columns a database had before later revisions added some)."""
    con = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " AND name != 'alembic_version' ORDER BY name"
            )
        ]
        picked = {
            t: ", ".join(f'"{c}"' for c in columns[t]) if columns and t in columns else "*"
            for t in tables
        }
        return {t: sorted(con.execute(f'SELECT {picked[t]} FROM "{t}"'), key=repr) for t in tables}
    finally:
        con.close()


def test_database_of_main_a4946a4_upgrades_and_keeps_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "main.sqlite"
    shutil.copyfile(MAIN_A4946A4, db)
    before = _all_rows(db)
    # the fixture has every table of its time...
    assert set(before) == set(Base.metadata.tables) - TABLES_AFTER_A4946A4
    assert all(before.values())  # ...and rows in each
    result = CliRunner().invoke(main, ["db", "upgrade", "--db", str(db)])
    assert result.exit_code == 0, result.output
    engine = make_engine(str(db))
    try:
        assert is_at_head(engine), (current_revision(engine), heads())
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    finally:
        engine.dispose()
    # Later revisions add columns (0800: indicator_values.status): compare the old ones.
    after = _all_rows(db, _columns(MAIN_A4946A4))
    for table, rows in before.items():
        if table.startswith("vocab_"):
            assert set(rows) <= set(after[table]), table
        else:
            assert after[table] == rows, table


def _columns(path: Path) -> dict[str, list[str]]:
    """Each table's column names, in order."""
    con = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: [r[1] for r in con.execute(f'PRAGMA table_info("{t}")')] for t in tables}
    finally:
        con.close()
