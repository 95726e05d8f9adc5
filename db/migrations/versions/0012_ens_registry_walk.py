"""naming_observations.registry_walk_agrees: ENS through the Universal Resolver vs the walk

Revision ID: 1000_ens_registry_walk
Revises: 0900_sni
Create Date: 2026-12-07

Issue 20: ENS method ``eth-rpc`` now asks the ENSIP-23 Universal Resolver, as ENS's clients
do; the client-side registry walk stays as method ``eth-rpc-registry``. An ``eth-rpc`` row
also walks the registry at the same block and records here whether both entry points gave
the same outcome and values (docs/naming.md, "ENS entry points"). Older rows stay NULL
(not compared).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1000_ens_registry_walk"
down_revision: str | None = "0900_sni"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "naming_observations", sa.Column("registry_walk_agrees", sa.Boolean(), nullable=True)
    )


def downgrade() -> None:
    # A plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35, PostgreSQL): batch mode would
    # rebuild the table under the naming_values_flat view, which SQLite refuses.
    op.drop_column("naming_observations", "registry_walk_agrees")
