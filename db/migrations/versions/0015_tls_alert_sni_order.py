"""tls_alert failures and their alert code (tls, sni and ech rows), sni round_position

Revision ID: 1300_tls_alert_sni_order
Revises: 1200_run_leases
Create Date: 2026-12-08

Issue 21 leftovers: a TLS alert in answer to a ClientHello (injected by a censor, or sent
by a hostile server) was an ``ssl_failed_handshake`` that transport.sni and transport.ech
counted as the server answering; it is now the failure ``tls_alert``, with its code on the
transport.tls rows and the sni/ech attempt rows. transport.sni's tests run in a seeded random order within a run, and each
row records its place in it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1300_tls_alert_sni_order"
down_revision: str | None = "1200_run_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Vocabulary values this revision adds (frozen copies of db.vocab's docs).
NEW_FAILURES = {
    "tls_alert": "the peer, or a middlebox speaking for it, answered with a TLS alert "
    "(RFC 8446 section 6); the detail names it",
}


def upgrade() -> None:
    vocab_failure = sa.table(
        "vocab_failure", sa.column("name", sa.String), sa.column("description", sa.Text)
    )
    op.bulk_insert(vocab_failure, [{"name": k, "description": v} for k, v in NEW_FAILURES.items()])
    for table in ("tls_observations", "sni_attempts", "ech_attempts"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("tls_alert", sa.Integer(), nullable=True))
    with op.batch_alter_table("sni_observations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("round_position", sa.Integer(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN in place (SQLite >= 3.35, PostgreSQL): a batch copy of
    # tls_observations would break the quic_adoption view that reads it.
    with op.batch_alter_table("sni_observations", recreate="never") as batch_op:
        batch_op.drop_column("round_position")
    for table in ("ech_attempts", "sni_attempts", "tls_observations"):
        with op.batch_alter_table(table, recreate="never") as batch_op:
            batch_op.drop_column("tls_alert")
    op.execute(sa.text("DELETE FROM vocab_failure WHERE name = 'tls_alert'"))
