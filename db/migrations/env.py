"""Alembic environment: migrates the connection db.migrate hands in. Does I/O."""

from __future__ import annotations

from alembic import context

from fragscope.db.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through db.migrate
    raise RuntimeError("run migrations through db.migrate (fragscope db upgrade)")

# render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead.
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
