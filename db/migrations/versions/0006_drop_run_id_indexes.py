"""drop the observation tables' run_id indexes (the unique (run_id, task_key, attempt) covers them)

Revision ID: 0400_drop_run_id_indexes
Revises: 0100_dns
Create Date: 2026-11-28

Every observation table had an index on ``run_id`` alone and the envelope's unique
constraint on (run_id, task_key, attempt), whose index already serves every lookup by
run_id (its leading column). The duplicate cost each inserted row one more B-tree
insertion on the engine's hot path (issue 6, bench/dns.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0400_drop_run_id_indexes"
down_revision: str | None = "0300_naming"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "null_observations",
    "tls_observations",
    "quic_observations",
    "quic_vn_observations",
    "path_observations",
    "dns_observations",
    "naming_observations",
)


def upgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_run_id", table_name=table)


def downgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_run_id", table, ["run_id"], unique=False)
