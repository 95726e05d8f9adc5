"""indicator_values.status: a NULL value is withheld or not applicable

Revision ID: 0800_indicator_status
Revises: 0700_server_defaults
Create Date: 2026-12-07

Issue 19: a value the formula leaves undefined on complete data (T9 when neither TCP nor
QUIC failed: 0/0) is "not applicable", which the reports list apart from the values
withheld for lack of data. Both are NULL with a reason; the new NOT NULL ``status``
column says which (``value``, ``withheld``, ``not_applicable``; docs/indicators.md).

Existing rows are backfilled: a stored NULL was written as withheld, the only kind there
was. SQLite adds a NOT NULL column with a constant default in place (no table copy).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0800_indicator_status"
down_revision: str | None = "0700_server_defaults"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "indicator_values",
        sa.Column(
            "status", sa.String(length=16), nullable=False, server_default=sa.text("'value'")
        ),
    )
    op.execute("UPDATE indicator_values SET status = 'withheld' WHERE value IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("indicator_values") as batch_op:
        batch_op.drop_column("status")
