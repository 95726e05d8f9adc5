"""Click commands of the job side: ``round submit``, ``round status``, ``round schedule``
and ``worker`` (docs/operations.md, "Many machines").

Thin: parse options, call fragscope.jobs, map errors to exit codes (2 = could not run).
Heavy imports happen inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fragscope.db.cli_option import DB_OPTION

HEARTBEAT_S = 10.0
LEASE_S = 60.0

VANTAGES_OPTION = click.option(
    "--vantage",
    "vantages",
    multiple=True,
    required=True,
    help="A vantage measuring the round (repeat); its workers take its queue.",
)
SHARDS_OPTION = click.option(
    "--shards",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Shards per vantage: one job each, run by any worker of the vantage.",
)
CAMPAIGN_OPTION = click.option(
    "--campaign",
    "campaign_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Campaign TOML file, at the same path on every worker.",
)


def _could_not_run(exc: Exception) -> None:
    click.echo(f"fragscope: error: {exc}", err=True)
    sys.exit(2)


def _postgres_url(db_url: str | None) -> str:
    """The --db URL, which must name PostgreSQL (the queue lives there): else exit 2
    before anything is opened, let alone written."""
    from fragscope.db.connection import resolve_url
    from fragscope.jobs.queue import conninfo

    url = resolve_url(db_url)
    try:
        conninfo(url)
    except ValueError as exc:
        _could_not_run(exc)
    return url


@click.group(name="round")
def round_group() -> None:
    """Rounds across machines: shard jobs on PostgreSQL, run by `fragscope worker`."""


@round_group.command(name="submit")
@CAMPAIGN_OPTION
@click.option("--round", "round_", required=True, help="The round's label (e.g. 2026-W49).")
@VANTAGES_OPTION
@SHARDS_OPTION
@DB_OPTION
def round_submit(
    campaign_path: Path, round_: str, vantages: tuple[str, ...], shards: int, db_url: str | None
) -> None:
    """Defer one job per (run, vantage, shard), each to its vantage's queue; print the
    run of each vantage. Exit 2 if it could not (bad campaign or labels, database not
    PostgreSQL or not at this fragscope's schema)."""
    from fragscope.db.guard import DatabaseUnusable
    from fragscope.jobs.rounds import submit
    from fragscope.probes.engine.campaign import CampaignError
    from fragscope.probes.engine.runs import UsageError

    url = _postgres_url(db_url)
    try:
        done = submit(url, campaign_path, round_, vantages, shards)
    except (CampaignError, UsageError, DatabaseUnusable, ValueError) as exc:
        _could_not_run(exc)
        return
    for vantage, run_id in done.runs.items():
        click.echo(f"{vantage}\t{run_id}\t{shards} shards")
    click.echo(f"# round {round_}: {len(done.job_ids)} jobs submitted")


@round_group.command(name="status")
@click.argument("round_", metavar="ROUND")
@DB_OPTION
@click.option(
    "--stall-after",
    default=3 * HEARTBEAT_S,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    metavar="SEC",
    help="A worker silent this long is dead: its shard's missing tasks count as stale.",
)
def round_status(round_: str, db_url: str | None, stall_after: float) -> None:
    """Per vantage and shard: the job's state, tasks planned, stored, failed (stored
    with a failure) and stale (neither stored nor in a live worker's hands)."""
    from fragscope.db.guard import DatabaseUnusable
    from fragscope.jobs.rounds import status

    url = _postgres_url(db_url)
    try:
        rows = status(url, round_, stall_after=stall_after)
    except (DatabaseUnusable, ValueError) as exc:
        _could_not_run(exc)
        return
    if not rows:
        _could_not_run(ValueError(f"no jobs of round {round_!r} in this database"))
    click.echo("vantage\tshard\tjob\tattempts\tplanned\tstored\tfailed\tstale\trun")
    for r in rows:
        click.echo(
            f"{r.vantage}\t{r.shard}/{r.shards}\t{r.job}\t{r.attempts}\t{r.planned}\t"
            f"{r.stored}\t{r.failed}\t{r.stale}\t{r.run_id}"
        )


@round_group.command(name="schedule")
@CAMPAIGN_OPTION
@click.option("--cron", required=True, help='When to submit a round, e.g. "17 3 * * 1".')
@VANTAGES_OPTION
@SHARDS_OPTION
@DB_OPTION
def round_schedule(
    campaign_path: Path, cron: str, vantages: tuple[str, ...], shards: int, db_url: str | None
) -> None:
    """Submit a round on a cron schedule (procrastinate's periodic tasks), labelled with
    the ISO week of each tick; runs until SIGTERM. The alternative to a cron line of
    `round submit`; run one per campaign."""
    import asyncio

    from fragscope.jobs.queue import COORDINATOR_QUEUE, JobQueue, PeriodicRound
    from fragscope.jobs.rounds import submit

    url = _postgres_url(db_url)

    async def submit_round(label: str) -> None:
        await asyncio.to_thread(submit, url, campaign_path, label, vantages, shards)

    async def no_shards(_job: object) -> None:
        raise RuntimeError("the schedule worker runs no shard")

    queue = JobQueue(url)
    queue.install()
    periodic = PeriodicRound(cron, submit_round, schedule_id=str(campaign_path.resolve()))
    queue.work(
        COORDINATOR_QUEUE,
        no_shards,
        heartbeat=HEARTBEAT_S,
        stall_after=3 * HEARTBEAT_S,
        on_stop=lambda: None,
        periodic=periodic,
    )


@click.command(name="worker")
@click.option("--vantage", required=True, help="Take only this vantage's jobs.")
@DB_OPTION
@click.option(
    "--lease",
    default=LEASE_S,
    show_default=True,
    type=click.FloatRange(min=1),
    metavar="SEC",
    help="The shard's run lease: another worker takes the shard over SEC s after this "
    "one was last heard from.",
)
@click.option(
    "--heartbeat",
    default=HEARTBEAT_S,
    show_default=True,
    type=click.FloatRange(min=0.1),
    metavar="SEC",
    help="Beat every SEC s; a worker of the vantage silent for 3 x SEC is dead and its "
    "job goes back to the queue.",
)
@click.option("--log-json", is_flag=True, help="Log JSON lines to stderr.")
def worker_command(
    vantage: str, db_url: str | None, lease: float, heartbeat: float, log_json: bool
) -> None:
    """Run the vantage's shard jobs, one at a time, each as `fragscope run`, until SIGTERM
    or SIGINT: then the shard in hand drains, its job goes back to the queue, exit 0."""
    from fragscope.jobs.worker import run_worker
    from fragscope.probes.engine.console import Reporter
    from fragscope.probes.engine.labels import VANTAGE_LIMIT, label_problem

    if (problem := label_problem(vantage, limit=VANTAGE_LIMIT)) is not None:
        _could_not_run(ValueError(f"--vantage: {problem}"))
    url = _postgres_url(db_url)
    reporter = Reporter(log_json=log_json, progress=False)
    sys.exit(run_worker(url, vantage, lease=lease, heartbeat=heartbeat, reporter=reporter))


@round_group.command(name="roles")
@DB_OPTION
@click.option("--worker", "workers", multiple=True, help="Create the login role of a vantage.")
@click.option("--analyst", "analysts", multiple=True, help="Create an analyst login role.")
@click.option("--print-sql", is_flag=True, help="Print the statements instead of running them.")
def round_roles(
    db_url: str | None, workers: tuple[str, ...], analysts: tuple[str, ...], print_sql: bool
) -> None:
    """Create the roles of a shared database (docs/operations.md, "Roles"): the worker and
    analyst groups with their rights and row-level security policies, a login role
    ``fragscope_worker_VANTAGE`` per --worker and one per --analyst (no password: set one,
    or use client certificates). Run it as the database's owner, after `db upgrade`;
    again to add roles."""
    from sqlalchemy import text

    from fragscope.db.guard import DatabaseUnusable, open_database
    from fragscope.jobs.queue import JobQueue
    from fragscope.jobs.roles import roles_sql

    try:
        statements = roles_sql(workers, analysts)
    except ValueError as exc:
        _could_not_run(exc)
        return
    if print_sql:
        click.echo(";\n".join(statements) + ";")
        return
    url = _postgres_url(db_url)
    try:
        engine = open_database(url, writes=True)
        JobQueue(url).install()
    except (DatabaseUnusable, ValueError) as exc:
        _could_not_run(exc)
        return
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()
    click.echo(f"roles: {len(workers)} worker(s), {len(analysts)} analyst(s)")
