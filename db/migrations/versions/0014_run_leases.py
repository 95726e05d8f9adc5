"""run_leases: run locks as leases with heartbeats

Revision ID: 1200_run_leases
Revises: 1100_ech
Create Date: 2026-12-07

Issue 22: on PostgreSQL the run lock was a session advisory lock, held as long as the
session that took it, so a partitioned worker (its TCP session open, nothing getting
through) kept its shard locked until TCP keepalive gave up. A lease lapses by itself
unless its holder renews it (probes/engine/lock.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1200_run_leases"
down_revision: str | None = "1100_ech"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_leases",
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_run_leases")),
        comment="Run locks on PostgreSQL: one lease per (campaign, vantage, shard), renewed "
        "by its holder's heartbeat; an expired lease is free, whatever became of the "
        'holder\'s session (docs/operations.md, "Shared databases").',
    )


def downgrade() -> None:
    op.drop_table("run_leases")
