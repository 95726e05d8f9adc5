"""How db.writer binds values on SQLite: None, bools and bytes have adapters of their own
(one dict hit, not sqlite3's failed protocol lookup), and the rows stored are the same as
without them, value and type, on real dns.query rows from the loopback DNS world."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fragscope.db import migrate
from fragscope.db.connection import make_engine
from fragscope.db.writer import Row, Writer
from fragscope.probes.engine.campaign import load_campaign
from fragscope.probes.engine.planonly import build_policy
from fragscope.probes.engine.shard_runner import ShardRunner
from tests.dns.world import DnsWorld
from tests.fixtures.storage import sample_rows

RUN = "00000000-0000-4000-8000-0000000b1d00"
FAST_TYPES = (type(None), bool, bytes)
"""Types sqlite3 would send through its adaptation protocol without an adapter."""


def test_none_bool_and_bytes_bind_through_registered_adapters() -> None:
    import fragscope.db.writer  # noqa: F401  (registers the adapters)

    for kind in FAST_TYPES:
        assert (kind, sqlite3.PrepareProtocol) in sqlite3.adapters, kind


@contextmanager
def _stock_binding() -> Iterator[None]:
    """sqlite3's own binding of None, bools and bytes (the writer's adapters removed)."""
    saved = {k: sqlite3.adapters.pop((k, sqlite3.PrepareProtocol)) for k in FAST_TYPES}
    try:
        yield
    finally:
        for kind, adapter in saved.items():
            sqlite3.adapters[(kind, sqlite3.PrepareProtocol)] = adapter


def _stored(path: Path, rows: list[Row]) -> dict[str, list[tuple[Any, ...]]]:
    """Write ``rows`` into the database at ``path``; every column of their tables as
    (typeof, quote) pairs, in key order."""
    engine = make_engine(str(path))
    Writer(engine).write(rows)
    engine.dispose()
    con = sqlite3.connect(path)
    try:
        dump: dict[str, list[tuple[Any, ...]]] = {}
        for spec in {spec for spec, _ in rows}:
            cells = ", ".join(f'typeof("{c}"), quote("{c}")' for c in spec.columns)
            dump[spec.name] = con.execute(
                f'SELECT {cells} FROM "{spec.name}" ORDER BY 2, 4'
            ).fetchall()
        return dump
    finally:
        con.close()


def test_dns_rows_are_stored_as_without_the_adapters(dns_world: DnsWorld, tmp_path: Path) -> None:
    base, sample = sample_rows(RUN, n=1)
    (tmp_path / "t.txt").write_text("www.example.test\nnothere.example.test\n")
    campaign = tmp_path / "c.toml"
    campaign.write_text(
        'name = "binding"\n[[targets]]\nfile = "t.txt"\nformat = "lines"\n'
        f'[[endpoints]]\nurl = "{dns_world.urls["udp"]}"\nlabel = "u"\noperator = "op"\n'
        'role = "control"\n'
        '[probes."dns.query"]\nqtypes = ["A", "HTTPS", "TXT"]\n'
        "[limits]\nconcurrency = 8\nrate = 1000\nburst = 8\n"
    )
    rows: list[Row] = []

    class Keep:
        async def put(self, batch: list[Row]) -> None:
            rows.extend(batch)

    c = load_campaign(campaign)
    runner = ShardRunner(
        c, run_id=RUN, vantage_id=sample.vantage_id, sink=Keep(), policy=build_policy(c)
    )
    assert asyncio.run(runner.run()).tasks == 2 * 3
    values = [v for _spec, row in rows for v in row]
    # The rows hold what the adapters are for: flags, empty columns and raw wire.
    assert {bool, type(None), bytes} <= {type(v) for v in values}

    migrated = tmp_path / "migrated.sqlite"
    engine = make_engine(str(migrated))
    migrate.upgrade(engine)
    Writer(engine).write(base)
    engine.dispose()  # checkpointed: the file alone is the database
    shutil.copy(migrated, tmp_path / "stock.sqlite")
    ours = _stored(migrated, rows)
    with _stock_binding():
        stock = _stored(tmp_path / "stock.sqlite", rows)
    assert {"dns_observations", "dns_answers", "tasks_done", "targets"} <= ours.keys()
    assert ours == stock
    assert len(ours["dns_observations"]) == 6
