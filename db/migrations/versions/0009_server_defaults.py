"""server-side defaults for NOT NULL columns with a model default; probe columns nullable;
failure dns_cname_loop

Revision ID: 0700_server_defaults
Revises: 0600_naming_namespace
Create Date: 2026-12-07

Issue 18, finding 1: ``dns_observations.purpose`` (and ``late``, ``duplicate``) had only
an ORM default, so any INSERT that left them out -- the engine's own failure rows for
dns.query (blocked_by_policy, deadline, unknown_failure) -- was refused with ``NOT NULL
constraint failed`` and the batch lost. The writer now fills the model's defaults in
(db.writer.column_defaults); this revision gives every NOT NULL column that has a model
default the same default on the server, for every other writer. The probe columns that were NOT NULL without a default
(``quic_observations.stage``, the transport tables' address, ``naming_observations.method``
...) become nullable: a row the engine makes itself (blocked_by_policy, its deadline)
carries the envelope alone, and those columns refused it the same way.

The failure vocabulary gains ``dns_cname_loop`` (finding 5: a CNAME chain that comes back
to a name it has passed, RFC 1034 section 3.6.2).

SQLite changes a column's default by copying the table (batch mode), so the views over
the copied tables are dropped first and recreated from their stored SQL (as in
0500_storage_speed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0700_server_defaults"
down_revision: str | None = "0600_naming_namespace"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> (column, its type, the server default): frozen copies of the models' defaults.
DEFAULTS: dict[str, list[tuple[str, Any, Any]]] = {
    "vantages": [("egress_addresses", sa.JSON(), sa.text("'[]'"))],
    "runs": [("counts", sa.JSON(), sa.text("'{}'"))],
    "targets": [
        ("namespace", sa.String(length=32), sa.text("'icann'")),
        ("role", sa.String(length=16), sa.text("'test'")),
    ],
    "tasks_done": [("shard", sa.Integer(), sa.text("0"))],
    "task_followups": [("params", sa.JSON(), sa.text("'{}'"))],
    "indicator_values": [("params", sa.JSON(), sa.text("'{}'"))],
    "dns_observations": [
        ("purpose", sa.String(length=16), sa.text("'query'")),
        ("late", sa.Boolean(), sa.false()),
        ("duplicate", sa.Boolean(), sa.false()),
    ],
    "naming_observations": [("n_values", sa.Integer(), sa.text("0"))],
}

# table -> (column, its type): NOT NULL probe columns that an engine-made row leaves NULL.
NULLABLE: dict[str, list[tuple[str, Any]]] = {
    "naming_observations": [
        ("namespace", sa.String(length=32)),
        ("name", sa.Text()),
        ("method", sa.String(length=32)),
    ],
    "path_observations": [
        ("test", sa.String(length=16)),
        ("address", sa.String(length=64)),
        ("port", sa.Integer()),
        ("ip_version", sa.Integer()),
    ],
    "quic_observations": [
        ("stage", sa.String(length=16)),
        ("offered_versions", sa.JSON()),
        ("address", sa.String(length=64)),
        ("port", sa.Integer()),
        ("ip_version", sa.Integer()),
    ],
    "quic_vn_observations": [
        ("sent_version", sa.BigInteger()),
        ("datagram_size", sa.Integer()),
        ("dcid", sa.String(length=40)),
        ("scid", sa.String(length=40)),
        ("reply", sa.String(length=16)),
        ("address", sa.String(length=64)),
        ("port", sa.Integer()),
        ("ip_version", sa.Integer()),
    ],
    "tls_observations": [
        ("address", sa.String(length=64)),
        ("port", sa.Integer()),
        ("ip_version", sa.Integer()),
    ],
}

# Vocabulary values this revision adds (frozen copies of db.vocab's docs).
NEW_FAILURES = {
    "dns_cname_loop": "the answer's CNAME chain comes back to a name it has already "
    "passed (RFC 1034 section 3.6.2); the asked type is never answered",
}


def _saved_views() -> list[str]:
    """Drop SQLite's views and return their SQL (PostgreSQL alters tables in place)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return []
    views = bind.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'view'")).all()
    for name, _sql in views:
        op.execute(f'DROP VIEW "{name}"')
    return [sql for _name, sql in views]


def _alter(*, up: bool) -> None:
    views = _saved_views()
    for table in {**DEFAULTS, **NULLABLE}:
        with op.batch_alter_table(table) as batch_op:
            for column, type_, default in DEFAULTS.get(table, []):
                batch_op.alter_column(
                    column,
                    existing_type=type_,
                    existing_nullable=False,
                    server_default=default if up else None,
                )
            for column, type_ in NULLABLE.get(table, []):
                batch_op.alter_column(
                    column, existing_type=type_, existing_nullable=not up, nullable=up
                )
    for sql in views:
        op.execute(sql)


def upgrade() -> None:
    vocab_failure = sa.table(
        "vocab_failure", sa.column("name", sa.String), sa.column("description", sa.Text)
    )
    op.bulk_insert(vocab_failure, [{"name": k, "description": v} for k, v in NEW_FAILURES.items()])
    _alter(up=True)


def downgrade() -> None:
    _alter(up=False)
    for name in NEW_FAILURES:
        op.execute(sa.text("DELETE FROM vocab_failure WHERE name = :n").bindparams(n=name))
