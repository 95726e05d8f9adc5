"""A normalised name longer than 255 characters is stored and read back whole.

The name given fits a target list (253 characters, RFC 1035 section 2.3.4), but ENSIP-15
maps U+3392 SQUARE MHZ to "mhz": 90 of them normalise to 274 characters. PostgreSQL
refused such a row while ``naming_observations.name_normalized`` was VARCHAR(255)
(migration 1400_naming_name_width). Nothing is sent: the task has no endpoint, so the row
is an ``invalid_input`` failure that still carries the normalised name.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine, text

from fragscope.db import migrate
from fragscope.db.connection import make_engine
from fragscope.probes.base import Observation, Task
from fragscope.probes.naming.probe import NamingConfig, NamingProbe
from fragscope.probes.naming.store import store

GIVEN = "\u3392" * 90 + ".eth"
NORMALIZED = "mhz" * 90 + ".eth"


def long_name_row() -> Observation:
    probe = NamingProbe(NamingConfig())
    task = Task(key="long", probe=probe.name, target=GIVEN, params={"namespace": "ens"})
    obs = asyncio.run(probe.measure(task))
    assert obs.fields["name_normalized"] == NORMALIZED and len(NORMALIZED) == 274
    return obs


def stored_names(engine: Engine, run_id: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT name, name_normalized FROM naming_observations WHERE run_id = :r"),
            {"r": run_id},
        ).all()
    return [(r[0], r[1]) for r in rows]


def test_a_long_normalised_name_round_trips_on_sqlite_across_the_migration(
    sqlite_url: str,
) -> None:
    # Stored before the migration (SQLite kept it then), then the column is rebuilt
    # under the naming_values_flat view: the row and the view survive.
    engine = make_engine(sqlite_url)
    try:
        migrate.upgrade(engine, "1200_run_leases")
        run_id = store(engine, [("long", long_name_row())], probe="naming.resolve", version=1)
        migrate.upgrade(engine)
        assert stored_names(engine, run_id) == [(GIVEN, NORMALIZED)]
        again = store(engine, [("long", long_name_row())], probe="naming.resolve", version=1)
        assert stored_names(engine, again) == [(GIVEN, NORMALIZED)]
        with engine.connect() as conn:
            conn.execute(text("SELECT name_normalized FROM naming_values_flat")).all()
    finally:
        engine.dispose()


def test_a_long_normalised_name_round_trips_on_postgresql(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        migrate.upgrade(engine)
        run_id = store(engine, [("long", long_name_row())], probe="naming.resolve", version=1)
        assert stored_names(engine, run_id) == [(GIVEN, NORMALIZED)]
        with engine.connect() as conn:
            conn.execute(text("SELECT name_normalized FROM naming_values_flat")).all()
    finally:
        engine.dispose()
