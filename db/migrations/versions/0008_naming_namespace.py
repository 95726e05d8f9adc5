"""naming_observations.endpoint_namespace: the naming system of the endpoint that answered

Revision ID: 0600_naming_namespace
Revises: 0500_storage_speed
Create Date: 2026-11-29

``namespace`` on a naming row is the namespace the NAME belongs to (by its TLD, from the
shipped registry); the endpoint that answered may serve another one -- an alternative root
asked for every name (``namespaces = ["*"]``) answers for a colliding TLD too. N3 (which
TLDs exist in each alternative namespace) and N4 (ANR per namespace x method x vantage)
need the endpoint's namespace, so it becomes a column.

Existing rows are backfilled where the run says it unambiguously: an ad-hoc
``fragscope probe name --store`` run built its endpoint with the name's namespace; a
campaign run stored its campaign file in ``runs.config``, whose ``[[endpoints]]`` give each
URL's namespace (default icann), disambiguated by ``options.method`` when one URL is listed
twice (one JSON-RPC node for ENS and for UNS). Rows whose URL maps to no single namespace
stay NULL.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0600_naming_namespace"
down_revision: str | None = "0500_storage_speed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADHOC_CAMPAIGN = "adhoc:probe-name"  # probes/naming/store.py
DEFAULT_NAMESPACE = "icann"  # a campaign endpoint without `namespace` (probes/engine/campaign.py)

VIEW_OLD = """
CREATE VIEW naming_values_flat AS
SELECT o.run_id, o.vantage_id, o.namespace, o.name_normalized, o.method, o.endpoint,
       o.endpoint_operator, o.depends_on_icann_dns, o.outcome, o.block_number, o.fidelity,
       v.kind, v.key, v.value, v.raw, o.id AS observation_id
FROM naming_observations o JOIN naming_values v ON v.observation_id = o.id
"""
VIEW_NEW = """
CREATE VIEW naming_values_flat AS
SELECT o.run_id, o.vantage_id, o.namespace, o.name_normalized, o.method, o.endpoint,
       o.endpoint_namespace, o.endpoint_operator, o.depends_on_icann_dns, o.outcome,
       o.block_number, o.fidelity, v.kind, v.key, v.value, v.raw, o.id AS observation_id
FROM naming_observations o JOIN naming_values v ON v.observation_id = o.id
"""


def endpoint_namespaces(config: Any) -> dict[tuple[str, str], str]:
    """(url, method) -> namespace from a run's stored campaign; ambiguous pairs left out.

    ``method`` "" stands for an endpoint without ``options.method`` (any method)."""
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            return {}
    endpoints = config.get("endpoints") if isinstance(config, dict) else None
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for ep in endpoints if isinstance(endpoints, list) else []:
        if not isinstance(ep, dict) or not isinstance(ep.get("url"), str):
            continue
        raw_options = ep.get("options")
        options: dict[str, Any] = raw_options if isinstance(raw_options, dict) else {}
        raw_method = options.get("method")
        method = raw_method if isinstance(raw_method, str) else ""
        found[(ep["url"], method)].add(str(ep.get("namespace") or DEFAULT_NAMESPACE))
    return {key: next(iter(ns)) for key, ns in found.items() if len(ns) == 1}


def derive(mapping: dict[tuple[str, str], str], url: str | None, method: str) -> str | None:
    """The endpoint namespace of a row, or None when the campaign does not say it once."""
    if url is None:
        return None
    candidates = {ns for (u, m), ns in mapping.items() if u == url and m in ("", method)}
    return candidates.pop() if len(candidates) == 1 else None


def backfill() -> None:
    bind = op.get_bind()
    runs = bind.execute(
        sa.text(
            "SELECT r.id, r.campaign, r.config FROM runs r WHERE EXISTS "
            "(SELECT 1 FROM naming_observations o WHERE o.run_id = r.id)"
        )
    ).all()
    for run_id, campaign, config in runs:
        if campaign == ADHOC_CAMPAIGN:
            bind.execute(
                sa.text(
                    "UPDATE naming_observations SET endpoint_namespace = namespace "
                    "WHERE run_id = :run"
                ),
                {"run": run_id},
            )
            continue
        mapping = endpoint_namespaces(config)
        pairs = bind.execute(
            sa.text(
                "SELECT DISTINCT endpoint, method FROM naming_observations WHERE run_id = :run"
            ),
            {"run": run_id},
        ).all()
        for url, method in pairs:
            ns = derive(mapping, url, method)
            if ns is None:
                continue
            bind.execute(
                sa.text(
                    "UPDATE naming_observations SET endpoint_namespace = :ns "
                    "WHERE run_id = :run AND endpoint = :url AND method = :method"
                ),
                {"ns": ns, "run": run_id, "url": url, "method": method},
            )


def upgrade() -> None:
    # A plain ADD COLUMN (no batch copy): SQLite adds a nullable column in place, so the
    # view over the table can stay until it is replaced below.
    op.add_column(
        "naming_observations",
        sa.Column("endpoint_namespace", sa.String(length=32), nullable=True),
    )
    backfill()
    op.execute("DROP VIEW IF EXISTS naming_values_flat")
    op.execute(VIEW_NEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS naming_values_flat")
    with op.batch_alter_table("naming_observations") as batch_op:
        batch_op.drop_column("endpoint_namespace")
    op.execute(VIEW_OLD)
