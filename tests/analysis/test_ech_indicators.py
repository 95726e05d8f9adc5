"""T11 (ECH adoption) and T12 (ECH interference) on the planted transport world
(tests/fixtures/analysis.py) with planted transport.ech rows. No lab; the values are
derived from the plant below."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from fragscope.analysis import asn, compute, scope
from fragscope.analysis.result import NOT_APPLICABLE
from fragscope.db.writer import Writer, spec_for
from tests.fixtures.analysis import STANDARD_PLANTS, addr4, build_world, envelope, vantage_rows

TESTED = range(8)
PUBLISHED = {0, 1, 2}  # t0-t2 publish an ECH config; the rest do not
# At "censored" ECH to t0 and t1 is lost while the control passes: ech_blocked; t2's
# control is lost too (inconclusive). At "lossy" t1 is inconclusive (the control needed
# retries). At "clean" t2's server answers without accepting (ech_rejected).
VERDICTS = {
    "censored": {0: "ech_blocked", 1: "ech_blocked", 2: "inconclusive"},
    "lossy": {0: "ech_accepted", 1: "inconclusive", 2: "ech_accepted"},
    "clean": {0: "ech_accepted", 1: "ech_accepted", 2: "ech_rejected"},
}


def _plant_ech(engine: Engine, runs: dict[str, str], published: set[int]) -> None:
    spec = spec_for("ech_observations")
    rows = []
    for label, run_id in runs.items():
        vid, _ = vantage_rows(label)
        for i in TESTED:
            target = f"t{i}.example.test"
            verdict = VERDICTS[label].get(i, "no_ech") if i in published else "no_ech"
            env = envelope(run_id, vid, "transport.ech", target, addr4(i))
            fields = {"address": addr4(i), "port": 443, "ip_version": 4}
            row = spec.row(**env, **fields, ech_published=i in published, verdict=verdict)
            rows.append((spec, row))
        # A row whose HTTPS query was never answered: counts nowhere.
        env = envelope(run_id, vid, "transport.ech", "silent.example.test", addr4(99))
        failed = {**env, "failure": "generic_timeout_error", "failed_operation": "resolve"}
        rows.append((spec, spec.row(**failed, address=addr4(99))))
    Writer(engine).write(rows)


def _compute(tmp_path: Path, published: set[int]) -> dict[tuple[str, str], object]:
    w = build_world(
        f"sqlite:///{tmp_path / 'w.sqlite'}",
        STANDARD_PLANTS,
        extra=lambda engine, runs: _plant_ech(engine, runs, published),
    )
    try:
        runs = scope.select_runs(w.engine, round_name="r1")
        c = compute.compute(w.engine, runs, mapping=asn.load_lab())
    finally:
        w.engine.dispose()
    labels = {r.id: r.vantage_label for r in runs}
    return {(labels[e.run_id], e.code): e for e in c.estimates}


def test_t11_adoption_and_t12_interference(tmp_path: Path) -> None:
    got = _compute(tmp_path, PUBLISHED)
    for label in VERDICTS:
        t11 = got[(label, "T11")]
        assert t11.value == len(PUBLISHED) / len(TESTED)  # type: ignore[attr-defined]
        assert t11.n == len(TESTED)  # type: ignore[attr-defined]
        assert t11.params["published"] == len(PUBLISHED)  # type: ignore[attr-defined]
    censored = got[("censored", "T12")]
    assert censored.value == 1.0 and censored.n == 2  # type: ignore[attr-defined]
    assert censored.params["undecided"] == 1  # type: ignore[attr-defined]
    lossy = got[("lossy", "T12")]
    assert lossy.value == 0.0 and lossy.params["undecided"] == 1  # type: ignore[attr-defined]
    clean = got[("clean", "T12")]
    assert clean.value == 0.0 and clean.n == 3  # type: ignore[attr-defined]
    assert clean.params["rejected"] == 1 and clean.params["accepted"] == 2  # type: ignore[attr-defined]


def test_t12_not_applicable_without_ech_capable_targets(tmp_path: Path) -> None:
    got = _compute(tmp_path, set())
    for label in VERDICTS:
        assert got[(label, "T11")].value == 0.0  # type: ignore[attr-defined]
        t12 = got[(label, "T12")]
        assert t12.value is None and t12.status == NOT_APPLICABLE  # type: ignore[attr-defined]
