"""`fragscope db export --format parquet` then `indicators compute --from-parquet`: DuckDB
over the exported files gives every value the SQLite path gives (analysis/dataset.py), and
bad input exits 2 naming the option."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from fragscope.analysis.dataset import open_dataset
from fragscope.analysis.registry import REGISTRY
from fragscope.cli import main
from fragscope.db.export import export
from tests.analysis.parquet_compare import assert_same_estimates
from tests.fixtures.analysis import World
from tests.fixtures.reports import WORLDS

pytestmark = pytest.mark.xdist_group("parquet")


@pytest.fixture
def vantages_world(tmp_path: Path) -> Iterator[tuple[World, Path]]:
    """The reports' several-vantages world (3 vantages, DNS, naming, transport, handshake
    verdicts) in SQLite, and its round exported as Parquet through the CLI."""
    db = tmp_path / "world.sqlite"
    w, _where = WORLDS["several_vantages"](f"sqlite:///{db}")
    out = tmp_path / "parquet"
    result = CliRunner().invoke(
        main,
        ["db", "export", "--db", str(db), "--format", "parquet", "--output", str(out),
         "--round", "r1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    try:
        yield w, out
    finally:
        w.engine.dispose()


def test_duckdb_over_parquet_equals_sqlite(vantages_world: tuple[World, Path]) -> None:
    w, out = vantages_world
    # Partitioned table / round / vantage, one file per run; shared tables whole.
    tls = out / "tls_observations"
    parts = sorted(p.relative_to(tls) for p in tls.rglob("*.parquet"))
    assert [p.parts[0] for p in parts] == ["round=r1"] * len(w.runs)
    assert {p.parts[1] for p in parts} == {f"vantage={v}" for v in _vantage_ids(w)}
    assert (out / "runs.parquet").is_file()
    values = assert_same_estimates(w.engine, out, "r1")
    assert values == len(REGISTRY) * len(w.runs)  # every indicator of every vantage


def test_cli_from_parquet_json_equals_db(vantages_world: tuple[World, Path]) -> None:
    w, out = vantages_world
    runner = CliRunner()
    common = ["indicators", "compute", "--round", "r1", "--asn-map", "lab", "--format", "json"]
    db = w.engine.url.database
    assert db is not None
    from_db = runner.invoke(main, [*common, "--db", db, "--no-store"])
    from_parquet = runner.invoke(main, [*common, "--from-parquet", str(out)])
    assert from_db.exit_code == 0 and from_parquet.exit_code == 0, from_parquet.output
    got = json.loads(from_parquet.output)
    assert got == json.loads(from_db.output)
    assert {v["vantage"] for v in got} == {"clean", "censored", "lossy"}
    assert any(v["value"] is not None for v in got)


def _vantage_ids(w: World) -> set[str]:
    from sqlalchemy import text

    with w.engine.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT vantage_id FROM runs"))}


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the reports' one-run world (one.sqlite) and its export (pq/)."""
    root = tmp_path_factory.mktemp("one-run")
    w, _ = WORLDS["one_run"](f"sqlite:///{root / 'one.sqlite'}")
    try:
        export(w.engine, root / "pq", fmt="parquet")
    finally:
        w.engine.dispose()
    return root


def test_empty_table_is_present_and_empty(one_run: Path) -> None:
    """A table without rows has no file; its view still exists, with the table's columns,
    so the same indicators see it present (and empty) as on the database."""
    assert not (one_run / "pq" / "dns_iterative_steps").exists()
    duck = open_dataset(one_run / "pq")
    try:
        with duck.connect() as conn:
            rows = conn.exec_driver_sql("SELECT * FROM dns_iterative_steps").fetchall()
            cols = conn.exec_driver_sql("DESCRIBE dns_iterative_steps").fetchall()
    finally:
        duck.dispose()
    assert rows == []
    assert "observation_id" in {c[0] for c in cols}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from-parquet", "{tmp}/nope"], "--from-parquet: {tmp}/nope is not a directory"),
        (["--from-parquet", "{tmp}"], "--from-parquet: {tmp}/manifest.json not found"),
        (["--from-parquet", "{tmp}/pq", "--round", "zz"], "--round 'zz': no such round"),
        (["--from-parquet", "{tmp}/pq", "--db", "x.sqlite"], "--from-parquet and --db"),
    ],
)
def test_from_parquet_bad_input_exits_2(one_run: Path, args: list[str], message: str) -> None:
    argv = [a.replace("{tmp}", str(one_run)) for a in args]
    result = CliRunner().invoke(main, ["indicators", "compute", *argv])
    assert result.exit_code == 2
    assert message.replace("{tmp}", str(one_run)) in result.output


def test_export_unknown_round_exits_2(one_run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["db", "export", "--db", str(one_run / "one.sqlite"), "--format", "parquet",
         "--output", str(tmp_path / "o"), "--round", "zz"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--round: no round 'zz' in the database (known: ['r1'])" in result.output
    assert not (tmp_path / "o" / "manifest.json").exists()
