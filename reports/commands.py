"""``fragscope summarize``: build the Summary through analysis' API (computing and storing
indicators for runs that have none stored), then render it. Reads and writes the database
(indicator_values, and the bridge fidelity verdicts of naming_observations) and writes the
report file.

Bad input (unknown run or round, a bad --since date, an un-migrated or empty database)
exits 2 with a message naming the option.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import sys
from typing import NoReturn

import click
from sqlalchemy import Engine, select

from fragscope.analysis import asn, scope
from fragscope.analysis.commands import judge_bridges
from fragscope.analysis.compute import compute, store
from fragscope.analysis.summary import Summary, build
from fragscope.db.cli_option import DB_OPTION
from fragscope.db.guard import open_database
from fragscope.db.models import IndicatorValue
from fragscope.reports import FORMATS, render


class SummarizeError(ValueError):
    """Bad input or an unusable database: the CLI exits 2 with this message."""


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def parse_since(text: str) -> dt.datetime:
    """A date (YYYY-MM-DD) or ISO date-time; naive UTC like runs.started_at."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SummarizeError(f"--since {text!r}: not a date (YYYY-MM-DD or ISO 8601)") from None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when


def _resolve_prefix(engine: Engine, run: str) -> str:
    """A unique prefix of a run id names that run (as `git` does with commits)."""
    matches = [r.id for r in scope.all_runs(engine) if r.id.startswith(run)]
    if len(matches) > 1:
        raise SummarizeError(f"--run {run!r}: ambiguous, matches {len(matches)} runs")
    return matches[0] if matches else run


def select_runs(
    engine: Engine, *, run: str, round_name: str | None, since: dt.datetime | None
) -> list[scope.RunInfo]:
    """The runs in scope: --round, else --since (every run since then), else --run."""
    try:
        if since is not None and round_name is None and run == "latest":
            everyone = scope.all_runs(engine)
            if not everyone:
                raise scope.ScopeError("the database holds no runs: run `fragscope run` first")
            runs = [r for r in everyone if r.started_at >= since]
        else:
            if round_name is None and run != "latest":
                run = _resolve_prefix(engine, run)
            runs = scope.select_runs(engine, run=run, round_name=round_name)
            if since is not None:
                runs = [r for r in runs if r.started_at >= since]
    except scope.ScopeError as exc:
        raise SummarizeError(str(exc)) from None
    if not runs:
        raise SummarizeError(f"--since {since:%Y-%m-%d %H:%M}: no run in scope started since")
    return runs


def _stored(engine: Engine, run_ids: list[str]) -> set[str]:
    iv = IndicatorValue.__table__
    with engine.connect() as conn:
        return set(
            conn.execute(select(iv.c.run_id).where(iv.c.run_id.in_(run_ids)).distinct()).scalars()
        )


def summarize(
    engine: Engine,
    runs: list[scope.RunInfo],
    *,
    mapping: asn.AsnMap | None = None,
    control_label: str = scope.DEFAULT_CONTROL,
) -> Summary:
    """The Summary of ``runs``. Indicators of runs in scope, and of the previous runs their
    trends compare with, are computed and stored first when none are stored; the bridge
    fidelity of the runs it computes is judged first, as ``indicators compute`` does."""
    everyone = scope.all_runs(engine)
    previous = [p for r in runs if (p := scope.previous_run(r, everyone)) is not None]
    earlier = [p for p in previous if p.id not in {r.id for r in runs}]
    stored = _stored(engine, [p.id for p in earlier])
    todo = [p for p in dict.fromkeys(earlier) if p.id not in stored]
    judge_bridges(engine, [*todo, *runs])
    if todo:
        # Oldest first, so each stored run can serve as the next one's previous run.
        store(engine, compute(engine, todo, mapping=mapping, control_label=control_label))
    comp = compute(engine, runs, mapping=mapping, control_label=control_label)
    have = _stored(engine, [r.id for r in runs])
    fresh = [r for r in runs if r.id not in have]
    if fresh:
        ids = {r.id for r in fresh}
        store(
            engine,
            dataclasses.replace(
                comp, runs=fresh, estimates=[e for e in comp.estimates if e.run_id in ids]
            ),
        )
    return build(engine, comp, everyone=everyone)


def open_engine(db_url: str | None) -> Engine:
    # Writes: indicator values not stored yet are stored for the next report.
    return open_database(db_url, writes=True)


@click.command(name="summarize")
@DB_OPTION
@click.option(
    "--run", default="latest", show_default=True, help="A run id (or a unique prefix), or latest."
)
@click.option("--round", "round_name", default=None, help="Every run of this round (vantages).")
@click.option(
    "--since",
    default=None,
    help="Only runs started on or after this date (YYYY-MM-DD); alone: every such run.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text (terminal), markdown (forges, e-mail), html (one self-contained file), "
    "json (canonical, analysis/summary.schema.json).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    default="-",
    help="File to write (default: standard output).",
)
@click.option(
    "--asn-map",
    default=None,
    help="pyasn-format IP-to-ASN file (N1, N5, N7, T7); 'lab' for the lab's own mapping.",
)
@click.option(
    "--control",
    "control_label",
    default=scope.DEFAULT_CONTROL,
    show_default=True,
    help="Label of the control vantage.",
)
def summarize_command(
    db_url: str | None,
    run: str,
    round_name: str | None,
    since: str | None,
    fmt: str,
    output: str,
    asn_map: str | None,
    control_label: str,
) -> None:
    """Report on a run (default: the latest), a round or every run since a date."""
    try:
        when = parse_since(since) if since else None
        engine = open_engine(db_url)
        mapping = None
        try:
            mapping = asn.load_lab() if asn_map == "lab" else asn.load(asn_map) if asn_map else None
        except asn.MappingError as exc:
            raise SummarizeError(f"--asn-map: {exc}") from None
        runs = select_runs(engine, run=run, round_name=round_name, since=when)
        doc = summarize(engine, runs, mapping=mapping, control_label=control_label).to_dict()
    except SummarizeError as exc:
        _fail(str(exc))
    # Colour only for a terminal, and never when NO_COLOR is set (no-color.org).
    color = (
        output == "-" and fmt == "text" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    )
    text = render(doc, fmt, color=color)
    try:
        with click.open_file(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        _fail(f"--output: cannot write {output}: {exc.strerror or exc}")
