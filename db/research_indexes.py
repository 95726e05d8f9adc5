"""Optional indexes for researchers' ad-hoc queries, added after a campaign. Does I/O.

The hot observation tables carry only indexes whose keys arrive in insertion order (their
primary key aside): an index on ``target`` or ``qname`` takes a random-order B-tree
insertion per row and made the writer several times slower (issue 2, migration 0500).
Built once after a campaign, the same indexes cost one sort. ``fragscope db index``
creates them; ``--drop`` removes them again before the next large campaign.
"""

from __future__ import annotations

from sqlalchemy import Engine, inspect

from fragscope.db.models import Base
from fragscope.db.scope import is_observation

PREFIX = "rx_"
"""Names of research indexes start with this, so they are never mistaken for the schema's."""

EXTRA_COLUMNS: dict[str, tuple[tuple[str, ...], ...]] = {
    "dns_observations": (("qname", "qtype"),),
    "dns_answers": (("name", "rtype"), ("value",)),
}


def research_indexes() -> list[tuple[str, str, tuple[str, ...]]]:
    """(index name, table, columns) of every research index."""
    observation_tables = [t.name for t in Base.metadata.sorted_tables if is_observation(t)]
    wanted: list[tuple[str, tuple[str, ...]]] = [
        (t, ("target",)) for t in sorted(observation_tables)
    ]
    wanted += [(t, cols) for t, many in sorted(EXTRA_COLUMNS.items()) for cols in many]
    return [(f"{PREFIX}{t}_{'_'.join(cols)}", t, cols) for t, cols in wanted]


def create(engine: Engine) -> list[str]:
    """Create the research indexes that are missing; returns the names created."""
    created = []
    existing = _existing(engine)
    with engine.begin() as conn:
        for name, table, cols in research_indexes():
            if name not in existing:
                conn.exec_driver_sql(f'CREATE INDEX "{name}" ON "{table}" ({", ".join(cols)})')
                created.append(name)
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")  # the planner then knows when they pay off
    return created


def drop(engine: Engine) -> list[str]:
    """Drop every research index present; returns the names dropped."""
    existing = _existing(engine)
    dropped = []
    with engine.begin() as conn:
        for name, _table, _cols in research_indexes():
            if name in existing:
                conn.exec_driver_sql(f'DROP INDEX "{name}"')
                dropped.append(name)
    return dropped


def _existing(engine: Engine) -> set[str]:
    insp = inspect(engine)
    return {
        str(ix["name"])
        for table in insp.get_table_names()
        for ix in insp.get_indexes(table)
        if str(ix["name"]).startswith(PREFIX)
    }
