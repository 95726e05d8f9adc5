"""``fragscope worker``: run a vantage's shard jobs, each as a ``fragscope run``. Does I/O
(processes, PostgreSQL through jobs.queue).

A job runs ``fragscope run --run-id RUN --shard I/N`` in a child process: the run command
already validates, takes the shard's lease, creates the run or resumes it (skipping
stored tasks), measures and records the outcome, so a retried job (another worker, after
a kill or a partition) only finishes what the first left. The child dies with the worker
(prctl PR_SET_PDEATHSIG), so a worker killed with ``kill -9`` leaves nothing measuring
behind it: the child's lease lapses and the job goes back to the queue when the worker's
heartbeat stops (docs/operations.md, "Many machines").

SIGTERM or SIGINT: the child gets SIGTERM and drains (its attempts in flight are stored,
the run is marked interrupted), the job goes back to the queue for a later attempt, and
the worker exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from dataclasses import dataclass, field

from fragscope.jobs.queue import JobQueue, ShardJob, ShardNotDone
from fragscope.probes.engine.console import Reporter
from fragscope.probes.engine.workers import die_with_parent


@dataclass
class ShardWorker:
    """Runs shard jobs of one vantage with the given database and lease."""

    db_url: str
    vantage: str
    lease: float
    reporter: Reporter
    children: set[asyncio.subprocess.Process] = field(default_factory=set)
    stopping: bool = False

    def argv(self, job: ShardJob) -> list[str]:
        """The ``fragscope run`` of a job; waits up to two leases for a dead holder's."""
        return [
            sys.executable,
            "-m",
            "fragscope.cli",
            "run",
            "--campaign",
            job.campaign,
            "--db",
            self.db_url,
            "--vantage",
            job.vantage,
            "--round",
            job.round,
            "--run-id",
            job.run_id,
            "--shard",
            f"{job.shard}/{job.shards}",
            "--lease",
            f"{self.lease:g}",
            "--lock-wait",
            f"{2 * self.lease:g}",
            "--log-json",
        ]

    async def run_shard(self, job: ShardJob) -> None:
        """Run one job; raise :class:`ShardNotDone` unless its shard finished."""
        if job.vantage != self.vantage:  # the queue is the vantage: a misrouted job
            raise ShardNotDone(f"job for vantage {job.vantage!r} reached {self.vantage!r}")
        parent = os.getpid()
        child = await asyncio.create_subprocess_exec(
            *self.argv(job),
            stdin=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=lambda: die_with_parent(parent),
        )
        self.children.add(child)
        self.reporter.event(
            "shard_started",
            f"run {job.run_id} shard {job.shard}/{job.shards} (round {job.round})",
            run_id=job.run_id,
            shard=job.shard,
            pid=child.pid,
        )
        try:
            status = await self._relay(child)
            code = await child.wait()
        finally:
            self.children.discard(child)
        self.reporter.event(
            "shard_ended",
            f"run {job.run_id} shard {job.shard}/{job.shards}: {status or 'no status'}, "
            f"exit {code}",
            run_id=job.run_id,
            shard=job.shard,
            status=status,
            exit_code=code,
        )
        if status != "finished":
            raise ShardNotDone(f"run {job.run_id} shard {job.shard}: {status}, exit {code}")

    async def _relay(self, child: asyncio.subprocess.Process) -> str | None:
        """Pass the child's log lines on; return the status its run_finished event gave."""
        assert child.stderr is not None
        status = None
        async for line in child.stderr:
            sys.stderr.buffer.write(line)
            sys.stderr.flush()
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict) and event.get("event") == "run_finished":
                    status = event.get("status")
        return status

    def stop(self) -> None:
        """SIGTERM: the shard in hand drains; no new job is taken."""
        self.stopping = True
        self.reporter.event("worker_stopping", "draining the shard in hand")
        for child in self.children:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)


def run_worker(
    db_url: str, vantage: str, *, lease: float, heartbeat: float, reporter: Reporter
) -> int:
    """Take ``vantage``'s jobs until SIGTERM/SIGINT; exit code 0 after a drain, 1 if the
    worker stopped without one (its database connection failed for good)."""
    worker = ShardWorker(db_url, vantage, lease, reporter)
    JobQueue(db_url).work(
        vantage,
        worker.run_shard,
        heartbeat=heartbeat,
        stall_after=3 * heartbeat,
        on_stop=worker.stop,
    )
    if not worker.stopping:  # the queue gave up (the database went away), not a signal
        reporter.error(f"worker of vantage {vantage!r} stopped on its own (see above)")
        return 1
    reporter.event("worker_stopped", f"worker of vantage {vantage!r} stopped")
    return 0
