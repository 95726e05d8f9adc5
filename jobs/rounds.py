"""``fragscope round submit`` and ``round status``: a round's shard jobs, and how far they
got. Does I/O (PostgreSQL, campaign and target files).

Submitting names one run per vantage (a UUID) and defers one job per (run, vantage,
shard) to the vantage's queue; the workers create each run when its first shard starts.
The status reads the plan (the campaign, the run's seed) for what each shard should do,
and the resume ledger (``tasks_done``, which records the shard of every task) for what it
did: every figure comes from the database and the campaign, none from the workers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text

from fragscope.db.connection import resolve_url
from fragscope.db.guard import open_database
from fragscope.jobs.queue import JobQueue, JobState, ShardJob, as_jobs
from fragscope.probes.engine.bookkeeping import seed_for
from fragscope.probes.engine.labels import ROUND_LIMIT, VANTAGE_LIMIT, label_problem
from fragscope.probes.engine.planner import FOLLOW_UP_SEP, Shard
from fragscope.probes.engine.planonly import build_policy, planning_runner
from fragscope.probes.engine.runs import CampaignCheckFailed, UsageError, checked_campaign


@dataclass(frozen=True)
class Submitted:
    """A submitted round: the run of each vantage and the job ids."""

    runs: dict[str, str]
    job_ids: list[int]


def check_round(campaign: Path, round_: str, vantages: Sequence[str], shards: int) -> Path:
    """Check the submission before anything is written; the campaign's absolute path."""
    problem = label_problem(round_, limit=ROUND_LIMIT)
    if problem is not None:
        raise UsageError(f"--round: {problem}")
    if not vantages:
        raise UsageError("--vantage: give at least one vantage")
    if len(set(vantages)) != len(vantages):
        raise UsageError("--vantage: a vantage is named twice")
    for vantage in vantages:
        if (problem := label_problem(vantage, limit=VANTAGE_LIMIT)) is not None:
            raise UsageError(f"--vantage {vantage!r}: {problem}")
    if shards < 1:
        raise UsageError("--shards must be >= 1")
    loaded, _counts, report = checked_campaign(campaign, for_run=True)
    if report.errors:
        raise CampaignCheckFailed(loaded, report)
    return loaded.path.resolve()


def submit(
    db_url: str | None, campaign: Path, round_: str, vantages: Sequence[str], shards: int
) -> Submitted:
    """Defer the round's jobs (the database must be at this fragscope's schema)."""
    path = check_round(campaign, round_, vantages, shards)
    url = resolve_url(db_url)
    open_database(url, writes=True).dispose()
    queue = JobQueue(url)
    queue.install()
    runs = {vantage: str(uuid.uuid4()) for vantage in vantages}
    jobs = as_jobs(str(path), round_, runs.items(), shards)
    return Submitted(runs=runs, job_ids=queue.submit(jobs))


@dataclass(frozen=True)
class ShardStatus:
    """One row of ``round status``: a shard of a vantage's run."""

    vantage: str
    run_id: str
    shard: int
    shards: int
    job: str
    """The job's state in the queue (todo, doing, succeeded, failed...)."""
    attempts: int
    planned: int
    stored: int
    failed: int
    """Stored tasks whose last attempt failed (a network failure is data, not an error)."""
    stale: int
    """Planned tasks neither stored nor in the hands of a live worker."""


def status(db_url: str | None, round_: str, *, stall_after: float) -> list[ShardStatus]:
    """Every shard of the round, by vantage and shard."""
    url = resolve_url(db_url)
    engine = open_database(url)
    try:
        states = JobQueue(url).jobs(round_=round_, stall_after=stall_after)
        return sorted(
            (_shard_status(engine, state) for state in states),
            key=lambda s: (s.vantage, s.shard),
        )
    finally:
        engine.dispose()


def _shard_status(engine: Engine, state: JobState) -> ShardStatus:
    job = state.job
    planned = _planned(job)
    with engine.connect() as conn:
        stored, failed = conn.execute(
            text(
                "SELECT COUNT(*), COUNT(failure) FROM tasks_done WHERE run_id = :r "
                "AND shard = :s AND task_key NOT LIKE :follow_up"
            ),
            {"r": job.run_id, "s": job.shard, "follow_up": f"%{FOLLOW_UP_SEP}%"},
        ).one()
    in_hand = state.status == "doing" and bool(state.worker_alive)
    stale = 0 if in_hand or state.status == "succeeded" else max(0, planned - stored)
    return ShardStatus(
        vantage=job.vantage,
        run_id=job.run_id,
        shard=job.shard,
        shards=job.shards,
        job=state.status,
        attempts=state.attempts,
        planned=planned,
        stored=int(stored),
        failed=int(failed),
        stale=stale,
    )


def _planned(job: ShardJob) -> int:
    """Root tasks of the shard, from the campaign and the run's seed (nothing sent)."""
    campaign, _counts, _report = checked_campaign(job.campaign)
    shard = Shard(job.shard, job.shards, seed_for(job.run_id))
    runner = planning_runner(campaign, policy=build_policy(campaign), shard=shard)
    return sum(1 for _ in runner.tasks())
