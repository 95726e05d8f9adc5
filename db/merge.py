"""``fragscope db merge``: copy runs from several databases into one, idempotently. Does I/O.

Runs are identified by their UUID and rows by client-assigned ids, so copying is an insert
that ignores rows already present (ON CONFLICT DO NOTHING): merging the same source twice,
or two shard databases of one run, adds each row once. Tables are taken from the metadata
in dependency order (parents first), so probe tables added later merge without code here.
Tables whose id the database assigns (``indicator_values``) are deduplicated on a natural
key instead, listed in :data:`NATURAL_KEYS`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite

from fragscope.db import migrate
from fragscope.db.connection import resolve_url, sqlite_path
from fragscope.db.guard import DatabaseUnusable, open_database
from fragscope.db.scope import select_rows, tables_in_order

CHUNK_ROWS = 5_000

NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "indicator_values": ("run_id", "vantage_id", "code", "version"),
}
"""Tables with a database-assigned id -> the columns that identify a row across databases."""


class MergeError(ValueError):
    """A source cannot be merged (not a fragscope database, not at head, same as target)."""


@dataclass
class MergeReport:
    """Rows added per table, per source (0 everywhere on a repeated merge)."""

    added: dict[str, dict[str, int]] = field(default_factory=dict)

    def total(self) -> int:
        return sum(n for per_table in self.added.values() for n in per_table.values())


def _label(url: str) -> str:
    return sqlite_path(url) or url


def _has_autoincrement_id(table: Table) -> bool:
    return table.autoincrement_column is not None


def _insert_ignore(table: Table, dialect: str) -> Any:
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    raise MergeError(f"--into: merging into {dialect} is not supported (sqlite, postgresql)")


def _count(conn: Any, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _copy_table(
    src: Any, dst: Any, table: Table, *, run_ids: Sequence[str] | None, dialect: str
) -> None:
    stmt = select_rows(table, run_ids=run_ids)
    names = [c.name for c in table.columns]
    natural = NATURAL_KEYS.get(table.name)
    if natural is None and _has_autoincrement_id(table):
        raise MergeError(
            f"{table.name}: its id is assigned by the database; add its natural key to "
            "db.merge.NATURAL_KEYS"
        )
    seen: set[tuple[Any, ...]] = set()
    if natural is not None:
        seen = {tuple(r) for r in dst.execute(select(*(table.c[k] for k in natural)))}
        pk = {c.name for c in table.primary_key.columns}
        names_out = [n for n in names if n not in pk]
        insert = table.insert()
    else:
        names_out = names
        insert = _insert_ignore(table, dialect)
    result = src.execution_options(yield_per=CHUNK_ROWS).execute(stmt)
    for part in result.partitions():
        batch = []
        for row in part:
            values = dict(zip(names, row, strict=True))
            if natural is not None:
                key = tuple(values[k] for k in natural)
                if key in seen:
                    continue
                values = {n: values[n] for n in names_out}
            batch.append(values)
        if batch:
            dst.execute(insert, batch)


def merge(
    sources: Sequence[str],
    into: str,
    *,
    run_ids: Sequence[str] | None = None,
    tables: Sequence[Table] | None = None,
) -> MergeReport:
    """Copy every run (or the given runs) of each source into ``into``, creating it if needed.

    ``tables`` (parents first) overrides fragscope's metadata, for tables outside it.
    """
    tables = list(tables) if tables is not None else tables_in_order()
    target_url = resolve_url(into)
    target_label = _label(target_url)
    source_urls = [resolve_url(s) for s in sources]
    for url in source_urls:
        path = sqlite_path(url)
        if path is not None and not os.path.exists(path):
            raise MergeError(f"{path}: no such database file")
        if _label(url) == target_label:
            raise MergeError(f"{target_label}: a source cannot also be the --into database")
    engines: list[Engine] = []
    try:
        # Sources must be at this fragscope's schema; the target is created or upgraded.
        engines.extend(open_database(url) for url in source_urls)
        dest = open_database(target_url, writes=True, creates=True, accepts_older=True)
    except DatabaseUnusable:
        for engine in engines:
            engine.dispose()
        raise
    report = MergeReport()
    try:
        migrate.upgrade(dest)
        dialect = dest.dialect.name
        for engine, url in zip(engines, source_urls, strict=True):
            added: dict[str, int] = {}
            # One transaction per source: a failed merge leaves the target as it was.
            with engine.connect() as src, dest.begin() as dst:
                for table in tables:
                    before = _count(dst, table)
                    _copy_table(src, dst, table, run_ids=run_ids, dialect=dialect)
                    added[table.name] = _count(dst, table) - before
            report.added[_label(url)] = added
    finally:
        for engine in [*engines, dest]:
            engine.dispose()
    return report
