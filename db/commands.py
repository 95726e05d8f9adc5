"""``fragscope db ...``: upgrade, describe, export, merge, anonymize. Does I/O (database, files)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from fragscope.db import migrate
from fragscope.db.cli_option import DB_OPTION
from fragscope.db.guard import open_database


@click.group(name="db")
def db_group() -> None:
    """Create, migrate, document, export and merge fragscope databases."""


@db_group.command()
@DB_OPTION
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade(db_url: str | None, revision: str) -> None:
    """Create the database or migrate it to the latest schema."""
    engine = open_database(db_url, writes=True, creates=True, accepts_older=True)
    before = migrate.current_revision(engine)
    migrate.upgrade(engine, revision)
    after = migrate.current_revision(engine)
    click.echo(f"database {engine.url.render_as_string(hide_password=True)}: {before} -> {after}")


@db_group.command()
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    default="docs/schema.md",
    show_default=True,
    help="Markdown reference of every table and column.",
)
@click.option(
    "--metadata",
    type=click.Path(dir_okay=False),
    default="docs/metadata.json",
    show_default=True,
    help="datasette-style metadata.json.",
)
def describe(output: str, metadata: str) -> None:
    """Write docs/schema.md and metadata.json from the models."""
    from fragscope.db.describe import metadata_json, schema_markdown

    for path in (output, metadata):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(output, "w", encoding="utf-8") as fh:
        fh.write(schema_markdown())
    with open(metadata, "w", encoding="utf-8") as fh:
        fh.write(metadata_json())
    click.echo(f"wrote {output} and {metadata}", err=not sys.stdout.isatty())


@db_group.command()
@DB_OPTION
@click.option("--drop", is_flag=True, help="Remove the research indexes instead.")
def index(db_url: str | None, drop: bool) -> None:
    """Add (or --drop) indexes for ad-hoc queries: target, qname/qtype, answer name/type.

    The observation tables leave them out so that inserts stay fast; build them after a
    campaign, drop them before the next large one.
    """
    from fragscope.db import research_indexes

    engine = open_database(db_url, writes=True)
    names = research_indexes.drop(engine) if drop else research_indexes.create(engine)
    verb = "dropped" if drop else "created"
    click.echo(f"{verb} {len(names)} index(es)" + "".join(f"\n  {n}" for n in names))


@db_group.command()
@DB_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl", "parquet"]),
    required=True,
    help="csv (BLOBs hex), jsonl (BLOBs base64) or parquet (needs fragscope[parquet]).",
)
@click.option(
    "--output",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    required=True,
    help="Directory to write into (created; files of an earlier export are replaced).",
)
@click.option("--run", "run_id", default=None, help="Export only this run (UUID).")
@click.option("--round", "round_name", default=None, help="Export only the runs of this round.")
def export(
    db_url: str | None, fmt: str, out_dir: str, run_id: str | None, round_name: str | None
) -> None:
    """Export every table to csv, jsonl or parquet files.

    Observation tables (and their child tables) go to
    DIR/<table>/round=<round>/vantage=<id>/run-<uuid>.<ext>, the others to
    DIR/<table>.<ext>; DIR/manifest.json lists every file and its rows. A parquet export
    is what `fragscope indicators compute --from-parquet DIR` reads.
    """
    from fragscope.db.export import ExportError
    from fragscope.db.export import export as run_export

    engine = open_database(db_url)
    try:
        files = run_export(engine, out_dir, fmt=fmt, run_id=run_id, round_name=round_name)
    except ExportError as exc:
        raise click.UsageError(str(exc)) from exc
    finally:
        engine.dispose()
    click.echo(f"wrote {len(files)} files, {sum(files.values())} rows, to {out_dir}")


@db_group.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--into", required=True, help="Target database (URL or SQLite path; created).")
@click.option("--run", "run_ids", multiple=True, help="Copy only this run (UUID); repeatable.")
def merge(sources: tuple[str, ...], into: str, run_ids: tuple[str, ...]) -> None:
    """Copy the runs of SOURCES into one database, idempotently.

    Runs are identified by UUID and rows by client-assigned ids: merging twice, or merging
    two shard databases of one run, adds each row once. Sources must be at the latest
    schema (fragscope db upgrade); the --into database is created or upgraded.
    """
    from fragscope.db.merge import MergeError
    from fragscope.db.merge import merge as run_merge

    try:
        report = run_merge(list(sources), into, run_ids=list(run_ids) or None)
    except MergeError as exc:
        raise click.UsageError(str(exc)) from exc
    for source, added in report.added.items():
        rows = ", ".join(f"{t} {n}" for t, n in added.items() if n)
        click.echo(f"{source}: added {sum(added.values())} rows ({rows or 'nothing new'})")


@db_group.command()
@DB_OPTION
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def anonymize(db_url: str | None, out: Path) -> None:
    """Write OUT, a copy of the database without egress addresses (whoami answers, raw
    replies and every column that repeats them); the database itself is only read.
    SQLite only. Exit 2 when OUT exists or the database cannot be used."""
    from fragscope.db.anonymize import AnonymizeError, anonymize_copy
    from fragscope.db.connection import sqlite_path

    engine = open_database(db_url)
    path = sqlite_path(engine.url.render_as_string(hide_password=False))
    if path is None:
        click.echo("fragscope: error: db anonymize copies SQLite databases only", err=True)
        sys.exit(2)
    try:
        report = anonymize_copy(Path(path), out)
    except AnonymizeError as exc:
        click.echo(f"fragscope: error: {exc}", err=True)
        sys.exit(2)
    for column, rows in report.changed.items():
        click.echo(f"{column}: {rows} rows scrubbed")
    click.echo(f"wrote {out}: {report.addresses} egress addresses removed")


@click.command(name="explore")
@DB_OPTION
@click.option(
    "--port", default=8001, show_default=True, type=click.IntRange(1, 65535), help="TCP port."
)
def explore_command(db_url: str | None, port: int) -> None:
    """Open a SQLite database in datasette on http://127.0.0.1:PORT (needs fragscope[explore]).

    Tables carry their column docs; canned queries answer common questions (QUIC adoption
    by operator, answer divergence by resolver, failures by probe). Bound to loopback only:
    tunnel it (ssh -L) to look from elsewhere. Ctrl-C stops it.
    """
    import tempfile
    from pathlib import Path

    from fragscope.db.connection import is_sqlite, resolve_url, sqlite_path
    from fragscope.db.explore import ExploreError, serve

    url = resolve_url(db_url)
    path = sqlite_path(url) if is_sqlite(url) else None
    if not path:
        raise click.UsageError(
            "--db: datasette reads SQLite files; copy a PostgreSQL database into one with "
            "`fragscope db merge POSTGRES_URL --into FILE.sqlite` first"
        )
    # Immutable, like datasette's view of it (db.explore): even a read-only directory works.
    open_database(path, immutable=True).dispose()
    click.echo(f"serving {path} on http://127.0.0.1:{port}/ (Ctrl-C stops)", err=True)
    try:
        with tempfile.TemporaryDirectory(prefix="fragscope-explore-") as tmp:
            code = serve(Path(path), Path(tmp), port=port)
    except ExploreError as exc:
        raise click.UsageError(str(exc)) from exc
    sys.exit(code)
