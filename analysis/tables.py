"""Which observation tables exist, and light table handles for SQL over them. Reads the schema.

Indicators whose inputs live in tables of other areas (dns_observations, naming_observations)
are written against light ``table()`` handles, so analysis runs on a database whether or not
those tables exist; a missing table means the indicator is withheld with that reason.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Boolean, Connection, Engine, Integer, Select, inspect, select
from sqlalchemy.sql.expression import ColumnClause, TableClause, column, table

_BOOL_COLUMNS = {
    "alt_svc_h3",
    "version_negotiation",
    "has_v1",
    "has_v2",
    "has_grease",
    "flag_ad",
    "depends_on_icann_dns",
    "wildcard",
    "offchain",
}
_INT_COLUMNS = {"ip_version", "port", "answer_count", "attempt", "rcode", "n_values"}


_BATCH = 10_000  # rows per fetchmany: the aggregated result sets are never held whole


def _execute(conn: Connection, stmt: Select[Any] | Any) -> Any:
    """A DBAPI cursor that has run ``stmt``, rendered with literal values (run ids and fixed
    vocabulary strings): SQLAlchemy's per-row result processing would cost more than the
    queries here, whose results are a row per run, target and address."""
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(sql)
    return cursor


def stream_rows(conn: Connection, stmt: Select[Any] | Any) -> Iterator[tuple[Any, ...]]:
    """Rows of a SELECT through the DBAPI cursor, a batch at a time: a whole fetchall would
    hold every row's tuple at once beside the facts built from them."""
    cursor = _execute(conn, stmt)
    try:
        while batch := cursor.fetchmany(_BATCH):
            yield from batch
    finally:
        cursor.close()


def fetch_columns(conn: Connection, stmt: Select[Any] | Any, width: int) -> list[Any]:
    """A SELECT's result as ``width`` columns (one tuple each): for one run's aggregates,
    small enough to hold whole, which the columnar facts then turn into numpy arrays."""
    cursor = _execute(conn, stmt)
    try:
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return list(zip(*rows, strict=True)) if rows else [() for _ in range(width)]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold Python's cyclic garbage collector while loading aggregated rows.

    The loaders create millions of short-lived row tuples, none of them in a reference cycle,
    and each 700 allocations trigger a collection pass that also walks the long-lived
    columns loaded so far: those passes cost a quarter of the loading time in
    bench.indicators. Reference counting still frees everything as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def present_tables(engine: Engine) -> set[str]:
    """Names of the tables (and views) in the database."""
    insp = inspect(engine)
    return set(insp.get_table_names()) | set(insp.get_view_names())


def light(name: str, *columns: str) -> TableClause:
    """A typed-enough handle on a table: booleans and integers where the SQL needs them."""
    cols: list[ColumnClause[object]] = []
    for c in columns:
        if c in _BOOL_COLUMNS:
            cols.append(column(c, Boolean))
        elif c in _INT_COLUMNS:
            cols.append(column(c, Integer))
        else:
            cols.append(column(c))
    return table(name, *cols)


def measured_attempts(
    engine: Engine, name: str, run_ids: list[str], columns: tuple[str, ...], *, required: str
) -> list[Any]:
    """(run_id, *columns) of every attempt in table ``name`` of ``run_ids`` that measured
    (envelope ``failure`` NULL) and has ``required``, oldest attempt first: a reader that
    keys them keeps a retried task's last such attempt."""
    o = light(name, "run_id", *columns, "attempt", "failure")
    query = (
        select(o.c.run_id, *(o.c[c] for c in columns))
        .where(o.c.run_id.in_(run_ids), o.c.failure.is_(None), o.c[required].is_not(None))
        .order_by(o.c.attempt)
    )
    with engine.connect() as conn:
        return list(conn.execute(query))
