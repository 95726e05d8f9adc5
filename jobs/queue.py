"""The job queue adapter: the one module that knows procrastinate. Does I/O (PostgreSQL).

fragscope asks five things of a job queue, and this module's :class:`JobQueue` is all of
it, so another queue could replace procrastinate here without touching the rest
(docs/operations.md, "The job queue adapter"):

- :meth:`JobQueue.install` creates the queue's tables in the database, once;
- :meth:`JobQueue.submit` defers one :class:`ShardJob` per (run, vantage, shard) to the
  queue named after its vantage;
- :meth:`JobQueue.jobs` lists a round's jobs with their state (``round status``);
- :meth:`JobQueue.work` runs a worker on one vantage's queue until SIGTERM or SIGINT:
  it hands each job to a coroutine, retries a job that failed or was interrupted, and
  sends back to the queue the jobs of a worker of the same vantage that stopped
  beating (killed, partitioned: procrastinate's stalled-job detection);
- :class:`PeriodicRound` makes a worker submit a round on a cron schedule (procrastinate's
  periodic tasks), the alternative to a cron line.

A job is only a pointer to work: the run, its shard and where the campaign is. What was
measured lives in fragscope's tables, and a job run twice adds nothing
((run_id, task_key, attempt) is unique; resume skips stored tasks).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import procrastinate
import procrastinate.worker
from procrastinate import exceptions as procrastinate_errors
from sqlalchemy.engine import make_url

SHARD_TASK = "fragscope.shard"
ROUND_TASK = "fragscope.round"
COORDINATOR_QUEUE = "fragscope-coordinator"
"""The queue of periodic round submissions (``fragscope round schedule``)."""
MAX_ATTEMPTS = 20
"""Attempts of a shard job before it is left failed (each resumes where the last stopped)."""
RETRY_WAIT_S = 2
LOG = logging.getLogger(__name__)


class ShardNotDone(Exception):
    """The shard's run ended before its last task (interrupted, lock held, crashed): the
    queue tries the job again later, on whichever worker of the vantage takes it."""


@dataclass(frozen=True)
class ShardJob:
    """One job: a shard of a run at a vantage."""

    campaign: str
    """The campaign file, as every worker of the vantage finds it."""
    round: str
    vantage: str
    run_id: str
    shard: int
    shards: int

    def args(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class JobState:
    """A job as the queue knows it (``round status``)."""

    id: int
    job: ShardJob
    status: str
    """todo, doing, succeeded, failed, cancelled or aborted."""
    attempts: int
    worker_alive: bool | None
    """For a ``doing`` job: whether its worker beat within the stall timeout; else None."""


@dataclass(frozen=True)
class PeriodicRound:
    """Submit a round on a cron schedule; the round label is the ISO week of the tick."""

    cron: str
    submit: Callable[[str], Awaitable[None]]
    """Called with the round label (``2026-W49``) at each tick."""
    schedule_id: str


def conninfo(db_url: str) -> str:
    """The libpq connection string of a SQLAlchemy URL (``postgresql+psycopg://…``)."""
    url = make_url(db_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"--db: jobs need PostgreSQL, not {url.get_backend_name()}")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class JobQueue:
    """Shard jobs on procrastinate over the fragscope database."""

    def __init__(self, db_url: str) -> None:
        self._conninfo = conninfo(db_url)
        self._app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=self._conninfo)
        )

    # -- the coordinator's side -------------------------------------------------------

    def install(self) -> None:
        """Create the queue's tables unless they are there (needs the DDL right)."""
        asyncio.run(self._install())

    async def _install(self) -> None:
        async with self._app.open_async():
            rows = await self._app.connector.execute_query_all_async(
                "SELECT to_regclass('procrastinate_jobs') IS NOT NULL AS present"
            )
            if not rows[0]["present"]:
                await self._app.schema_manager.apply_schema_async()

    def submit(self, jobs: Sequence[ShardJob]) -> list[int]:
        """Defer the jobs, each to its vantage's queue; their ids."""
        return asyncio.run(self._with_app(self.submit_async(jobs)))

    async def _with_app(self, coro: Awaitable[Any]) -> Any:
        async with self._app.open_async():
            return await coro

    async def submit_async(self, jobs: Sequence[ShardJob]) -> list[int]:
        task = self._shard_task(None)
        return [
            await task.configure(queue=job.vantage, lock=_lock(job)).defer_async(**job.args())
            for job in jobs
        ]

    def jobs(self, *, round_: str, stall_after: float) -> list[JobState]:
        """The round's shard jobs, oldest first."""
        return asyncio.run(self._with_app(self._jobs(round_, stall_after)))

    async def _jobs(self, round_: str, stall_after: float) -> list[JobState]:
        rows = await self._app.connector.execute_query_all_async(
            "SELECT j.id, j.args, j.status::text AS status, j.attempts, "
            "w.last_heartbeat > now() - make_interval(secs => %(stall)s) AS alive "
            "FROM procrastinate_jobs j LEFT JOIN procrastinate_workers w ON w.id = j.worker_id "
            "WHERE j.task_name = %(task)s AND j.args->>'round' = %(round)s ORDER BY j.id",
            task=SHARD_TASK,
            round=round_,
            stall=stall_after,
        )
        return [
            JobState(
                id=r["id"],
                job=ShardJob(**r["args"]),
                status=r["status"],
                attempts=r["attempts"],
                worker_alive=(bool(r["alive"]) if r["status"] == "doing" else None),
            )
            for r in rows
        ]

    # -- the worker's side ------------------------------------------------------------

    def work(
        self,
        queue: str,
        run_shard: Callable[[ShardJob], Awaitable[None]],
        *,
        heartbeat: float,
        stall_after: float,
        on_stop: Callable[[], None],
        periodic: PeriodicRound | None = None,
    ) -> None:
        """Run jobs of ``queue`` one at a time until SIGTERM/SIGINT; then let the job in
        hand drain (``on_stop`` tells it to) and return. Every ``heartbeat`` seconds the
        worker beats, and sends back to the queue the jobs of workers of ``queue`` that
        have not beaten for ``stall_after`` seconds."""
        asyncio.run(
            self._work(
                queue,
                run_shard,
                heartbeat=heartbeat,
                stall_after=stall_after,
                on_stop=on_stop,
                periodic=periodic,
            )
        )

    async def _work(
        self,
        queue: str,
        run_shard: Callable[[ShardJob], Awaitable[None]],
        *,
        heartbeat: float,
        stall_after: float,
        on_stop: Callable[[], None],
        periodic: PeriodicRound | None,
    ) -> None:
        self._shard_task(run_shard)
        if periodic is not None:
            self._round_task(periodic)
        async with self._app.open_async():
            worker = procrastinate.worker.Worker(
                self._app,
                queues=[queue],
                name=f"fragscope-{queue}",
                concurrency=1,
                install_signal_handlers=False,
                update_heartbeat_interval=heartbeat,
                stalled_worker_timeout=stall_after,
                fetch_job_polling_interval=heartbeat,
            )
            loop = asyncio.get_running_loop()

            def stop(_sig: int) -> None:
                on_stop()
                worker.stop()  # type: ignore[no-untyped-call]

            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop, sig)
            rescuer = asyncio.create_task(self._rescue(queue, heartbeat, stall_after))
            try:
                await worker.run()  # type: ignore[no-untyped-call]
            finally:
                rescuer.cancel()
                await asyncio.gather(rescuer, return_exceptions=True)
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)

    async def _rescue(self, queue: str, every: float, stall_after: float) -> None:
        """Send back to the queue the jobs of this vantage's workers that stopped beating."""
        manager = self._app.job_manager
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(Exception):  # the database away: try at the next beat
                for job in await manager.get_stalled_jobs(
                    queue=queue, task_name=SHARD_TASK, seconds_since_heartbeat=stall_after
                ):
                    LOG.warning("job %s: its worker stopped beating; back to the queue", job.id)
                    await manager.retry_job(job)

    def _shard_task(self, run_shard: Callable[[ShardJob], Awaitable[None]] | None) -> Any:
        if SHARD_TASK in self._app.tasks:
            return self._app.tasks[SHARD_TASK]

        async def shard(**args: Any) -> None:
            if run_shard is None:
                raise RuntimeError("this queue only submits")
            await run_shard(ShardJob(**args))

        return self._app.task(
            name=SHARD_TASK,
            retry=procrastinate.RetryStrategy(
                max_attempts=MAX_ATTEMPTS, wait=RETRY_WAIT_S, retry_exceptions={ShardNotDone}
            ),
        )(shard)

    def _round_task(self, periodic: PeriodicRound) -> None:
        async def submit_round(timestamp: int) -> None:
            tick = dt.datetime.fromtimestamp(timestamp, dt.UTC)
            await periodic.submit(tick.strftime("%G-W%V"))

        task = self._app.task(name=ROUND_TASK, queue=COORDINATOR_QUEUE)(submit_round)
        self._app.periodic(cron=periodic.cron, periodic_id=periodic.schedule_id)(task)


def worker_queue_sql(worker: str, analyst: str, vantage_sql: str) -> list[str]:
    """Rights on the queue's tables (jobs/roles.py): a worker takes, retries and finishes
    only the jobs of its vantage's queue (row-level security on the jobs, by
    ``vantage_sql``); it registers, beats and unregisters itself in the worker table,
    and prunes workers that stopped beating (procrastinate deletes their rows, not
    fragscope's). The analyst reads the jobs (``round status``)."""
    jobs = "procrastinate_jobs"
    return [
        f"GRANT SELECT, UPDATE ON {jobs} TO {worker}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON procrastinate_workers TO {worker}",
        f"GRANT SELECT, INSERT ON procrastinate_events TO {worker}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {worker}",
        f"ALTER TABLE {jobs} ENABLE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS worker_own_queue ON {jobs}",
        f"CREATE POLICY worker_own_queue ON {jobs} TO {worker} "
        f"USING (queue_name = {vantage_sql}) WITH CHECK (queue_name = {vantage_sql})",
        f"DROP POLICY IF EXISTS analyst_reads_all ON {jobs}",
        f"CREATE POLICY analyst_reads_all ON {jobs} FOR SELECT TO {analyst} USING (true)",
        f"GRANT SELECT ON procrastinate_workers, procrastinate_events TO {analyst}",
    ]


def _lock(job: ShardJob) -> str:
    # procrastinate runs at most one job per lock at a time: one worker per shard.
    return f"{job.run_id}/{job.shard}"


def is_queue_error(exc: BaseException) -> bool:
    """An error of the job engine (connection, schema), for a one-line exit 2."""
    return isinstance(exc, procrastinate_errors.ProcrastinateException)


def as_jobs(
    campaign: str, round_: str, runs: Iterable[tuple[str, str]], shards: int
) -> list[ShardJob]:
    """One job per (run, vantage, shard): ``runs`` pairs each vantage with its run id."""
    return [
        ShardJob(campaign, round_, vantage, run_id, shard, shards)
        for vantage, run_id in runs
        for shard in range(shards)
    ]
