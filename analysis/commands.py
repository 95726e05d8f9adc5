"""``fragscope indicators ...``: list, compute, explain, summary. Does I/O (database, files).

Bad input (unknown run, round or code, an unreadable mapping, an un-migrated or empty
database) exits 2 with a message naming the option.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from sqlalchemy import Engine

from fragscope.analysis import asn, docs, scope
from fragscope.analysis.compute import Computation, compute, jsonable, store
from fragscope.analysis.registry import REGISTRY
from fragscope.analysis.result import Estimate
from fragscope.db.cli_option import DB_OPTION
from fragscope.db.guard import open_database


def _scope_options(fn: Any) -> Any:
    fn = click.option(
        "--round", "round_name", default=None, help="Every run of this round (vantages)."
    )(fn)
    fn = click.option(
        "--run", "run", default="latest", show_default=True, help="A run id, or latest."
    )(fn)
    fn = click.option(
        "--asn-map",
        default=None,
        help="pyasn-format IP-to-ASN file (N1, N5, N7, T7); 'lab' for the lab's own mapping.",
    )(fn)
    fn = click.option(
        "--control",
        "control_label",
        default=scope.DEFAULT_CONTROL,
        show_default=True,
        help="Label of the control vantage.",
    )(fn)
    return DB_OPTION(fn)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _compute(
    db_url: str | None,
    run: str,
    round_name: str | None,
    asn_map: str | None,
    control: str,
    *,
    writes: bool = False,
) -> tuple[Engine, Computation]:
    engine = open_database(db_url, writes=writes)
    return engine, _compute_on(engine, run, round_name, asn_map, control, writes=writes)


def _compute_on(
    engine: Engine,
    run: str,
    round_name: str | None,
    asn_map: str | None,
    control: str,
    *,
    writes: bool = False,
) -> Computation:
    mapping = None
    try:
        if asn_map == "lab":
            mapping = asn.load_lab()
        elif asn_map:
            mapping = asn.load(asn_map)
    except asn.MappingError as exc:
        _fail(f"--asn-map: {exc}")
    try:
        runs = scope.select_runs(engine, run=run, round_name=round_name)
    except scope.ScopeError as exc:
        _fail(str(exc))
    if writes:
        judge_bridges(engine, runs)
    return compute(engine, runs, mapping=mapping, control_label=control)


def judge_bridges(engine: Engine, runs: list[scope.RunInfo]) -> None:
    """Judge the runs' bridge and gateway lookups against their on-chain answers (sets
    naming_observations.fidelity, which N4's AGF counts) before computing, so a stored
    AGF never rests on verdicts missing or older than the rows. The judge belongs to the
    naming probe (probes/naming/fidelity.py, also ``fragscope naming fidelity``); the
    indicator code (analysis/naming.py) only reads its verdicts."""
    from fragscope.probes.naming.fidelity import update_runs

    update_runs(engine, [r.id for r in runs])


@click.group(name="indicators")
def indicators_group() -> None:
    """Fragmentation indicators: the catalogue, computing, explaining."""


@indicators_group.command(name="list")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="text for terminals, markdown for docs/indicators.md, json for machines.",
)
def list_cmd(fmt: str) -> None:
    """The indicator catalogue with each formula."""
    click.echo({"text": docs.text, "markdown": docs.markdown, "json": docs.as_json}[fmt]())


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


@indicators_group.command(name="compute")
@_scope_options
@click.option("--no-store", is_flag=True, help="Print only; do not write indicator_values.")
@click.option(
    "--from-parquet",
    "parquet_dir",
    default=None,
    type=click.Path(),
    help="Compute with DuckDB over a `db export --format parquet` directory instead of "
    "--db (prints only: the export is read, never written).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for terminals, json (one object per value) for machines.",
)
def compute_cmd(
    db_url: str | None,
    run: str,
    round_name: str | None,
    asn_map: str | None,
    control_label: str,
    no_store: bool,
    parquet_dir: str | None,
    fmt: str,
) -> None:
    """Compute every indicator for a run (default: the latest) or a round, and store them.

    With --from-parquet DIR the same queries run on DuckDB over the exported files and
    the values are printed, not stored (docs/operations.md, "Analysis at scale")."""
    if parquet_dir is not None:
        if db_url is not None:
            _fail("--from-parquet and --db: give one of them (the export is the data)")
        engine, comp = _compute_parquet(parquet_dir, run, round_name, asn_map, control_label)
        no_store = True
    else:
        engine, comp = _compute(
            db_url, run, round_name, asn_map, control_label, writes=not no_store
        )
    labels = {r.id: r.vantage_label for r in comp.runs}
    if fmt == "json":
        click.echo(json.dumps([_as_json(e, labels) for e in comp.estimates], indent=2))
    for e in comp.estimates if fmt == "table" else ():
        ci = f"[{_fmt(e.ci_low)}, {_fmt(e.ci_high)}]" if e.value is not None else ""
        tail = f"n={e.n}" if e.value is not None else f"{e.status.replace('_', ' ')}: {e.reason}"
        click.echo(f"{labels[e.run_id]:<12} {e.code:<3} {_fmt(e.value):>6} {ci:<16} {tail}")
    if not no_store:
        written = store(engine, comp)
        click.echo(f"stored {written} values in indicator_values", err=True)
    engine.dispose()


def _compute_parquet(
    directory: str, run: str, round_name: str | None, asn_map: str | None, control: str
) -> tuple[Engine, Computation]:
    from fragscope.analysis.dataset import DatasetError, open_dataset

    try:
        engine = open_dataset(directory)
    except DatasetError as exc:
        _fail(str(exc))
    try:
        return engine, _compute_on(engine, run, round_name, asn_map, control)
    finally:
        engine.dispose()


def _as_json(e: Estimate, labels: dict[str, str]) -> dict[str, Any]:
    """One value as `--format json` prints it: the indicator_values columns and the label."""
    return {
        "run_id": e.run_id,
        "vantage": labels[e.run_id],
        "vantage_id": e.vantage_id,
        "code": e.code,
        "version": e.version,
        "value": e.value,
        "n": e.n,
        "ci_low": e.ci_low,
        "ci_high": e.ci_high,
        "status": e.status,
        "reason": e.reason,
        "params": jsonable(e.params),
    }


@indicators_group.command(name="explain")
@click.argument("code")
@_scope_options
@click.option("--limit", default=50, show_default=True, help="Rows shown per table.")
def explain_cmd(
    code: str,
    db_url: str | None,
    run: str,
    round_name: str | None,
    asn_map: str | None,
    control_label: str,
    limit: int,
) -> None:
    """The observations behind CODE's value: targets, resolvers, rows."""
    from fragscope.analysis.explain import explain, render

    if code.upper() not in REGISTRY:
        _fail(f"CODE: unknown indicator {code!r} (known: {', '.join(REGISTRY)})")
    engine, comp = _compute(db_url, run, round_name, asn_map, control_label)
    for r in comp.runs:
        click.echo(render(explain(engine, comp, code.upper(), r.id, limit=limit)))


@indicators_group.command(name="summary")
@_scope_options
@click.option("--output", "-o", type=click.Path(dir_okay=False), default="-", help="JSON file.")
def summary_cmd(
    db_url: str | None,
    run: str,
    round_name: str | None,
    asn_map: str | None,
    control_label: str,
    output: str,
) -> None:
    """The Summary (canonical JSON, analysis/summary.schema.json) that reports render."""
    from fragscope.analysis.summary import build

    engine, comp = _compute(db_url, run, round_name, asn_map, control_label)
    text = build(engine, comp, everyone=scope.all_runs(engine)).to_json()
    with click.open_file(output, "w") as fh:
        fh.write(text + "\n")
