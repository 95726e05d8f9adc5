"""observation tables: uniqueness through the hashed primary key, no random-order indexes

Revision ID: 0500_storage_speed
Revises: 0400_drop_run_id_indexes
Create Date: 2026-11-29

Each observation row paid for three to five B-tree insertions whose keys arrive in random
order: the hashed primary key, a unique index on the text triple (run_id, task_key,
attempt), the ``target`` index and, for DNS, (qname, qtype) and (name, rtype). With a
batch of 5,000 rows every one of them dirtied a page per row, so the writer ran at 15,000
rows/s against a 150,000 target (issue 2).

The primary key ``id`` is a 64-bit hash of exactly (run_id, task_key, attempt), so the
primary key alone keeps that triple unique; the separate unique index goes. ``target`` and
the DNS lookup indexes go too (``fragscope db index`` adds them back on demand). ``run_id``
gets its index back: its entries arrive in rowid order, so it only appends.

SQLite cannot drop a table constraint in place: batch mode copies each table. That copy
must run with foreign keys off (``db.migrate`` does so), or dropping the old parent table
would cascade-delete its child rows; and the views over the copied tables are dropped
first and recreated from their stored SQL, because SQLite re-checks every view when a
table is renamed.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0500_storage_speed"
down_revision: str | None = "0400_drop_run_id_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OBSERVATION_TABLES = (
    "null_observations",
    "tls_observations",
    "quic_observations",
    "quic_vn_observations",
    "path_observations",
    "dns_observations",
    "naming_observations",
)
DNS_INDEXES = (
    ("dns_observations", "ix_dns_observations_qname_qtype", ["qname", "qtype"]),
    ("dns_answers", "ix_dns_answers_name_rtype", ["name", "rtype"]),
)


def _saved_views() -> list[str]:
    """Drop SQLite's views and return their SQL (PostgreSQL alters tables in place)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return []
    views = bind.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'view'")).all()
    for name, _sql in views:
        op.execute(f'DROP VIEW "{name}"')
    return [sql for _name, sql in views]


def upgrade() -> None:
    views = _saved_views()
    for table in OBSERVATION_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(f"uq_{table}_run_id_task_key_attempt", type_="unique")
            batch_op.drop_index(f"ix_{table}_target")
            batch_op.create_index(f"ix_{table}_run_id", ["run_id"], unique=False)
    for table, name, _columns in DNS_INDEXES:
        op.drop_index(name, table_name=table)
    for sql in views:
        op.execute(sql)


def downgrade() -> None:
    views = _saved_views()
    for table, name, columns in DNS_INDEXES:
        op.create_index(name, table, columns, unique=False)
    for table in OBSERVATION_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(f"ix_{table}_run_id")
            batch_op.create_index(f"ix_{table}_target", ["target"], unique=False)
            batch_op.create_unique_constraint(
                f"uq_{table}_run_id_task_key_attempt", ["run_id", "task_key", "attempt"]
            )
    for sql in views:
        op.execute(sql)
