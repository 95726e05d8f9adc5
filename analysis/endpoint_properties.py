"""What a run's campaign declared about its resolvers (``filtering``, ``validates_dnssec``),
read from the run's campaign snapshot (``runs.config``). Reads the database.

A resolver row is keyed by (address, port, transport, role), as the naming indicators key
their views (analysis/naming.py, Endpoint); the snapshot's endpoint URLs are parsed the
way dns.query parsed them (probes/dns/resolvers.py), so a declaration meets its rows.
Endpoints the parser does not take (naming endpoints, RPC nodes) are not resolvers of
dns.query and are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from fragscope.db.models import Run
from fragscope.probes.dns.resolvers import BadResolverURL, parse_resolver

ResolverKey = tuple[str, int, str, str]
"""(address, port, transport, role) of a dns.query resolver."""


@dataclass(frozen=True, slots=True)
class Declared:
    filtering: str | None
    validates_dnssec: bool | None


def declared_resolvers(
    conn: Connection, run_ids: Iterable[str]
) -> dict[str, dict[ResolverKey, Declared]]:
    """Run id -> resolver key -> what the campaign declared; runs or endpoints without a
    snapshot give nothing (an older run, a campaign without declarations)."""
    ids = sorted(set(run_ids))
    out: dict[str, dict[ResolverKey, Declared]] = {r: {} for r in ids}
    if not ids:
        return out
    for run_id, config in conn.execute(select(Run.id, Run.config).where(Run.id.in_(ids))):
        for entry in _endpoints(config):
            try:
                url = parse_resolver(str(entry.get("url", "")))
            except (BadResolverURL, ValueError):
                continue
            key = (url.address, url.port, str(url.transport), str(entry.get("role") or "test"))
            filtering = entry.get("filtering")
            validates = entry.get("validates_dnssec")
            out[run_id][key] = Declared(
                filtering=filtering if isinstance(filtering, str) else None,
                validates_dnssec=validates if isinstance(validates, bool) else None,
            )
    return out


def _endpoints(config: Any) -> list[dict[str, Any]]:
    endpoints = config.get("endpoints") if isinstance(config, dict) else None
    if not isinstance(endpoints, list):
        return []
    return [e for e in endpoints if isinstance(e, dict)]
