"""An exported Parquet dataset as a read-only SQLAlchemy engine: DuckDB views named like the
database's tables. Reads files (the export's manifest and Parquet files); writes nothing.

``fragscope db export --format parquet`` (db/export.py) writes each observation table as
``DIR/<table>/round=<round>/vantage=<id>/run-<uuid>.parquet`` and every other table as
``DIR/<table>.parquet``. :func:`open_dataset` gives an engine on an in-memory DuckDB where
each table of fragscope's schema is a view over its files (``read_parquet``), so the
analysis runs its own SQL (analysis/facts.py, naming.py, ...) unchanged on DuckDB: one
formula, two engines (docs/operations.md, "Analysis at scale"). A table the export has no
file for (no rows) is an empty view of the same columns, as the empty table is in the
database, so the same indicators see the same tables present.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, Table, create_engine, event
from sqlalchemy.pool import ConnectionPoolEntry

from fragscope.db.export import column_kind
from fragscope.db.guard import DatabaseUnusable, require_schema
from fragscope.db.scope import tables_in_order

# DuckDB's type for each column kind of db/export.py (the types the Parquet files hold).
_DUCKDB_TYPES = {
    "binary": "BLOB",
    "json": "VARCHAR",
    "datetime": "TIMESTAMP",
    "bool": "BOOLEAN",
    "int": "BIGINT",
    "float": "DOUBLE",
    "text": "VARCHAR",
}


class DatasetError(ValueError):
    """The directory is not a usable Parquet export: the CLI exits 2 with this message."""


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _view(directory: Path, table: Table) -> str:
    """The CREATE VIEW of one table over its files, or over no rows when it has none."""
    name = f'"{table.name}"'
    parts = directory / table.name
    if parts.is_dir() and any(parts.glob("*/*/*.parquet")):
        # hive_partitioning off: round and vantage stay path segments, not extra columns,
        # so the view has exactly the table's columns (vantage_id, run_id are in the rows).
        source = (
            f"read_parquet({_quoted(str(parts / '*' / '*' / '*.parquet'))}, "
            "hive_partitioning = false)"
        )
        return f"CREATE VIEW {name} AS SELECT * FROM {source}"
    single = directory / f"{table.name}.parquet"
    if single.is_file():
        return f"CREATE VIEW {name} AS SELECT * FROM read_parquet({_quoted(str(single))})"
    columns = ", ".join(
        f'CAST(NULL AS {_DUCKDB_TYPES[column_kind(c)]}) AS "{c.name}"' for c in table.columns
    )
    return f"CREATE VIEW {name} AS SELECT {columns} WHERE false"


def manifest_of(directory: Path) -> dict[str, object]:
    """The export's manifest.json, checked: a Parquet export at this code's schema."""
    if not directory.is_dir():
        raise DatasetError(f"--from-parquet: {directory} is not a directory")
    path = directory / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(
            f"--from-parquet: {path} not found: write the dataset with "
            "`fragscope db export --format parquet --output DIR`"
        ) from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"--from-parquet: {path} is unreadable: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "parquet":
        raise DatasetError(f"--from-parquet: {path} is not the manifest of a Parquet export")
    revision = manifest.get("schema_revision")
    try:
        require_schema(revision if isinstance(revision, str) else None, str(directory))
    except DatabaseUnusable as exc:
        raise DatasetError(f"--from-parquet: {exc}") from None
    return manifest


def open_dataset(directory: str | Path) -> Engine:
    """A SQLAlchemy engine over the Parquet export in ``directory`` (DuckDB, in memory).

    Every connection the engine opens gets the views, so the analysis may open several."""
    root = Path(directory).resolve()
    manifest_of(root)
    # No progress bar: DuckDB would draw one on the terminal for a long scan.
    statements = ["SET enable_progress_bar = false", *(_view(root, t) for t in tables_in_order())]
    try:
        import duckdb  # noqa: F401 - the driver duckdb-engine loads
        import duckdb_engine  # noqa: F401
    except ImportError:
        raise DatasetError(
            "--from-parquet needs duckdb and duckdb-engine: pip install 'fragscope[parquet]'"
        ) from None
    engine = create_engine("duckdb:///:memory:")

    @event.listens_for(engine, "connect")
    def _create_views(dbapi_connection: object, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        for statement in statements:
            cursor.execute(statement)
        cursor.close()

    return engine
