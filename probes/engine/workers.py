"""``run --workers K``: K forked processes, one event loop each, one writer in the parent. Does I/O.

Each child runs its slice of the shard (the planner deals it out again) under its share
of the campaign's rate, burst and concurrency (:func:`worker_share`), and sends row
batches over a pipe; the parent is the single writer (SQLite has one writer
anyway) and keeps the heartbeat. A child's batch holds whole tasks, so the ledger and the
observations still share a transaction.

Children die with their parent, whatever kills it (kill -9, the OOM killer): a child
without its writer can store nothing, and one that lingers holds the vantage's sockets
and rate budget for ever. Two ways, for the two ways a parent can vanish
(:func:`die_with_parent`): the kernel's parent-death signal, and the end of a lifeline
pipe whose only writer is the parent. A child also closes every inherited descriptor that
is not its own (the other children's pipes, the run lock: probes.engine.lock), so no pipe
stays open and no lock stays held through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from fragscope.db.writer import Row, ThreadedWriter, Writer
from fragscope.probes.engine import bookkeeping as bk
from fragscope.probes.engine.planner import Shard
from fragscope.probes.engine.prepared_run import (
    PreparedRun,
    RunOptions,
    install_signals,
    shard_runner_for,
)
from fragscope.probes.engine.state import EngineResult, ProbeStats

if TYPE_CHECKING:
    from fragscope.probes.engine.campaign import Campaign
    from fragscope.probes.engine.console import Reporter


class PipeSink:
    """A child's sink: row batches as (table name, tuple) pairs over a pipe."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        # Sends run on one thread: a full pipe (the parent busy committing) then parks
        # this worker's hand-over, not its event loop, so answers keep being read and
        # no query times out because of our own back-pressure. One thread keeps order.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fragscope-pipe")

    async def put(self, rows: Sequence[Row]) -> None:
        # Grouped by table name: one pickled list per table instead of a (name, tuple)
        # pair per row, and the parent hands the groups to the writer as they are.
        by_table: dict[str, list[tuple[Any, ...]]] = {}
        for spec, values in rows:
            group = by_table.get(spec.name)
            if group is None:
                group = by_table[spec.name] = []
            group.append(values)
        await asyncio.get_running_loop().run_in_executor(
            self._pool, self.conn.send, ("rows", by_table)
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)


PR_SET_PDEATHSIG = 1
"""prctl(2) option (linux/prctl.h): the signal a process gets when its parent dies."""
PARENT_GONE_EXIT = 3
"""A child's exit status when it ended itself because the parent was gone."""


def die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this process when ``parent`` dies (prctl(2),
    PR_SET_PDEATHSIG; Linux), and exit now if it is already gone.

    SIGKILL, not SIGTERM: a child that drained its tasks would have no writer to hand
    them to. The check after prctl closes the race with a parent that died before it.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(PARENT_GONE_EXIT)


def watch_lifeline(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    """Exit when the lifeline pipe ends: its write end is the parent's alone, so EOF
    means the parent is gone (the second way, where no parent-death signal exists)."""

    def gone() -> None:
        with contextlib.suppress(OSError):
            if os.read(fd, 1):
                return
        os._exit(PARENT_GONE_EXIT)

    loop.add_reader(fd, gone)


def worker_share(campaign: Campaign, workers: int) -> Campaign:
    """The campaign as one of ``workers`` processes runs it: each gets 1/K of every
    endpoint's rate, of the burst and of the concurrency, so that together they keep the
    campaign's limits (each process has its own token buckets and slots). The burst and
    concurrency shares are rounded down but at least 1, so a burst smaller than K is
    exceeded by at most K - 1 queries."""
    if workers == 1:
        return campaign
    limits = campaign.limits
    return dataclasses.replace(
        campaign,
        limits=dataclasses.replace(
            limits,
            rate=limits.rate / workers,
            burst=max(1, limits.burst // workers),
            concurrency=max(1, limits.concurrency // workers),
        ),
        endpoints=tuple(
            dataclasses.replace(e, rate=e.rate / workers) if e.rate else e
            for e in campaign.endpoints
        ),
    )


def _child(
    p: PreparedRun,
    opts: RunOptions,
    worker: int,
    workers: int,
    conn: Connection,
    parent: int,
    lifeline: tuple[int, int],
    foreign: list[Connection],
) -> None:
    code = 0
    try:
        die_with_parent(parent)
        # Our copies of the other children's pipe ends would keep those pipes open (a
        # sender then blocks for ever instead of failing when the parent is gone).
        for other in foreign:
            other.close()
        os.close(lifeline[1])  # the write end is the parent's alone
        p = dataclasses.replace(p, campaign=worker_share(p.campaign, workers))
        shard = Shard(p.shard.index, p.shard.count, p.shard.seed, worker, workers)
        sink = PipeSink(conn)
        eng = shard_runner_for(p, opts, sink, write_targets=worker == 0, shard=shard)

        async def main() -> EngineResult:
            loop = asyncio.get_running_loop()
            watch_lifeline(loop, lifeline[0])
            install_signals(loop, lambda _sig: eng.stop(reason="signal"))
            return await eng.run()

        result = asyncio.run(main())
        sink.close()
        stats = {n: s.as_dict() for n, s in result.stats.items()}
        conn.send(("done", stats, result.stopped, result.complete))
    except BaseException:
        code = 1
        with contextlib.suppress(OSError):
            conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()
        # No interpreter clean-up: the inherited database handles belong to the parent.
        os._exit(code)


def run_forked(p: PreparedRun, opts: RunOptions, *, reporter: Reporter) -> tuple[EngineResult, int]:
    """Run the shard in ``opts.workers`` children; return the merged result and the number
    of children that failed (counted as internal problems: exit 1)."""
    workers = opts.workers
    p.engine.dispose()  # children must not inherit live database connections
    ctx = multiprocessing.get_context("fork")
    conns: list[Connection] = []
    procs = []
    parent = os.getpid()
    lifeline = os.pipe()
    for w in range(workers):
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_child,
            args=(p, opts, w, workers, send, parent, lifeline, [*conns, recv]),
            name=f"fragscope-w{w}",
        )
        proc.start()
        send.close()
        conns.append(recv)
        procs.append(proc)
    os.close(lifeline[0])

    stopping: list[int] = []

    def forward(sig: int, _frame: Any) -> None:
        stopping.append(sig)
        for proc in procs:
            if proc.pid is not None and proc.is_alive():
                os.kill(proc.pid, signal.SIGTERM)

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    writer = ThreadedWriter(Writer(p.engine))
    stats: dict[str, ProbeStats] = {}
    stopped: str | None = None
    complete = 0
    failed = 0
    done = 0
    alive = set(conns)
    t0 = last_beat = time.monotonic()
    reporter.start_progress(p.total or None, p.campaign.name)
    try:
        while alive:
            for conn in wait(list(alive), timeout=1.0):
                assert isinstance(conn, Connection)
                try:
                    msg = conn.recv()
                except EOFError:
                    alive.discard(conn)
                    continue
                if msg[0] == "rows":
                    writer.rows(msg[1])
                    done += len(msg[1].get("tasks_done", ()))
                elif msg[0] == "done":
                    for name, d in msg[1].items():
                        st = stats.setdefault(name, ProbeStats())
                        st.tasks += d["tasks"]
                        st.ok += d["ok"]
                        st.attempts += d["attempts"]
                        st.failures.update(d["failures"])
                    stopped = stopped or msg[2]
                    complete += bool(msg[3])
                elif msg[0] == "error":
                    failed += 1
                    reporter.error(f"worker process failed:\n{msg[1]}")
            if writer.error is not None and not stopping:
                # The database refused rows: the children drain what they measure (its
                # rows are still stored) and stop; close() below raises the error.
                forward(signal.SIGTERM, None)
            now = time.monotonic()
            reporter.update_progress(done, done / (now - t0) if now > t0 else 0.0)
            if now - last_beat >= 5.0:
                last_beat = now
                writer.call(bk.heartbeat, p.engine, p.run_id)
    finally:
        reporter.stop_progress()
        for proc in procs:
            proc.join()
        writer.close()
        os.close(lifeline[1])
        for s, handler in old.items():
            signal.signal(s, handler)
    failed = max(failed, sum(1 for proc in procs if proc.exitcode != 0))
    if stopping and stopped is None:
        stopped = "signal"
    # Complete only if every child said it did all of its slice.
    return EngineResult(stats=stats, stopped=stopped, complete=complete == workers), failed
