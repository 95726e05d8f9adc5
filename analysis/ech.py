"""ECH adoption and ECH A/B verdicts of each run (transport.ech's ech_observations). Reads
the database.

One row per (target, address), as the probe recorded it (probes/transport/ech.py;
docs/indicators.md, T11 and T12): whether the target's HTTPS record publishes an ECH
config, and the verdict of ECH against the same ClientHello without ECH on that address.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from fragscope.analysis.tables import measured_attempts

TABLE = "ech_observations"
# Verdicts that answer the ECH question at all: the control (no ECH, same address)
# reached the server and the ECH ClientHello was either answered or lost on every try.
ECH_DECIDED = frozenset({"ech_accepted", "ech_rejected", "ech_blocked"})


@dataclass(frozen=True)
class EchFacts:
    """One run's rows: (target, address) -> (ech_published, verdict)."""

    rows: dict[tuple[str, str], tuple[bool, str | None]] = field(default_factory=dict)


def load(engine: Engine, run_ids: Iterable[str], present: set[str]) -> dict[str, EchFacts]:
    """The rows of each run (empty where the run has none or the table is absent).

    Only rows that measured (envelope ``failure`` NULL: the HTTPS query was answered);
    a task retried by the engine keeps its last such attempt."""
    ids = sorted(set(run_ids))
    out = {run_id: EchFacts() for run_id in ids}
    if TABLE not in present or not ids:
        return out
    columns = ("target", "address", "ech_published", "verdict")
    for run_id, target, address, published, verdict in measured_attempts(
        engine, TABLE, ids, columns, required="ech_published"
    ):
        out[run_id].rows[(target, address)] = (bool(published), verdict)
    return out
