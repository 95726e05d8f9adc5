"""``fragscope run``: from a campaign file to a finished, resumable run. Does I/O.

Order matters for cron safety: validate everything (campaign, target files, database
schema) before anything is written; take the (database, campaign, vantage, shard) lock;
create or reopen the run; then measure, heartbeat, and record the outcome. Exit codes: 0
finished; 1 finished with unknown_failure rows, partial (--max-duration) or interrupted;
2 could not run.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import signal
import sys
import time
import traceback
import uuid
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine

from fragscope.db import migrate
from fragscope.db.connection import sqlite_path
from fragscope.db.guard import open_database
from fragscope.db.last_seen import LastSeen
from fragscope.db.vocab import RunStatus
from fragscope.db.writer import AsyncWriter, StorageError, Writer
from fragscope.probes.engine import bookkeeping as bk
from fragscope.probes.engine import discovered
from fragscope.probes.engine.campaign import Campaign, CampaignError, load_campaign
from fragscope.probes.engine.check import CheckReport, check_campaign, inside_lab
from fragscope.probes.engine.console import Reporter
from fragscope.probes.engine.labels import ROUND_LIMIT, VANTAGE_LIMIT, label_problem
from fragscope.probes.engine.lock import run_lock, wait_for_writer
from fragscope.probes.engine.planner import Shard
from fragscope.probes.engine.planonly import build_policy, planning_runner
from fragscope.probes.engine.prepared_run import (
    PreparedRun,
    RunOptions,
    install_signals,
    shard_runner_for,
)
from fragscope.probes.engine.shard_runner import ShardRunner
from fragscope.probes.engine.state import EngineResult
from fragscope.probes.engine.targets import validate
from fragscope.probes.safety import NetworkPolicy

HEARTBEAT_S = 5.0
PROGRESS_S = 0.5
LOG_PROGRESS_S = 10.0
RUN_GC_THRESHOLD = (100_000, 50, 1000)
"""gc thresholds while the engine runs (generation 0 collected every 100,000 allocations)."""


class UsageError(Exception):
    """The run could not start (bad input, lock held, database not migrated): exit 2."""


def parse_shard(spec: str) -> tuple[int, int]:
    try:
        index_text, count_text = spec.split("/")
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise UsageError(f"--shard {spec!r}: expected I/N, e.g. 0/4") from None
    if count < 1 or not 0 <= index < count:
        raise UsageError(f"--shard {spec!r}: need 0 <= I < N")
    return index, count


def _check_uuid(value: str, option: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise UsageError(f"{option} {value!r} is not a UUID") from None


def _label_option(value: str | None, option: str, *, limit: int) -> str | None:
    """A label given on the command line, checked like the campaign's (None = not given).

    An empty value is an error, not "use the campaign's": a script that passes
    ``--vantage "$VANTAGE"`` with the variable unset must not file its rows elsewhere.
    """
    if value is None:
        return None
    problem = label_problem(value, limit=limit)
    if problem is not None:
        raise UsageError(f"{option}: {problem}")
    return value


def estimate_tasks(campaign: Campaign, counts: dict[str, int], *, shard_count: int) -> int:
    """Tasks the plan will hold (one TaskParams per cell; follow-ups not counted)."""
    from fragscope.probes import registry

    total = 0
    for source in campaign.targets:
        for p in campaign.probes:
            if p.lists is not None and source.list_name not in p.lists:
                continue
            if registry.get(p.name).uses_endpoints:
                n_ep = len(
                    [
                        e
                        for e in campaign.endpoints
                        if p.endpoints is None or (e.label or e.url) in p.endpoints
                    ]
                )
            else:
                n_ep = 1
            total += counts[source.list_name] * n_ep
    return total * campaign.repeat // shard_count


def dry_run(campaign: Campaign, shard: Shard, *, policy: NetworkPolicy, out: TextIO) -> int:
    """Print every task with its destination and the policy's verdict; send nothing."""
    eng = planning_runner(discovered.expand(campaign, {}), policy=policy, shard=shard)
    verdicts = eng.verdicts()
    for url, verdict in verdicts.items():
        state = "allowed" if verdict.blocked is None else f"BLOCKED ({verdict.blocked})"
        out.write(f"# endpoint {url} -> {', '.join(verdict.addresses) or '?'}: {state}\n")
    for note in discovered.dry_run_notes(campaign):
        out.write(note + "\n")
    n = 0
    for task in eng.tasks():
        dest = task.endpoint.url if task.endpoint else task.params.get("address", "-")
        blocked = eng.blocked_reason(task)
        out.write(
            f"{task.key}\t{task.probe}\t{task.target}\t{dest}\t"
            f"{'allowed' if blocked is None else 'blocked_by_policy'}\n"
        )
        n += 1
    out.write(f"# {n} tasks planned, nothing sent\n")
    return 0


class CampaignCheckFailed(CampaignError):
    """``fragscope campaign check`` found errors; ``str()`` has one finding per line."""

    def __init__(self, campaign: Campaign, report: CheckReport) -> None:
        first = report.errors[0]
        super().__init__(campaign.path, None, first.rule, first.message)
        self.report = report
        lines = [str(f) for f in report.errors]
        lines.append(f"{len(report.errors)} errors: see `fragscope campaign check {campaign.path}`")
        self.args = ("\n".join(lines),)


def checked_campaign(
    path: str | Path, *, for_run: bool = False, last_seen: LastSeen | None = None
) -> tuple[Campaign, dict[str, int], CheckReport]:
    """Load a campaign (a shipped one by name), read every target list (exit-2 errors
    name the line; the entry count of each list comes back) and run the campaign check
    (probes/engine/check.py) over it. ``for_run``: the check precedes a run, which the
    environment's allowlist (FRAGSCOPE_ALLOWED_NETS) may confine to the lab."""
    from fragscope.campaigns import find

    campaign = load_campaign(find(path))
    counts = {s.list_name: validate(s) for s in campaign.targets}
    policy = build_policy(campaign)
    confined = for_run and inside_lab(policy.allowed)
    report = check_campaign(campaign, policy=policy, confined=confined, last_seen=last_seen)
    return campaign, counts, report


def execute(opts: RunOptions, *, reporter: Reporter, out: TextIO | None = None) -> int:
    """Run a campaign; return the exit code. Raises CampaignError/UsageError before writing.

    The campaign check comes first (docs/campaigns.md, "Campaign check"): its errors stop
    the run with exit 2, its warnings are printed.
    """
    campaign, counts, report = checked_campaign(opts.campaign, for_run=True)
    if report.errors:
        raise CampaignCheckFailed(campaign, report)
    opts = dataclasses.replace(
        opts,
        vantage=_label_option(opts.vantage, "--vantage", limit=VANTAGE_LIMIT) or campaign.vantage,
        round=_label_option(opts.round, "--round", limit=ROUND_LIMIT) or campaign.round,
    )
    for warning in campaign.warnings:
        reporter.warning(warning)
    for finding in report.warnings:
        reporter.warning(str(finding))
    index, count = parse_shard(opts.shard)
    if opts.workers < 1:
        raise UsageError("--workers must be >= 1")
    run_id = _check_uuid(opts.run_id, "--run-id") if opts.run_id else None
    resume = opts.resume
    if resume not in (None, "latest"):
        resume = _check_uuid(resume, "--resume")
    if run_id and resume:
        raise UsageError("--run-id and --resume name the run twice; use one")
    policy = build_policy(campaign)
    if opts.dry_run:
        # sys.stdout is looked up now, not at import: the caller may have replaced it.
        return dry_run(campaign, Shard(index, count, 0), policy=policy, out=out or sys.stdout)

    # quick_check before anything is appended: a damaged file is refused, not extended.
    engine = open_database(
        opts.db,
        writes=True,
        creates=opts.auto_migrate,
        accepts_older=opts.auto_migrate,
        check_integrity=True,
        advice=" (or pass --auto-migrate)",
    )
    db_file = sqlite_path(engine.url.render_as_string(hide_password=False))
    if db_file is not None:
        wait_for_writer(db_file, wait=opts.lock_wait)
    if not migrate.is_at_head(engine):
        migrate.upgrade(engine)
    vantage_label = opts.vantage or campaign.vantage
    with run_lock(
        engine,
        campaign=campaign.name,
        vantage=vantage_label,
        shard=f"{index}/{count}",
        wait=opts.lock_wait,
        on_takeover=lambda message: reporter.event("lock_taken_over", message),
        lease=opts.lease,
        on_lost=lambda message: _lease_lost(message, reporter),
    ):
        prepared = _prepare(
            opts,
            campaign,
            engine,
            counts=counts,
            run_id=run_id,
            resume=resume,
            shard=(index, count),
            policy=policy,
            reporter=reporter,
        )
        # Everything loaded so far lives as long as the process: keep it out of the
        # collector's full passes, which otherwise rescan it while rows stream through.
        gc.collect()
        gc.freeze()
        # The hot path allocates a few dozen short-lived containers per task and has no
        # reference cycles to speak of: with the default threshold (700) the collector
        # ran every few tasks and cost about a fifth of the engine's CPU (bench/dns.py).
        threshold = gc.get_threshold()
        gc.set_threshold(*RUN_GC_THRESHOLD)
        try:
            if opts.workers > 1:
                from fragscope.probes.engine.workers import run_forked

                result, unknown = run_forked(prepared, opts, reporter=reporter)
                return _conclude(prepared, result, reporter=reporter, extra_unknown=unknown)
            result = asyncio.run(_run_async(prepared, opts, reporter=reporter))
            return _conclude(prepared, result, reporter=reporter)
        except StorageError as exc:
            # The rows the database would take are stored; the one-line reason names the
            # table (and column); the database's report with the statement is in the
            # debug log (db.writer), never on the operator's terminal.
            logging.getLogger(__name__).debug("storage error", exc_info=exc)
            reporter.error(f"run {prepared.run_id} failed: {exc}")
            with contextlib.suppress(Exception):
                bk.finish_run(engine, prepared.run_id, status=RunStatus.FAILED, exit_code=1)
            return 1
        except Exception as exc:
            # The engine itself broke (the database went away, a bug): record what we can.
            reporter.error(
                f"run {prepared.run_id} failed: {type(exc).__name__}: {exc}",
                traceback="".join(traceback.format_exception(exc)),
            )
            with contextlib.suppress(Exception):
                bk.finish_run(engine, prepared.run_id, status=RunStatus.FAILED, exit_code=1)
            return 1
        finally:
            gc.set_threshold(*threshold)


def _lease_lost(message: str, reporter: Reporter) -> None:
    """Another worker took the shard over (this one's lease lapsed while the database was
    out of reach): drain as on SIGTERM, so the shard is not measured twice at once."""
    reporter.event("lease_lost", message)
    os.kill(os.getpid(), signal.SIGTERM)


def _prepare(
    opts: RunOptions,
    campaign: Campaign,
    engine: Engine,
    *,
    counts: dict[str, int],
    run_id: str | None,
    resume: str | None,
    shard: tuple[int, int],
    policy: NetworkPolicy,
    reporter: Reporter,
) -> PreparedRun:
    vantage_label = opts.vantage or campaign.vantage
    vid = bk.ensure_vantage(engine, vantage_label)
    existing = None
    if resume == "latest":
        run_id = bk.latest_unfinished(engine, campaign=campaign.name, vantage=vid)
        if run_id is None:
            raise UsageError(
                f"no unfinished run of campaign {campaign.name!r} at vantage {vantage_label!r} "
                "to resume"
            )
    elif resume is not None:
        run_id = resume
    if run_id is not None:
        existing = bk.get_run(engine, run_id)
        if resume is not None and existing is None:
            raise UsageError(f"--resume: no run {run_id} in this database")
        if existing is not None and existing["campaign"] != campaign.name:
            raise UsageError(
                f"run {run_id} belongs to campaign {existing['campaign']!r}, not {campaign.name!r}"
            )
    else:
        run_id = str(uuid.uuid4())
    if existing is None:
        # dns.query's discovery endpoints are asked before the run row is written: what
        # they gave is part of the run's config, so a resume plans the same resolvers.
        found = discovered.discover(campaign, policy=policy)
        config = dict(campaign.snapshot)
        if found:
            config[discovered.RUN_KEY] = discovered.to_config(found)
        bk.create_run(
            engine,
            run_id=run_id,
            campaign=campaign.name,
            round_=opts.round or campaign.round,
            vantage=vid,
            config=config,
        )
        seed = bk.seed_for(run_id)
        skip: set[str] = set()
        pending: list[dict[str, Any]] = []
    else:
        bk.mark_running(engine, run_id)
        seed = int(existing["seed"])
        skip = bk.done_keys(engine, run_id)
        pending = list(bk.pending_followups(engine, run_id))
    campaign = _with_discovered(
        campaign, engine, run_id=run_id, vantage_id=vid, started=existing is None, reporter=reporter
    )
    shard_obj = Shard(shard[0], shard[1], seed)
    pending = [p for p in pending if shard_obj.owns(p["root_key"])]
    total = max(
        0, estimate_tasks(campaign, counts, shard_count=shard[1]) - len(skip) + len(pending)
    )
    reporter.event(
        "run_started",
        f"run {run_id} of {campaign.name!r} at {vantage_label!r}, shard {shard[0]}/{shard[1]}"
        + (f", resuming ({len(skip)} tasks done)" if existing is not None else ""),
        run_id=run_id,
        campaign=campaign.name,
        vantage=vantage_label,
        shard=f"{shard[0]}/{shard[1]}",
        resumed=existing is not None,
        tasks_done_before=len(skip),
        tasks_estimated=total,
    )
    return PreparedRun(
        campaign=campaign,
        engine=engine,
        run_id=run_id,
        vantage_id=vid,
        vantage_label=vantage_label,
        shard=shard_obj,
        skip=skip,
        pending=pending,
        policy=policy,
        total=total,
    )


def _with_discovered(
    campaign: Campaign,
    engine: Engine,
    *,
    run_id: str,
    vantage_id: str,
    started: bool,
    reporter: Reporter,
) -> Campaign:
    """``campaign`` with dns.query's discovery endpoints replaced by the resolvers the run
    recorded (probes/engine/discovered.py). The run's own record wins: a shard that lost
    the race to create the run, or a resume, measures what the run's first start found.
    A run that has just ``started`` stores its failed discoveries and warns about them."""
    stored = bk.get_run(engine, run_id)
    found = discovered.recorded(stored["config"] if stored else {})
    if started and found:
        # Idempotent rows (keyed by run and endpoint): shards starting together agree.
        rows = discovered.failure_rows(campaign, found, run_id=run_id, vantage_id=vantage_id)
        Writer(engine).write(rows)
        for warning in discovered.warnings(found):
            reporter.warning(warning)
    return discovered.expand(campaign, found)


async def _run_async(p: PreparedRun, opts: RunOptions, *, reporter: Reporter) -> EngineResult:
    writer = AsyncWriter(Writer(p.engine))
    eng = shard_runner_for(p, opts, writer)
    # A batch the database refused: stop taking tasks, store what is in flight, fail.
    writer.on_error = lambda _exc: eng.stop(reason="storage")
    loop = asyncio.get_running_loop()
    signals_seen: list[int] = []
    main_task = asyncio.current_task()
    running: list[asyncio.Task[EngineResult]] = []

    def on_signal(sig: int) -> None:
        signals_seen.append(sig)
        if len(signals_seen) == 1:
            reporter.event(
                "signal",
                f"{signal.Signals(sig).name}: draining in-flight tasks",
                signal=signal.Signals(sig).name,
            )
            eng.stop(reason="signal")
        else:
            reporter.event(
                "signal",
                "second signal: abandoning in-flight tasks",
                signal=signal.Signals(sig).name,
            )
            eng.stop(hard=True, reason="signal")
            for t in running:
                t.cancel()

    install_signals(loop, on_signal)
    started = time.monotonic()
    reporter.start_progress(p.total or None, p.campaign.name)
    run_task = asyncio.create_task(eng.run())
    running.append(run_task)
    ticker = asyncio.create_task(_tick(p, eng, writer=writer, reporter=reporter))
    try:
        try:
            result = await run_task
        except asyncio.CancelledError:
            if main_task is not None and main_task.cancelling():
                raise
            result = eng.result()
            result.stopped = "signal"
        await writer.flush()
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
        elapsed = time.monotonic() - started
        reporter.update_progress(
            eng.done,
            eng.done / elapsed if elapsed > 0 else 0.0,
            total=(p.total + eng.spawned) or None,
        )
        reporter.stop_progress()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    await writer.close()
    if writer.error is not None:
        raise writer.error
    return result


async def _tick(
    p: PreparedRun, eng: ShardRunner, *, writer: AsyncWriter, reporter: Reporter
) -> None:
    loop = asyncio.get_running_loop()
    t0 = last_beat = last_log = time.monotonic()
    while True:
        await asyncio.sleep(PROGRESS_S)
        now = time.monotonic()
        rate = eng.done / (now - t0) if now > t0 else 0.0
        reporter.update_progress(eng.done, rate, total=(p.total + eng.spawned) or None)
        if now - last_beat >= HEARTBEAT_S:
            last_beat = now
            await loop.run_in_executor(None, writer.run_sync, bk.heartbeat, p.engine, p.run_id)
        if now - last_log >= LOG_PROGRESS_S:
            last_log = now
            reporter.event("progress", done=eng.done, planned=eng.planned, rate=round(rate, 1))


def _conclude(
    p: PreparedRun, result: EngineResult, *, reporter: Reporter, extra_unknown: int = 0
) -> int:
    unknown = result.unknown_failures + extra_unknown
    # A stop that came when every task had started (and then finished) leaves a complete
    # run: its status says so, whatever stopped it.
    if result.stopped == "signal" and not result.complete:
        status, code = RunStatus.INTERRUPTED, 1
    elif result.stopped == "max_duration" and not result.complete:
        status, code = RunStatus.PARTIAL, 1
    else:
        status, code = RunStatus.FINISHED, 1 if unknown else 0
    bk.finish_run(p.engine, p.run_id, status=status, exit_code=code)
    stats = {name: s.as_dict() for name, s in result.stats.items()}
    reporter.event(
        "run_finished",
        f"run {p.run_id}: {status.value}, {result.tasks} tasks"
        + (f", {unknown} unknown_failure (see failure_detail)" if unknown else ""),
        run_id=p.run_id,
        status=status.value,
        exit_code=code,
        tasks=result.tasks,
        unknown_failures=unknown,
        probes=stats,
    )
    p.engine.dispose()
    return code
