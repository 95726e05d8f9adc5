"""``fragscope db export``: every table to CSV, JSON lines or Parquet. Does I/O.

Observation tables and their child tables are partitioned by round and vantage, one file per
run (``DIR/<table>/round=<round>/vantage=<id>/run-<uuid>.<ext>``, hive style, as DuckDB and
Spark read them; a run without a round goes under ``round=__HIVE_DEFAULT_PARTITION__``,
Hive's name for a NULL key); the other tables go to ``DIR/<table>.<ext>``. ``--round``
exports one round's runs (and the shared tables), as ``--run`` exports one run. Rows stream
from the database in chunks; no table is ever held in memory. BLOBs are hex in CSV, base64
in JSON lines and binary in Parquet; JSON columns are JSON text in CSV and Parquet and
nested in JSON lines; times are ISO 8601 UTC without offset. ``DIR/manifest.json`` lists
every file with its row count. Files are written under a temporary name and renamed, so a
re-export replaces them.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    Table,
    select,
)

from fragscope.db import migrate
from fragscope.db.guard import engine_label, require_schema
from fragscope.db.scope import Scope, scope_of, select_rows, tables_in_order

FORMATS = ("csv", "jsonl", "parquet")
CHUNK_ROWS = 10_000


class ExportError(ValueError):
    """The export cannot start (unknown format, missing run, database behind head)."""


# --- value conversion, decided once per column -----------------------------------------


def column_kind(column: Column[Any]) -> str:
    """How a column's values are written: binary, json, datetime, bool, int, float, text
    (analysis/dataset.py types an empty table's view by it)."""
    t = column.type
    if isinstance(t, LargeBinary):
        return "binary"
    if isinstance(t, JSON):
        return "json"
    if isinstance(t, DateTime):
        return "datetime"
    if isinstance(t, Boolean):
        return "bool"
    if isinstance(t, Integer):
        return "int"
    if isinstance(t, Float | Numeric):
        return "float"
    return "text"


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(sep=" ", timespec="microseconds")


def _json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _converter(kind: str, fmt: str) -> Callable[[Any], Any] | None:
    """A function for non-NULL values of one column in one format; None = unchanged."""
    if kind == "binary":
        if fmt == "csv":
            return lambda v: bytes(v).hex()
        if fmt == "jsonl":
            return lambda v: base64.b64encode(bytes(v)).decode("ascii")
        return bytes
    if kind == "datetime":
        return None if fmt == "parquet" else _iso
    if kind == "json":
        return None if fmt == "jsonl" else _json_text
    return None


# --- sinks ------------------------------------------------------------------------------


class _Sink(Protocol):
    def write(self, rows: Sequence[Sequence[Any]]) -> None: ...
    def close(self) -> None: ...


class _CsvSink:
    def __init__(self, path: Path, columns: Sequence[Column[Any]]) -> None:
        self.fh = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115 - closed by close()
        self.out = csv.writer(self.fh)
        self.out.writerow([c.name for c in columns])

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        # csv writes None as an empty field: NULL and '' are indistinguishable in CSV.
        self.out.writerows(rows)

    def close(self) -> None:
        self.fh.close()


class _JsonlSink:
    def __init__(self, path: Path, columns: Sequence[Column[Any]]) -> None:
        self.fh = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.names = [c.name for c in columns]

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        names = self.names
        self.fh.writelines(
            json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False) + "\n"
            for row in rows
        )

    def close(self) -> None:
        self.fh.close()


class _ParquetSink:
    def __init__(self, path: Path, columns: Sequence[Column[Any]]) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:  # pragma: no cover - pyarrow is in dev
            raise ExportError(
                "--format parquet needs pyarrow: pip install 'fragscope[parquet]'"
            ) from exc
        types = {
            "binary": pa.binary(),
            "json": pa.string(),
            "datetime": pa.timestamp("us"),
            "bool": pa.bool_(),
            "int": pa.int64(),
            "float": pa.float64(),
            "text": pa.string(),
        }
        self.pa = pa
        self.schema = pa.schema(
            [
                pa.field(c.name, types[column_kind(c)], nullable=bool(c.nullable), metadata=_doc(c))
                for c in columns
            ]
        )
        self.out = pq.ParquetWriter(path, self.schema, compression="zstd")

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        arrays = [
            self.pa.array([row[i] for row in rows], type=field.type)
            for i, field in enumerate(self.schema)
        ]
        self.out.write_table(self.pa.Table.from_arrays(arrays, schema=self.schema))

    def close(self) -> None:
        self.out.close()


def _doc(column: Column[Any]) -> dict[bytes, bytes] | None:
    return {b"description": column.doc.encode()} if column.doc else None


_SINKS: dict[str, Callable[[Path, Sequence[Column[Any]]], _Sink]] = {
    "csv": _CsvSink,
    "jsonl": _JsonlSink,
    "parquet": _ParquetSink,
}


# --- the export ---------------------------------------------------------------------------


def _converted(
    chunks: Iterator[Sequence[Sequence[Any]]], converters: list[Callable[[Any], Any] | None]
) -> Iterator[list[tuple[Any, ...]]]:
    active = [(i, f) for i, f in enumerate(converters) if f is not None]
    for chunk in chunks:
        if not active:
            yield [tuple(r) for r in chunk]
            continue
        out = []
        for row in chunk:
            values = list(row)
            for i, f in active:
                if values[i] is not None:
                    values[i] = f(values[i])
            out.append(tuple(values))
        yield out


def _write_file(
    path: Path,
    *,
    fmt: str,
    columns: Sequence[Column[Any]],
    chunks: Iterator[Sequence[Sequence[Any]]],
) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    converters = [_converter(column_kind(c), fmt) for c in columns]
    sink = _SINKS[fmt](tmp, columns)
    count = 0
    try:
        for chunk in _converted(chunks, converters):
            sink.write(chunk)
            count += len(chunk)
    finally:
        sink.close()
    os.replace(tmp, path)
    return count


def write_rows(
    path: Path, table: Table, rows: Iterator[Sequence[Any]], *, fmt: str = "parquet"
) -> int:
    """``rows`` (tuples in ``table``'s column order) to one file as the export writes it;
    for data made without a database (bench._parquet_synthetic). Returns the rows."""

    def chunks() -> Iterator[list[Sequence[Any]]]:
        chunk: list[Sequence[Any]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) >= CHUNK_ROWS:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    return _write_file(path, fmt=fmt, columns=list(table.columns), chunks=chunks())


def _stream(conn: Connection, stmt: Any) -> Iterator[Sequence[Sequence[Any]]]:
    result = conn.execution_options(yield_per=CHUNK_ROWS).execute(stmt)
    yield from result.partitions()


# Hive's partition value for a NULL key (a run outside any round).
NO_ROUND = "__HIVE_DEFAULT_PARTITION__"


def _partitions(conn: Connection, scope: Scope, run_ids: Sequence[str] | None) -> list[Any]:
    owner = scope.owner
    stmt = (
        scope.select(run_ids=run_ids)
        .with_only_columns(owner.c.run_id, owner.c.vantage_id)
        .distinct()
        .order_by(owner.c.run_id, owner.c.vantage_id)
    )
    return list(conn.execute(stmt))


def _partition_dir(round_name: str | None, vantage: str) -> str:
    """``round=<round>/vantage=<id>``, the round percent-quoted as Hive quotes a key."""
    value = NO_ROUND if round_name is None else quote(round_name, safe="")
    return f"round={value}/vantage={vantage}"


def _scope_runs(
    conn: Connection, runs: Table, run_id: str | None, round_name: str | None
) -> tuple[list[str] | None, dict[str, str | None]]:
    """The run ids to export (None: all) and every run's round; ExportError naming the
    option when ``--run`` or ``--round`` matches no run."""
    rounds: dict[str, str | None] = dict(conn.execute(select(runs.c.id, runs.c["round"])).all())
    if run_id is not None:
        if run_id not in rounds:
            raise ExportError(f"--run: no run {run_id} in the database")
        return [run_id], rounds
    if round_name is not None:
        chosen = sorted(r for r, name in rounds.items() if name == round_name)
        if not chosen:
            known = sorted({n for n in rounds.values() if n is not None})
            raise ExportError(f"--round: no round {round_name!r} in the database (known: {known})")
        return chosen, rounds
    return None, rounds


def export(
    engine: Engine,
    out_dir: str | os.PathLike[str],
    *,
    fmt: str,
    run_id: str | None = None,
    round_name: str | None = None,
    tables: Sequence[Table] | None = None,
) -> dict[str, int]:
    """Export every table (parents first; ``tables`` overrides fragscope's metadata), of
    one run or one round when given.

    Returns {relative path: rows}, also written to manifest.json.
    """
    tables = list(tables) if tables is not None else tables_in_order()
    if fmt not in FORMATS:
        raise ExportError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    revision = migrate.current_revision(engine)
    require_schema(revision, engine_label(engine))
    if run_id is not None and round_name is not None:
        raise ExportError("--run and --round: give one of them")
    out = Path(out_dir)
    files: dict[str, int] = {}
    with engine.connect() as conn:
        runs = next(t for t in tables if t.name == "runs")
        run_ids, rounds = _scope_runs(conn, runs, run_id, round_name)
        for table in tables:
            columns = list(table.columns)
            scope = scope_of(table)
            if scope is not None and scope.partitioned:
                for run, vantage in _partitions(conn, scope, run_ids):
                    stmt = scope.select().where(
                        scope.owner.c.run_id == run, scope.owner.c.vantage_id == vantage
                    )
                    where = _partition_dir(rounds.get(run), vantage)
                    rel = f"{table.name}/{where}/run-{run}.{fmt}"
                    files[rel] = _write_file(
                        out / rel,
                        fmt=fmt,
                        columns=columns,
                        chunks=_stream(conn, stmt.order_by(*table.primary_key.columns)),
                    )
            else:
                rel = f"{table.name}.{fmt}"
                files[rel] = _write_file(
                    out / rel,
                    fmt=fmt,
                    columns=columns,
                    chunks=_stream(conn, select_rows(table, run_ids=run_ids)),
                )
    manifest = {
        "format": fmt,
        "schema_revision": revision,
        "run": run_id,
        "round": round_name,
        "files": dict(sorted(files.items())),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return files
