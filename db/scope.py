"""Which run (and vantage) a row belongs to, for any table in the metadata. No I/O.

Export and merge work table-generically, so probe tables added later need no code here:
a table with ``run_id`` belongs to that run; a child table belongs to the run of the row its
foreign key to ``<parent>.id`` points at (followed as far as needed); other tables (vantages,
vocabularies) are shared by every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Column, Select, Table, select

from fragscope.db.models import Base

ENVELOPE_KEYS = ("run_id", "vantage_id", "task_key", "attempt")


@dataclass(frozen=True)
class Scope:
    """How to reach the columns that place a table's rows in a run.

    ``joins`` lists (column of the child, primary key of its parent), from ``table`` up to
    ``owner``, the table that has ``run_id`` (and, for observations, ``vantage_id``).
    """

    table: Table
    owner: Table
    joins: tuple[tuple[Column[object], Column[object]], ...]
    run_key: str = "run_id"

    @property
    def partitioned(self) -> bool:
        """True for observation tables and their children: partitioned by run and vantage."""
        return is_observation(self.owner)

    def run_column(self) -> Column[object]:
        return self.owner.c[self.run_key]

    def select(self, *, run_ids: Sequence[str] | None = None) -> Select[tuple[object, ...]]:
        """The table's own columns, joined up to the owner, optionally limited to runs."""
        stmt = select(*self.table.columns)
        current = self.table
        for child_col, parent_col in self.joins:
            stmt = stmt.join_from(current, parent_col.table, child_col == parent_col)
            current = parent_col.table
        if run_ids is not None:
            stmt = stmt.where(self.run_column().in_(list(run_ids)))
        return stmt


def is_observation(table: Table) -> bool:
    """A table with the envelope (ObservationMixin)."""
    return all(k in table.c for k in ENVELOPE_KEYS)


def observation_tables() -> tuple[str, ...]:
    """Names of every observation table (with the envelope), in the models' definition
    order: ``null_observations`` (db.models.core) first, then the probe areas' tables."""
    return tuple(t.name for t in Base.metadata.tables.values() if is_observation(t))


def scope_of(table: Table) -> Scope | None:
    """The run scope of ``table`` (``runs`` is scoped by its own id), or None when its rows
    are shared by all runs (vantages, vocabularies)."""
    return _scope(table, seen=frozenset())


def _scope(table: Table, *, seen: frozenset[str]) -> Scope | None:
    if "run_id" in table.c:
        return Scope(table=table, owner=table, joins=())
    if table.name == "runs":
        return Scope(table=table, owner=table, joins=(), run_key="id")
    # Follow foreign keys to a parent's primary key ``id`` (child_of), in column order.
    for column in table.columns:
        for fk in sorted(column.foreign_keys, key=lambda f: f.target_fullname):
            parent = fk.column.table
            if fk.column.name != "id" or parent.name in seen or parent is table:
                continue
            upper = _scope(parent, seen=seen | {table.name})
            if upper is not None:
                return Scope(
                    table=table,
                    owner=upper.owner,
                    joins=((column, fk.column), *upper.joins),
                )
    return None


def select_rows(
    table: Table, *, run_ids: Sequence[str] | None = None
) -> Select[tuple[object, ...]]:
    """Every row of ``table`` (of the given runs, if any), in primary-key order."""
    scope = scope_of(table)
    stmt = scope.select(run_ids=run_ids) if scope else select(*table.columns)
    return stmt.order_by(*table.primary_key.columns)


def tables_in_order() -> list[Table]:
    """Every table, parents before children (foreign keys hold while copying in order)."""
    return list(Base.metadata.sorted_tables)
