"""naming_observations.name_normalized: TEXT, no longer VARCHAR(255)

Revision ID: 1400_naming_name_width
Revises: 1300_tls_alert_sni_order
Create Date: 2026-12-08

A normalised name can be longer than 255 characters although the name given fits a
target list's 253 (RFC 1035 section 2.3.4): ENSIP-15 maps a character to several (U+3392
SQUARE MHZ to "mhz"), ENS names are not bound by DNS's length at all, and a DNS name in
presentation form escapes an octet as ``\\DDD`` (RFC 1035 section 5.1, four characters for
one). PostgreSQL refused such a row ("value too long"), losing the run's batch; SQLite
kept it. The naming_values_flat view reads the column, so it is dropped and created again
from its own stored definition around the change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1400_naming_name_width"
down_revision: str | None = "1300_tls_alert_sni_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEW = "naming_values_flat"


def _view_sql() -> str:
    """The view's CREATE statement as the database holds it."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        body = bind.execute(
            sa.text(f"SELECT pg_get_viewdef('{VIEW}'::regclass, true)")
        ).scalar_one()
        return f"CREATE VIEW {VIEW} AS {body}"
    return str(
        bind.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = :v"), {"v": VIEW}
        ).scalar_one()
    )


def _retype(new: sa.types.TypeEngine[str], old: sa.types.TypeEngine[str]) -> None:
    view = _view_sql()
    op.execute(f"DROP VIEW {VIEW}")
    with op.batch_alter_table("naming_observations") as batch_op:
        batch_op.alter_column(
            "name_normalized", type_=new, existing_type=old, existing_nullable=True
        )
    op.execute(view)


def upgrade() -> None:
    _retype(sa.Text(), sa.String(length=255))


def downgrade() -> None:
    # A name longer than 255 characters does not fit back: PostgreSQL refuses the
    # downgrade rather than cut it.
    _retype(sa.String(length=255), sa.Text())
