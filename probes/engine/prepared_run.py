"""What `fragscope run` hands from setting a run up (probes.engine.runs) to running it, in
this process or in forked workers (probes.engine.workers): the options, the prepared run,
the shard runner built from them and the signal hook. No I/O.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from fragscope.probes.engine.campaign import Campaign
from fragscope.probes.engine.planner import Shard
from fragscope.probes.engine.shard_runner import ShardRunner
from fragscope.probes.safety import NetworkPolicy


@dataclass(frozen=True)
class RunOptions:
    campaign: Path
    db: str | None = None
    vantage: str | None = None
    round: str | None = None
    run_id: str | None = None
    resume: str | None = None
    """None = a new run; "latest" = the latest unfinished run; else a run UUID."""
    shard: str = "0/1"
    workers: int = 1
    dry_run: bool = False
    auto_migrate: bool = False
    lock_wait: float = 0.0
    lease: float = 60.0
    """PostgreSQL: seconds the run lease lasts unless renewed (probes/engine/lock.py)."""
    max_duration: float | None = None
    progress: bool | None = None
    log_json: bool = False


@dataclass
class PreparedRun:
    """A run ready to measure: what `fragscope run` set up before the shard runner starts."""

    campaign: Campaign
    engine: Engine
    run_id: str
    vantage_id: str
    vantage_label: str
    shard: Shard
    skip: set[str]
    pending: list[dict[str, Any]]
    policy: NetworkPolicy
    total: int


def shard_runner_for(
    p: PreparedRun,
    opts: RunOptions,
    sink: Any,
    *,
    write_targets: bool = True,
    shard: Shard | None = None,
) -> ShardRunner:
    """The shard runner of a prepared run (with its stored follow-ups queued), writing to
    ``sink``; ``shard`` narrows it to one worker's slice."""
    eng = ShardRunner(
        p.campaign,
        run_id=p.run_id,
        vantage_id=p.vantage_id,
        sink=sink,
        policy=p.policy,
        shard=shard or p.shard,
        skip=p.skip,
        write_targets=write_targets,
        max_duration=opts.max_duration,
    )
    eng.add_pending(p.pending)
    return eng


def install_signals(loop: asyncio.AbstractEventLoop, on_signal: Callable[[int], None]) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
