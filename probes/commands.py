"""Click commands of the measurement side: ``run``, ``probe list``, ``runs ...``.

Thin: parse options, call probes.engine, map its errors to exit codes (2 = could not
run). Heavy imports happen inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click

from fragscope.db.cli_option import DB_OPTION


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"fragscope: error: {message}", err=True)
    sys.exit(code)


@click.command(name="run")
@click.option(
    "--campaign",
    "campaign_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Campaign TOML file (see campaigns/).",
)
@DB_OPTION
@click.option("--vantage", default=None, help="Vantage label (default: the campaign's).")
@click.option("--round", "round_", default=None, help="Round label grouping runs of vantages.")
@click.option("--run-id", default=None, help="Join this run UUID (shards on several machines).")
@click.option(
    "--resume",
    is_flag=False,
    flag_value="latest",
    default=None,
    metavar="[UUID]",
    help="Finish a run: the UUID given, else the latest unfinished run of this campaign "
    "and vantage. Tasks already stored are skipped.",
)
@click.option("--shard", default="0/1", show_default=True, help="Run shard I of N (I/N).")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Local processes, one event loop each; the parent writes.",
)
@click.option("--dry-run", is_flag=True, help="Print the tasks and destinations; send nothing.")
@click.option("--auto-migrate", is_flag=True, help="Migrate the database to head first.")
@click.option(
    "--lock-wait",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    metavar="SEC",
    help="Wait this long for a run of the same work to end, then exit 2.",
)
@click.option(
    "--lease",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=1),
    metavar="SEC",
    help="PostgreSQL: the run lock is a lease renewed every SEC/3 s; a holder not heard "
    "from for SEC s (dead, partitioned) loses it.",
)
@click.option(
    "--max-duration",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    metavar="SEC",
    help="Stop planning after SEC seconds, drain, mark the run partial (exit 1).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar (default: on when stderr is a terminal).",
)
@click.option("--log-json", is_flag=True, help="Log JSON lines to stderr.")
def run_command(
    campaign_path: Path,
    db_url: str | None,
    vantage: str | None,
    round_: str | None,
    run_id: str | None,
    resume: str | None,
    shard: str,
    workers: int,
    dry_run: bool,
    auto_migrate: bool,
    lock_wait: float,
    lease: float,
    max_duration: float | None,
    progress: bool | None,
    log_json: bool,
) -> None:
    """Run a campaign: plan, measure politely, store every attempt.

    Exit codes: 0 the run finished (network failures are data); 1 finished with internal
    problems (unknown_failure rows), partial (--max-duration) or interrupted; 2 could
    not run (bad campaign, lock held, database missing, damaged, read-only or not at
    this fragscope's schema).
    """
    from fragscope.db.guard import DatabaseUnusable
    from fragscope.probes.engine.campaign import CampaignError
    from fragscope.probes.engine.console import Reporter
    from fragscope.probes.engine.lock import LockHeld
    from fragscope.probes.engine.prepared_run import RunOptions
    from fragscope.probes.engine.runs import UsageError, execute

    reporter = Reporter(log_json=log_json, progress=progress)
    opts = RunOptions(
        campaign=campaign_path,
        db=db_url,
        vantage=vantage,
        round=round_,
        run_id=run_id,
        resume=resume,
        shard=shard,
        workers=workers,
        dry_run=dry_run,
        auto_migrate=auto_migrate,
        lock_wait=lock_wait,
        lease=lease,
        max_duration=max_duration,
        progress=progress,
        log_json=log_json,
    )
    try:
        code = execute(opts, reporter=reporter)
    except (CampaignError, UsageError, LockHeld, DatabaseUnusable) as exc:
        reporter.error(str(exc))
        sys.exit(2)
    sys.exit(code)


@click.group(name="campaign")
def campaign_group() -> None:
    """Check campaign files before they run."""


@campaign_group.command(name="check")
@click.argument("campaign_path", metavar="FILE", type=click.Path(path_type=Path))
@DB_OPTION
def campaign_check(campaign_path: Path, db_url: str | None) -> None:
    """Check a campaign statically (it plans, sends nothing): every endpoint gets a task,
    every namespace with canaries reaches one of its endpoints, a real contact and
    User-Agent, a root trust anchor that signs today, endpoints documented in the last
    12 months (warnings). With --db, also warn about endpoints no vantage of that
    database has seen answer for 12 months. Exit 0 when it passes (warnings allowed), 2
    on any error.
    """
    from fragscope.probes.engine.campaign import CampaignError
    from fragscope.probes.engine.runs import checked_campaign

    last_seen = None
    if db_url is not None:
        from fragscope.db.last_seen import last_seen_ok

        last_seen = last_seen_ok(_open_db(db_url))
    try:
        campaign, _, report = checked_campaign(campaign_path, last_seen=last_seen)
    except CampaignError as exc:
        _fail(str(exc))
        return
    for finding in report.warnings:
        click.echo(f"fragscope: warning: {finding}", err=True)
    for finding in report.errors:
        click.echo(f"fragscope: error: {finding}", err=True)
    verdict = "FAILS" if report.errors else "passes"
    click.echo(
        f"{campaign.path}: {verdict}: {len(report.errors)} errors, "
        f"{len(report.warnings)} warnings, nothing sent"
    )
    sys.exit(2 if report.errors else 0)


def _open_db(db_url: str | None, *, writes: bool = False) -> Any:
    from fragscope.db.guard import open_database

    return open_database(db_url, writes=writes)


@click.group(name="probe")
def probes_group() -> None:
    """Inspect the registered probes (and run single probes: added by the probe modules)."""


@probes_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def probe_list(as_json: bool) -> None:
    """List registered probes with their versions, tables and config help."""
    import json

    from fragscope.probes import registry

    out = []
    for name, cls in registry.all_probes().items():
        fields = [
            {
                "name": f.name,
                "type": str(f.type),
                "default": _default(f),
                "help": f.metadata.get("help", ""),
            }
            for f in dataclasses.fields(cls.config_class)
        ]
        out.append(
            {
                "name": name,
                "version": cls.version,
                "table": cls.table,
                "uses_endpoints": cls.uses_endpoints,
                "batch_size": getattr(cls, "batch_size", None),
                "doc": (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0],
                "config": fields,
            }
        )
    if as_json:
        click.echo(json.dumps(out, indent=2, default=str))
        return
    for p in out:
        click.echo(f"{p['name']}  v{p['version']}  -> {p['table']}")
        if p["doc"]:
            click.echo(f"    {p['doc']}")
        for f in p["config"]:
            click.echo(f"    {f['name']} ({f['type']}, default {f['default']!r}): {f['help']}")


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


@click.group(name="runs")
def runs_group() -> None:
    """List, show and prune runs."""


@runs_group.command(name="list")
@DB_OPTION
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
def runs_list(db_url: str | None, limit: int) -> None:
    """The latest runs, with status (a running run with a stale heartbeat is marked, and a
    run lock still held by the orphans of a dead run is reported)."""
    from sqlalchemy import text

    from fragscope.db.connection import resolve_url, sqlite_path
    from fragscope.probes.engine.lock import lock_files

    engine = _open_db(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT r.id, r.campaign, v.label, r.round, r.status, r.started_at, "
                "r.heartbeat_at, (SELECT COUNT(*) FROM tasks_done d WHERE d.run_id = r.id) "
                "FROM runs r LEFT JOIN vantages v ON v.id = r.vantage_id "
                "ORDER BY r.started_at DESC LIMIT :n"
            ),
            {"n": limit},
        ).all()
    if not rows:
        click.echo("no runs")
        return
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    click.echo(f"{'run':36}  {'campaign':16}  {'vantage':10}  {'status':18}  {'tasks':>8}  started")
    db_file = sqlite_path(resolve_url(db_url))
    stale_locks = [lf for lf in lock_files(db_file) if lf.stale] if db_file else []
    for rid, campaign, vantage, _round, status, started, beat, tasks in rows:
        status_text = status
        if status == "running" and _stale(beat, now):
            status_text = "running (stale)"
        click.echo(
            f"{rid:36}  {campaign[:16]:16}  {(vantage or '-')[:10]:10}  {status_text:18}  "
            f"{tasks:>8}  {str(started)[:19]}"
        )
    for lf in stale_locks:
        campaign, _, rest = lf.name.partition("\x1f")
        vantage, _, shard = rest.partition("\x1f")
        click.echo(
            f"stale lock: campaign {campaign!r}, vantage {vantage!r}, shard {shard} is held by "
            f"processes {', '.join(map(str, lf.holders))} left behind by dead run process "
            f"{lf.holder} ({lf.path}); `fragscope run --resume` takes it over"
        )


def _stale(beat: Any, now: dt.datetime) -> bool:
    from fragscope.probes.engine.runs import HEARTBEAT_S

    if beat is None:
        return True
    if isinstance(beat, str):
        beat = dt.datetime.fromisoformat(beat)
    return bool((now - beat).total_seconds() > 6 * HEARTBEAT_S)


@runs_group.command(name="show")
@DB_OPTION
@click.argument("run", default="latest")
def runs_show(db_url: str | None, run: str) -> None:
    """Details of one run (UUID, prefix or 'latest'): config, software, counts."""
    import json

    from fragscope.probes.engine import bookkeeping as bk
    from fragscope.probes.engine.runlookup import NoSuchRun, resolve_run

    engine = _open_db(db_url)
    try:
        run_id = resolve_run(engine, run)
    except NoSuchRun as exc:
        _fail(str(exc))
        return
    row = bk.get_run(engine, run_id)
    assert row is not None
    row["tasks_done"] = bk.counts_by_probe(engine, run_id)
    click.echo(json.dumps(row, indent=2, default=str))


@runs_group.command(name="prune")
@DB_OPTION
@click.option("--run", "run_ids", multiple=True, help="A run UUID to delete (repeatable).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["running", "finished", "partial", "interrupted", "failed"]),
    help="Delete runs with this status (repeatable).",
)
@click.option(
    "--older-than",
    type=click.FloatRange(min=0),
    default=None,
    metavar="DAYS",
    help="Only runs started more than DAYS days ago.",
)
@click.option("--yes", is_flag=True, help="Delete; without it, only list what would go.")
def runs_prune(
    db_url: str | None,
    run_ids: tuple[str, ...],
    statuses: tuple[str, ...],
    older_than: float | None,
    yes: bool,
) -> None:
    """Delete runs and every row they own (observations, ledger, targets)."""
    from sqlalchemy import delete, select

    from fragscope.db.models import Run

    if not (run_ids or statuses or older_than is not None):
        _fail("say what to prune: --run, --status and/or --older-than")
    engine = _open_db(db_url, writes=yes)
    query = select(Run.id, Run.status, Run.started_at)
    if run_ids:
        query = query.where(Run.id.in_(run_ids))
    if statuses:
        query = query.where(Run.status.in_(statuses))
    if older_than is not None:
        cutoff = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=older_than)
        query = query.where(Run.started_at < cutoff)
    with engine.connect() as conn:
        victims = conn.execute(query).all()
    for rid, status, started in victims:
        click.echo(f"{'deleting' if yes else 'would delete'} {rid} ({status}, {started})")
    if yes and victims:
        with engine.begin() as conn:
            # Foreign keys cascade (SQLite PRAGMA foreign_keys=ON, PostgreSQL ON DELETE).
            conn.execute(delete(Run).where(Run.id.in_([v[0] for v in victims])))
    if not victims:
        click.echo("nothing to prune")
