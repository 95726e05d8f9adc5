"""transport.ech tables: ech_observations, ech_attempts, ech_configs

Revision ID: 1100_ech
Revises: 1000_ens_registry_walk
Create Date: 2026-12-07

Issue 21 step 2: transport.ech (probes/transport/ech.py) stores per target the ECH config
its HTTPS record publishes (one ech_configs row per ECHConfig) and the A/B verdict of
ECH against no ECH on one address, with one ech_attempts row per handshake.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1100_ech"
down_revision: str | None = "1000_ens_registry_walk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ech_observations",
        sa.Column("real_sni", sa.String(length=255), nullable=True),
        sa.Column("resolver", sa.String(length=64), nullable=True),
        sa.Column("https_rcode", sa.String(length=16), nullable=True),
        sa.Column("ech_published", sa.Boolean(), nullable=True),
        sa.Column("ech_config_list", sa.Text(), nullable=True),
        sa.Column("ech_config_error", sa.Text(), nullable=True),
        sa.Column("public_name", sa.String(length=255), nullable=True),
        sa.Column("config_id", sa.Integer(), nullable=True),
        sa.Column("tries", sa.Integer(), nullable=True),
        sa.Column("control_ok", sa.Boolean(), nullable=True),
        sa.Column("control_retries", sa.Integer(), nullable=True),
        sa.Column("grease_ok", sa.Boolean(), nullable=True),
        sa.Column("ech_ok", sa.Boolean(), nullable=True),
        sa.Column("ech_accepted", sa.Boolean(), nullable=True),
        sa.Column("inner_cert_name_match", sa.Boolean(), nullable=True),
        sa.Column("inner_cert_valid", sa.Boolean(), nullable=True),
        sa.Column("retry_configs", sa.Text(), nullable=True),
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
            "verdict IN ('ech_accepted', 'ech_rejected', 'ech_blocked', 'no_ech', 'inconclusive')",
            name=op.f("ck_ech_observations_verdict_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["failed_operation"],
            ["vocab_operation.name"],
            name=op.f("fk_ech_observations_failed_operation_vocab_operation"),
        ),
        sa.ForeignKeyConstraint(
            ["failure"],
            ["vocab_failure.name"],
            name=op.f("fk_ech_observations_failure_vocab_failure"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_ech_observations_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["vantage_id"], ["vantages.id"], name=op.f("fk_ech_observations_vantage_id_vantages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ech_observations")),
        comment="transport.ech: the target's HTTPS record ech config (adoption, T11) and, on one address over TCP+TLS, the same ClientHello without ECH (control), with GREASE ECH and with real ECH sealed to the published config; classified per docs/indicators.md (T12).",
    )
    with op.batch_alter_table("ech_observations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ech_observations_address"), ["address"], unique=False)
        batch_op.create_index(batch_op.f("ix_ech_observations_run_id"), ["run_id"], unique=False)

    op.create_table(
        "ech_attempts",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("observation_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("outer_sni", sa.String(length=255), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=True),
        sa.Column("failure", sa.String(length=64), nullable=True),
        sa.Column("failure_detail", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["failure"], ["vocab_failure.name"], name=op.f("fk_ech_attempts_failure_vocab_failure")
        ),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["ech_observations.id"],
            name=op.f("fk_ech_attempts_observation_id_ech_observations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ech_attempts")),
        comment="One row per handshake of a transport.ech test, in the order sent.",
    )
    with op.batch_alter_table("ech_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ech_attempts_observation_id"), ["observation_id"], unique=False
        )

    op.create_table(
        "ech_configs",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("observation_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("config_id", sa.Integer(), nullable=True),
        sa.Column("kem_id", sa.Integer(), nullable=True),
        sa.Column("kem", sa.String(length=16), nullable=True),
        sa.Column("public_key_len", sa.Integer(), nullable=True),
        sa.Column("cipher_suites", sa.Text(), nullable=True),
        sa.Column("maximum_name_length", sa.Integer(), nullable=True),
        sa.Column("public_name", sa.String(length=255), nullable=True),
        sa.Column("extension_types", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["ech_observations.id"],
            name=op.f("fk_ech_configs_observation_id_ech_observations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ech_configs")),
        comment="One row per ECHConfig in the ECHConfigList a transport.ech row found published (RFC 9849 section 4).",
    )
    with op.batch_alter_table("ech_configs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ech_configs_observation_id"), ["observation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ech_configs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ech_configs_observation_id"))

    op.drop_table("ech_configs")
    with op.batch_alter_table("ech_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ech_attempts_observation_id"))

    op.drop_table("ech_attempts")
    with op.batch_alter_table("ech_observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ech_observations_run_id"))
        batch_op.drop_index(batch_op.f("ix_ech_observations_address"))

    op.drop_table("ech_observations")
