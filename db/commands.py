"""``fragscope db ...``: upgrade, describe, export, merge. Does I/O (the database, files)."""

from __future__ import annotations

import sys

import click

from db import migrate
from db.engine import make_engine

DB_OPTION = click.option(
    "--db",
    "db_url",
    envvar="FRAGSCOPE_DB",
    default=None,
    help="SQLAlchemy URL or SQLite path (default: FRAGSCOPE_DB, else ./fragscope.sqlite).",
)


@click.group(name="db")
def db_group() -> None:
    """Create, migrate, document, export and merge fragscope databases."""


@db_group.command()
@DB_OPTION
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade(db_url: str | None, revision: str) -> None:
    """Create the database or migrate it to the latest schema."""
    engine = make_engine(db_url)
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
    from db.describe import metadata_json, schema_markdown

    with open(output, "w", encoding="utf-8") as fh:
        fh.write(schema_markdown())
    with open(metadata, "w", encoding="utf-8") as fh:
        fh.write(metadata_json())
    click.echo(f"wrote {output} and {metadata}", err=not sys.stdout.isatty())
