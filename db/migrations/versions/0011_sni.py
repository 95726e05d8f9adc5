"""transport.sni tables: sni_observations and its sni_attempts

Revision ID: 0900_sni
Revises: 0800_indicator_status
Create Date: 2026-12-07

Issue 21: the SNI A/B probe (probes/transport/sni.py) stores one row per (target,
address, transport) with its verdict, and one child row per handshake it sent.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0900_sni"
down_revision: str | None = "0800_indicator_status"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sni_observations",
        sa.Column("transport", sa.String(length=8), nullable=True),
        sa.Column("real_sni", sa.String(length=255), nullable=True),
        sa.Column("control_sni", sa.String(length=255), nullable=True),
        sa.Column("tries", sa.Integer(), nullable=True),
        sa.Column("control_first_ok", sa.Boolean(), nullable=True),
        sa.Column("real_first_ok", sa.Boolean(), nullable=True),
        sa.Column("real_repeat_ok", sa.Boolean(), nullable=True),
        sa.Column("control_later_ok", sa.Boolean(), nullable=True),
        sa.Column("control_retries", sa.Integer(), nullable=True),
        sa.Column("vn_answered", sa.Boolean(), nullable=True),
        sa.Column("residual_wait_ms", sa.Float(), nullable=True),
        sa.Column("verdict", sa.String(length=24), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("ip_version", sa.Integer(), nullable=True),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("task_key", sa.String(length=512), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("probe", sa.String(length=64), nullable=False),
        sa.Column("probe_version", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("endpoint", sa.String(length=512), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("failure_detail", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("vantage_id", sa.String(length=36), nullable=False),
        sa.Column("failure", sa.String(length=64), nullable=True),
        sa.Column("failed_operation", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "transport IN ('tcp', 'quic')", name=op.f("ck_sni_observations_transport_allowed")
        ),
        sa.CheckConstraint(
            "verdict IN ('ok', 'sni_filtered', 'ip_or_port_blocked', 'udp_blocked', 'residual', 'inconclusive')",
            name=op.f("ck_sni_observations_verdict_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["failed_operation"],
            ["vocab_operation.name"],
            name=op.f("fk_sni_observations_failed_operation_vocab_operation"),
        ),
        sa.ForeignKeyConstraint(
            ["failure"],
            ["vocab_failure.name"],
            name=op.f("fk_sni_observations_failure_vocab_failure"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_sni_observations_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["vantage_id"], ["vantages.id"], name=op.f("fk_sni_observations_vantage_id_vantages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sni_observations")),
        comment="transport.sni: SNI A/B test on one address and transport (TCP+TLS or QUIC): a control SNI first, the real SNI twice, the control again, and for QUIC the Version Negotiation probe; classified per docs/indicators.md (T10).",
    )
    with op.batch_alter_table("sni_observations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sni_observations_address"), ["address"], unique=False)
        batch_op.create_index(batch_op.f("ix_sni_observations_run_id"), ["run_id"], unique=False)

    op.create_table(
        "sni_attempts",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("observation_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("sni", sa.String(length=255), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("failure", sa.String(length=64), nullable=True),
        sa.Column("failure_detail", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("client_hello_initials", sa.Integer(), nullable=True),
        sa.Column("source_port", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["failure"], ["vocab_failure.name"], name=op.f("fk_sni_attempts_failure_vocab_failure")
        ),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["sni_observations.id"],
            name=op.f("fk_sni_attempts_observation_id_sni_observations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sni_attempts")),
        comment="One row per handshake of a transport.sni test, in the order sent.",
    )
    with op.batch_alter_table("sni_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sni_attempts_observation_id"), ["observation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sni_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sni_attempts_observation_id"))

    op.drop_table("sni_attempts")
    with op.batch_alter_table("sni_observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sni_observations_run_id"))
        batch_op.drop_index(batch_op.f("ix_sni_observations_address"))

    op.drop_table("sni_observations")
