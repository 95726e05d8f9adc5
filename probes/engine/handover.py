"""Handing finished tasks' rows to the sink: a buffer, one hand-over at a time, a
periodic commit. No I/O itself (the sink does it).

Workers that fill the buffer while a hand-over is in progress wait for it instead of
growing the buffer: that is the back-pressure that keeps memory flat when the database is
slower than the probes.
"""

from __future__ import annotations

import asyncio

from fragscope.db.writer import Row
from fragscope.probes.engine.state import Sink

FLUSH_INTERVAL_S = 1.0
"""Finished tasks reach the database at most this long after they finish (plus a commit)."""


class RowHandOver:
    """The rows of finished tasks on their way to ``sink``."""

    def __init__(self, sink: Sink, *, flush_rows: int) -> None:
        self.sink = sink
        self.rows: list[Row] = []
        """Rows not handed over yet. Callers extend it in place and never keep a local
        name for it: a worker parked in flush must not pin a list that has already been
        handed over (64 parked workers = 64 stale batches)."""
        self.flush_rows = flush_rows
        self._high_water = 4 * flush_rows
        self._flushing: asyncio.Future[None] | None = None
        """The hand-over to the sink in progress, if any."""

    async def flush_if_full(self) -> None:
        # Start a hand-over at flush_rows; while one is in progress keep filling up to
        # the high-water mark before waiting, so a hand-over does not park every worker.
        n = len(self.rows)
        if n >= self.flush_rows and (self._flushing is None or n >= self._high_water):
            await self.flush()

    async def flush_periodically(self) -> None:
        # A slow, polite campaign fills batches slowly: commit at least every
        # FLUSH_INTERVAL_S, so finished work is durable (and visible) soon after.
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            await self.flush(sync=True)

    async def flush(self, *, sync: bool = False) -> None:
        """Hand the buffer to the sink, one hand-over at a time (``sync``: and commit).

        The hand-over runs shielded, so a cancelled worker (hard stop) cannot cancel the
        writer's batch under the others.
        """
        while self._flushing is not None:
            await asyncio.shield(self._flushing)
        if not self.rows and not sync:
            return
        rows, self.rows = self.rows, []
        self._flushing = asyncio.ensure_future(self._hand_over(rows, sync=sync))
        del rows  # the hand-over owns them now
        await asyncio.shield(self._flushing)

    async def _hand_over(self, rows: list[Row], *, sync: bool) -> None:
        try:
            if rows:
                await self.sink.put(rows)
            flush = getattr(self.sink, "flush", None)
            if sync and flush is not None:
                await flush()
        finally:
            self._flushing = None
