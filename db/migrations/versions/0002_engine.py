"""engine: pending follow-up tasks (task_followups)

Revision ID: 0100_engine
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0100_engine"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_followups",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("task_key", sa.String(length=512), nullable=False),
        sa.Column("root_key", sa.String(length=512), nullable=False),
        sa.Column("parent_key", sa.String(length=512), nullable=False),
        sa.Column("probe", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("endpoint", sa.JSON(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("repetition", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_task_followups_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "task_key", name=op.f("pk_task_followups")),
        comment="Follow-up tasks spawned by finished tasks (written in the parent's transaction); resume runs those whose task_key is not in tasks_done.",
    )


def downgrade() -> None:
    op.drop_table("task_followups")
