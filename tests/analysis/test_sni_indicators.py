"""T2 version 3 and T10 on the planted transport world (tests/fixtures/analysis.py) with
planted transport.sni verdicts: SNI-filtered QUIC leaves T2, and T10 counts it per
transport. No lab; the values are derived from the plant below.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from fragscope.analysis import asn, compute, scope
from fragscope.db.writer import Writer, spec_for
from tests.fixtures.analysis import (
    STANDARD_PLANTS,
    addr4,
    build_world,
    envelope,
    vantage_rows,
)

# At "censored" QUIC to t0-t3 gets no reply (STANDARD_PLANTS). transport.sni saw the
# control SNI work on t0's and t1's address over QUIC while their own names were lost:
# SNI filtering. t2 and t3 lost the control too (UDP blocked); TCP passed everywhere.
SNI_FILTERED = {0, 1}
UDP_BLOCKED = {2, 3}
TESTED = range(6)


def _plant_sni(engine: Engine, runs: dict[str, str]) -> None:
    spec = spec_for("sni_observations")
    rows = []
    for label, run_id in runs.items():
        vid, _ = vantage_rows(label)
        for i in TESTED:
            target = f"t{i}.example.test"
            for transport in ("tcp", "quic"):
                verdict = "ok"
                if label == "censored" and transport == "quic":
                    if i in SNI_FILTERED:
                        verdict = "sni_filtered"
                    elif i in UDP_BLOCKED:
                        verdict = "udp_blocked"
                env = envelope(run_id, vid, "transport.sni", target, f"{addr4(i)}/{transport}")
                fields = {"address": addr4(i), "port": 443, "ip_version": 4}
                rows.append((spec, spec.row(**env, **fields, transport=transport, verdict=verdict)))
    Writer(engine).write(rows)


def test_sni_filtered_quic_leaves_t2_and_counts_in_t10(tmp_path: Path) -> None:
    w = build_world(f"sqlite:///{tmp_path / 'w.sqlite'}", STANDARD_PLANTS, extra=_plant_sni)
    try:
        runs = scope.select_runs(w.engine, round_name="r1")
        c = compute.compute(w.engine, runs, mapping=asn.load_lab())
    finally:
        w.engine.dispose()
    labels = {r.id: r.vantage_label for r in runs}
    got = {(labels[e.run_id], e.code): e for e in c.estimates}

    t2 = got[("censored", "T2")]
    # Version 2 read 4 of 8 pairs as UDP/443 blocking; t0 and t1 are SNI filtering.
    assert t2.params["sni_filtered_discarded"] == len(SNI_FILTERED)
    assert t2.value == (4 - len(SNI_FILTERED)) / (8 - len(SNI_FILTERED))
    assert got[("clean", "T2")].value == 0.0

    t10 = got[("censored", "T10")]
    tests = 2 * len(TESTED)
    assert t10.value == len(SNI_FILTERED) / (tests - len(UDP_BLOCKED))
    assert t10.params["tcp"] == 0.0
    assert t10.params["quic"] == len(SNI_FILTERED) / (len(TESTED) - len(UDP_BLOCKED))
    assert t10.params["undecided"] == len(UDP_BLOCKED)
    assert got[("clean", "T10")].value == 0.0
    assert got[("lossy", "T10")].value == 0.0
