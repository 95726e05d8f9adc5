"""The SNI A/B verdicts of each run (transport.sni's sni_observations). Reads the database.

One verdict per (target, address, transport), as the probe classified it
(probes/transport/sni.py; docs/indicators.md, T10). T10 counts them; T2 reads them to leave
out the QUIC pairs where the control SNI worked on the same address, so that SNI filtering
does not read as UDP/443 blocking.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from fragscope.analysis.tables import measured_attempts

TABLE = "sni_observations"
# Verdicts where the control SNI reached the server on the 3-tuple and the real SNI was
# then lost: the name, not the address or the port, was filtered (residual: the block
# outlived the flow that triggered it, as the GFW's does).
SNI_FILTERING = frozenset({"sni_filtered", "residual"})
# Verdicts that answer the SNI question at all (the control first reached the server).
DECIDED = frozenset({"ok", *SNI_FILTERING})


@dataclass(frozen=True)
class SniFacts:
    """One run's verdicts: (target, address, transport) -> verdict."""

    verdicts: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def sni_filtered_pairs(self, transport: str) -> frozenset[tuple[str, str]]:
        """(target, address) pairs whose ``transport`` verdict is SNI filtering."""
        return frozenset(
            (t, a)
            for (t, a, tr), v in self.verdicts.items()
            if tr == transport and v in SNI_FILTERING
        )


def load(engine: Engine, run_ids: Iterable[str], present: set[str]) -> dict[str, SniFacts]:
    """The verdicts of each run (empty where the run has none or the table is absent).

    A task retried by the engine has several rows; the last attempt that measured (its
    envelope ``failure`` is NULL) gives the verdict."""
    ids = sorted(set(run_ids))
    out = {run_id: SniFacts() for run_id in ids}
    if TABLE not in present or not ids:
        return out
    columns = ("target", "address", "transport", "verdict")
    for run_id, target, address, transport, verdict in measured_attempts(
        engine, TABLE, ids, columns, required="verdict"
    ):
        out[run_id].verdicts[(target, address, transport)] = verdict
    return out
