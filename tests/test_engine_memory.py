"""Memory flat in the number of targets (issue 22): what a run holds for the database is
bounded, on a real SQLite database whose write lock another connection holds. (The
page cache's bound is checked with the other PRAGMAs in tests/test_storage.py.)"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sqlalchemy import Engine

from fragscope.db.ids import row_id
from fragscope.db.writer import MAX_BUFFERED_ROWS, AsyncWriter, Row, Writer, spec_for
from tests.fixtures.storage import T0, sample_rows

RUN = "00000000-0000-4000-8000-0000000e0022"
HANDOVER = 2000
"""Rows per put: the engine's RowHandOver hands over about this many at a time."""


def _null_rows(vantage: str, n: int) -> list[Row]:
    spec = spec_for("null_observations")
    rows: list[Row] = []
    for i in range(n):
        key = f"engine.null|n{i:07d}.bench.test|-||0"
        values = spec.row(
            id=row_id(RUN, key, 0),
            run_id=RUN,
            vantage_id=vantage,
            task_key=key,
            attempt=0,
            probe="engine.null",
            probe_version=1,
            target=f"n{i:07d}.bench.test",
            started_at=T0,
            duration_ms=0.01,
        )
        rows.append((spec, values))
    return rows


def test_rows_waiting_for_a_busy_database_are_bounded(migrated_engine: Engine) -> None:
    base, sample = sample_rows(RUN, n=1)
    Writer(migrated_engine).write(base)
    # Twice what may wait: a writer without the bound takes them all without waiting.
    rows = _null_rows(sample.vantage_id, 2 * MAX_BUFFERED_ROWS)
    path = Path(str(migrated_engine.url.database))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the database is busy: nothing commits

    async def produce() -> int:
        sink = AsyncWriter(Writer(migrated_engine))
        accepted = 0
        blocked: asyncio.Task[None] | None = None
        for i in range(0, len(rows), HANDOVER):
            put = asyncio.ensure_future(sink.put(rows[i : i + HANDOVER]))
            accepted += HANDOVER
            done, _ = await asyncio.wait({put}, timeout=0.5)
            if not done:
                blocked = put  # back-pressure: the producer waits for the database
                break
        held = accepted
        other.execute("ROLLBACK")
        if blocked is not None:
            await blocked
        for i in range(accepted, len(rows), HANDOVER):
            await sink.put(rows[i : i + HANDOVER])
        await sink.close()
        return held

    held = asyncio.run(produce())
    # One transaction in flight and a buffer of MAX_BUFFERED_ROWS at most; the first
    # group commit let 100,000 more rows pile up behind a busy database.
    assert held <= 5000 + MAX_BUFFERED_ROWS + HANDOVER
    con = sqlite3.connect(path)
    try:
        stored = con.execute(
            "SELECT count(*) FROM null_observations WHERE run_id = ?", (RUN,)
        ).fetchone()[0]
    finally:
        con.close()
    assert stored == len(rows) + 1  # and nothing held was lost (the sample's own row too)
