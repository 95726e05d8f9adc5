"""``fragscope db export``: every format read back and compared with the database."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, Table, select, text

import fragscope.db.export as db_export
from fragscope.cli import main
from fragscope.db import migrate
from fragscope.db.connection import make_engine
from fragscope.db.export import ExportError, export
from tests.fixtures.storage import EVIDENCE, EXTENDED, write_sample_run

RUN_A = "0a7c2f5e-1111-4a4a-8b8b-000000000001"
RUN_B = "0a7c2f5e-2222-4a4a-8b8b-000000000002"


def _populate(url: str) -> Engine:
    engine = make_engine(url)
    migrate.upgrade(engine)
    EVIDENCE.create(engine)
    write_sample_run(engine, RUN_A, label="clean", hostname="host-a", evidence=True)
    write_sample_run(engine, RUN_B, label="censored", hostname="host-b", n=25, evidence=True)
    return engine


@pytest.fixture
def populated(sqlite_url: str) -> Engine:
    engine = _populate(sqlite_url)
    yield engine  # type: ignore[misc]
    engine.dispose()


@pytest.fixture
def populated_any(any_db_url: str) -> Engine:
    """The same data on SQLite and on PostgreSQL."""
    engine = _populate(any_db_url)
    yield engine  # type: ignore[misc]
    engine.dispose()


def _db_rows(engine: Engine, table: Table, where: Any = None) -> list[dict[str, Any]]:
    stmt = select(table)
    if where is not None:
        stmt = stmt.where(where)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt.order_by(*table.primary_key))]


def _read(path: Path, fmt: str, table: Table) -> list[dict[str, Any]]:
    """Read one exported file back into Python values of the table's types."""
    kinds = {c.name: db_export.column_kind(c) for c in table.columns}
    if fmt == "parquet":
        import pyarrow.parquet as pq

        rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
        for row in rows:  # JSON columns are JSON text in Parquet
            for name, kind in kinds.items():
                if kind == "json" and row[name] is not None:
                    row[name] = json.loads(row[name])
        return rows
    out = []
    if fmt == "csv":
        with open(path, newline="", encoding="utf-8") as fh:
            records: list[dict[str, Any]] = list(csv.DictReader(fh))
    else:
        with open(path, encoding="utf-8") as fh:
            records = [json.loads(line) for line in fh]
    for rec in records:
        row: dict[str, Any] = {}
        for name, raw in rec.items():
            kind = kinds[name]
            if raw is None or (fmt == "csv" and raw == ""):
                row[name] = None
            elif kind == "binary":
                row[name] = bytes.fromhex(raw) if fmt == "csv" else base64.b64decode(raw)
            elif kind == "datetime":
                row[name] = dt.datetime.fromisoformat(raw)
            elif kind == "json" and fmt == "csv":
                row[name] = json.loads(raw)
            elif fmt == "csv" and kind == "int":
                row[name] = int(raw)
            elif fmt == "csv" and kind == "float":
                row[name] = float(raw)
            else:
                row[name] = raw
        out.append(row)
    return out


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_export_round_trip(populated_any: Engine, tmp_path: Path, fmt: str) -> None:
    populated = populated_any
    out = tmp_path / "export"
    files = export(populated, out, fmt=fmt, tables=EXTENDED.sorted_tables)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["files"] == files and manifest["format"] == fmt

    obs = EXTENDED.tables["null_observations"]
    partitions = {}
    for run, label, host in ((RUN_A, "clean", "host-a"), (RUN_B, "censored", "host-b")):
        vantage = next(
            r["id"]
            for r in _db_rows(populated, EXTENDED.tables["vantages"])
            if r["label"] == label and r["hostname"] == host
        )
        partitions[run] = vantage
        part = f"round=r-1/vantage={vantage}/run-{run}.{fmt}"
        got = _read(out / "null_observations" / part, fmt, obs)
        assert got == _db_rows(populated, obs, obs.c.run_id == run)
        # A child table without run_id is partitioned through its parent.
        want = [
            r
            for r in _db_rows(populated, EVIDENCE)
            if r["observation_id"] in {o["id"] for o in got}
        ]
        assert _read(out / "test_evidence" / part, fmt, EVIDENCE) == want
        assert any(r["wire"] and r["wire"][-3:] == b'\n,"' for r in want)
    # Shared tables: one file each, every row.
    for name in ("runs", "vantages", "targets", "tasks_done", "vocab_failure"):
        table = EXTENDED.tables[name]
        assert _read(out / f"{name}.{fmt}", fmt, table) == _db_rows(populated, table), name
    ind = EXTENDED.tables["indicator_values"]
    assert len(_read(out / f"indicator_values.{fmt}", fmt, ind)) == 4
    assert sum(n for f, n in files.items() if f.startswith("null_observations/")) == 65
    assert not list(out.rglob("*.partial"))


def test_export_one_run(populated: Engine, tmp_path: Path) -> None:
    files = export(populated, tmp_path, fmt="jsonl", run_id=RUN_B, tables=EXTENDED.sorted_tables)
    assert files["runs.jsonl"] == 1
    assert files["tasks_done.jsonl"] == 25
    assert {f.split("/")[3] for f in files if "/" in f} == {f"run-{RUN_B}.jsonl"}
    assert sum(n for f, n in files.items() if f.startswith("test_evidence/")) == 50


def test_parquet_streams_in_chunks(
    populated: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    monkeypatch.setattr(db_export, "CHUNK_ROWS", 7)
    files = export(populated, tmp_path, fmt="parquet", run_id=RUN_A)
    (path,) = [f for f in files if f.startswith("null_observations/")]
    meta = pq.ParquetFile(tmp_path / path).metadata
    assert meta.num_rows == 40
    assert meta.num_row_groups == 6  # one per chunk of 7 rows: never the whole table at once


def test_export_refuses_bad_input(populated: Engine, sqlite_url: str, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="--format"):
        export(populated, tmp_path, fmt="xml")
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "db",
            "export",
            "--db",
            sqlite_url,
            "--format",
            "csv",
            "--out",
            str(tmp_path / "o"),
            "--run",
            "no-such-run",
        ],
    )
    assert result.exit_code == 2 and "--run: no run no-such-run" in result.output
    with populated.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0500_storage_speed'"))
    result = runner.invoke(
        main, ["db", "export", "--db", sqlite_url, "--format", "csv", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "fragscope db upgrade" in result.output


def test_export_cli(populated: Engine, sqlite_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["db", "export", "--db", sqlite_url, "--format", "csv", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runs.csv").read_text().count("\n") == 3  # header and two runs
    assert len(list((tmp_path / "null_observations").glob("round=r-1/vantage=*/run-*.csv"))) == 2
