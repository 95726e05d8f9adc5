"""The ``--db`` command-line option, declared once for every command that opens the
database. No I/O.

Every package may import db, so the probe, analysis, report and db commands all take this
one decorator: one help text, and the same fallback everywhere (``--db``, else the
``FRAGSCOPE_DB`` environment variable, else ./fragscope.sqlite; db.connection.resolve_url).
"""

from __future__ import annotations

import click

DB_OPTION = click.option(
    "--db",
    "db_url",
    envvar="FRAGSCOPE_DB",
    default=None,
    help="SQLAlchemy URL or SQLite path (default: FRAGSCOPE_DB, else ./fragscope.sqlite).",
)
"""Adds ``db_url: str | None`` to a click command."""
