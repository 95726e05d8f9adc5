"""Transport indicators on a synthetic planted world (tests/fixtures/analysis.py).

Every expected value below is computed by hand from the plant: 10 targets t0-t9, t0-t7
advertise h3 and serve QUIC, t0-t4 also have IPv6, plus one VN-only legacy responder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fragscope.analysis import asn, compute, scope
from fragscope.analysis.registry import REGISTRY
from tests.fixtures.analysis import STANDARD_PLANTS, Plant, World, build_world


def values(w: World, *, mapping: bool = True) -> dict[str, dict[str, compute.Estimate]]:
    runs = scope.select_runs(w.engine, round_name="r1")
    c = compute.compute(w.engine, runs, mapping=asn.load_lab() if mapping else None)
    labels = {r.id: r.vantage_label for r in runs}
    out: dict[str, dict[str, compute.Estimate]] = {}
    for e in c.estimates:
        out.setdefault(labels[e.run_id], {})[e.code] = e
    return out


def test_planted_values_exact(world: World) -> None:
    v = values(world)
    clean, cens, lossy = v["clean"], v["censored"], v["lossy"]
    # T2: censored blocks QUIC to 4 of the 8 pairs where TLS works here and QUIC at clean.
    assert cens["T2"].value == 4 / 8 and cens["T2"].n == 8
    assert clean["T2"].value == 0.0
    assert lossy["T2"].value == 1 / 8
    # T1: 8 advertising targets; 4 unreachable over QUIC at censored.
    assert (clean["T1"].value, cens["T1"].value) == (0.0, 0.5)
    assert cens["T1"].params["delta_q_vs_control"] == 0.5
    # T4: all TLS 1.3 but t9 at censored (TLS 1.2), all h2; h3 8/10 clean, 4/10 censored.
    assert clean["T4"].value == pytest.approx(1 - (1 + 1 + 0.8) / 3)
    assert cens["T4"].value == pytest.approx(1 - (0.9 + 1 + 0.4) / 3)
    assert cens["T4"].params["downgrade_dg"] == pytest.approx(0.1)
    # T5: 5 of 10 targets have IPv6 and it works: V6F = 1 - 0.5 * 1.
    assert clean["T5"].value == 0.5 and clean["T5"].params["p6"] == 1.0
    # T3/T8: the legacy responder (gQUIC + draft only) among the VN/QUIC responders.
    assert clean["T3"].value == 1 / 9 and cens["T3"].value == 1 / 5
    assert clean["T8"].value == 1 / 9 and clean["T8"].params["v2_share"] == 8 / 9
    # O1: ECN setup broken to t2 at censored only.
    assert (clean["O1"].value, cens["O1"].value) == (0.0, 0.1)
    # T7: every h3 host sits in AS64680 of the lab mapping: full concentration.
    assert clean["T7"].value == 1.0 and clean["T7"].params["mapping_date"] == "2026-11-28"
    # T9: at censored only QUIC fails (f_tcp = 0): fully QUIC-centric.
    assert cens["T9"].value == 0.0 and cens["T9"].params["f_quic"] == 0.5
    assert clean["T9"].value is None and "no interference" in (clean["T9"].reason or "")
    # T6: A = Alt-Svc h3 = {t0..t7}, C = QUIC or VN answered = A + legacy; no HTTPS RR
    # answers, so only the pair (A, C): 1 - 8/9. At censored C = {t4..t7, legacy}: 1 - 4/9.
    assert clean["T6"].value == pytest.approx(1 / 9)
    assert cens["T6"].value == pytest.approx(1 - 4 / 9)
    assert cens["T6"].params["advertised_not_served"] == pytest.approx(4 / 11)


def test_intervals_contain_values_and_are_bounded(world: World) -> None:
    for per_run in values(world).values():
        for e in per_run.values():
            if e.value is None:
                assert e.reason
                continue
            assert e.ci_low is not None and e.ci_high is not None
            assert e.ci_low <= e.value <= e.ci_high
            assert e.ci_low >= 0.0 and e.ci_high <= 1.0
    cens = values(world)["censored"]["T2"]
    # Stated bound: with 8 pairs the 95% interval is narrower than 0.6.
    assert cens.ci_high - cens.ci_low < 0.6


def test_c1_ranks_censored_farther_than_lossy(world: World) -> None:
    v = values(world)
    assert v["clean"]["C1"].value == 0.0
    assert v["censored"]["C1"].value > v["lossy"]["C1"].value > 0.0
    # DIS: disagreeing keys over 42 common keys (tls 15, quic 8, vn 9, path 10):
    # censored: quic 4 + vn 4 + path 1 + tls 1 (TLS 1.2 is still ok) -> 9? No: TLS 1.2
    # is "ok", so 4 + 4 + 1 = 9; lossy: quic 1 + vn 1 = 2.
    assert v["censored"]["C1"].params["dis"] == pytest.approx(9 / 42)
    assert v["lossy"]["C1"].params["dis"] == pytest.approx(2 / 42)


def test_perturbation_unblocking_one_host(tmp_path: Path) -> None:
    """Remove one blocked host (t3) at censored: the predicted indicators move by exactly
    the predicted amount; the others stay."""
    plants = dict(STANDARD_PLANTS)
    plants["censored"] = Plant("censored", quic_blocked={0, 1, 2}, ecn_broken={2}, tls12={9})
    w2 = build_world(f"sqlite:///{tmp_path / 'p.sqlite'}", plants)
    w1 = build_world(f"sqlite:///{tmp_path / 'base.sqlite'}", STANDARD_PLANTS)
    before, after = values(w1)["censored"], values(w2)["censored"]
    assert after["T2"].value - before["T2"].value == pytest.approx(-1 / 8)
    assert after["T1"].value - before["T1"].value == pytest.approx(-1 / 8)
    assert after["T4"].value - before["T4"].value == pytest.approx(-(1 / 3) / 10)
    # t3 answers VN again: one more standard responder, 1 legacy of 6 instead of 5.
    assert after["T3"].value == pytest.approx(1 / 6)
    for code in ("T5", "T7", "T9", "O1"):
        assert after[code].value == before[code].value, code
    for label in ("clean", "lossy"):
        for code, e in values(w1)[label].items():
            if code not in ("C2",):
                assert values(w2)[label][code].value == e.value, (label, code)
    w1.engine.dispose()
    w2.engine.dispose()


def test_missing_input_tables_are_withheld_with_the_table_name(tmp_path: Path) -> None:
    w = build_world(f"sqlite:///{tmp_path / 'bare.sqlite'}", STANDARD_PLANTS)
    with w.engine.begin() as conn:
        for t in ("dns_answers", "dns_observations", "naming_observations"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {t}")
    v = values(w)["censored"]
    for code in ("N1", "N2", "N5", "N6", "N7", "N8"):
        assert v[code].value is None
        assert v[code].reason == "input table dns_observations, dns_answers not present" or (
            v[code].reason == "input table dns_observations not present"
        ), (code, v[code].reason)
    assert v["N3"].reason == "input table naming_observations not present"
    # T2 is still real: transport tables exist.
    assert v["T2"].value == 0.5
    w.engine.dispose()


def test_no_mapping_withholds_asn_indicators(world: World) -> None:
    v = values(world, mapping=False)["clean"]
    assert v["T7"].value is None and "mapping" in (v["T7"].reason or "")
    assert v["N7"].value is None


def test_store_replaces_values(world: World) -> None:
    runs = scope.select_runs(world.engine, round_name="r1")
    c = compute.compute(world.engine, runs, mapping=asn.load_lab())
    assert compute.store(world.engine, c) == len(c.estimates)
    assert compute.store(world.engine, c) == len(c.estimates)
    with world.engine.connect() as conn:
        n = conn.exec_driver_sql("SELECT count(*) FROM indicator_values").scalar()
        row = conn.exec_driver_sql(
            "SELECT value, n, version, reason FROM indicator_values WHERE code = 'T2' "
            "AND run_id = ?",
            (world.runs["censored"],),
        ).one()
    assert n == len(c.estimates)
    assert tuple(row) == (0.5, 8, REGISTRY["T2"].version, None)


def test_pair_tests_holm(world: World) -> None:
    runs = scope.select_runs(world.engine, round_name="r1")
    c = compute.compute(world.engine, runs, mapping=asn.load_lab())
    t2 = [p for p in c.pair_tests if p.code == "T2"]
    assert len(t2) == 3  # three pairs of three vantages
    for p in t2:
        assert p.p_holm >= p.p_value


def test_control_without_transport_rows_withholds(world: World) -> None:
    """A control run that measured no transport pair leaves T2 and T9 without pairs to
    compare (withheld with the reason), and the rest of the computation unaffected."""
    with world.engine.begin() as conn:
        for table in (
            "tls_observations",
            "quic_observations",
            "quic_vn_observations",
            "path_observations",
        ):
            conn.exec_driver_sql(f"DELETE FROM {table} WHERE run_id = ?", (world.runs["clean"],))
    cens = values(world)["censored"]
    assert cens["T2"].value is None and "n = 0" in (cens["T2"].reason or "")
    assert cens["T9"].value is None and "n = 0" in (cens["T9"].reason or "")
    assert cens["T3"].value == 1 / 5


def _add_vn_version(w: World, target: str, version: int, kind: str, row_id: int) -> None:
    """One more version in ``target``'s VN lists at every run, with the ``kind`` a probe
    stored (mvfst's 0xfaceb010 was stored as "other" before issue 20)."""
    with w.engine.begin() as conn:
        ids = conn.exec_driver_sql(
            "SELECT id FROM quic_vn_observations WHERE target = ?", (target,)
        ).fetchall()
        for i, (obs_id,) in enumerate(ids):
            conn.exec_driver_sql(
                "INSERT INTO quic_vn_versions (id, observation_id, position, version, label, kind)"
                " VALUES (?, ?, 9, ?, ?, ?)",
                (row_id + i, obs_id, version, f"0x{version:08x}", kind),
            )


def test_t8_reads_mvfst_versions_as_one_vendor_kind(tmp_path: Path) -> None:
    """t0 lists mvfst's 0xfaceb002 (stored as mvfst), t1 0xfaceb010 (stored as "other" by
    the old classifier): both are mvfst servers, so their version sets are one set, as in a
    world where both listed 0xfaceb002."""
    old = build_world(f"sqlite:///{tmp_path / 'old.sqlite'}", STANDARD_PLANTS)
    _add_vn_version(old, "t0.example.test", 0xFACEB002, "mvfst", 10**9)
    _add_vn_version(old, "t1.example.test", 0xFACEB010, "other", 2 * 10**9)
    same = build_world(f"sqlite:///{tmp_path / 'same.sqlite'}", STANDARD_PLANTS)
    _add_vn_version(same, "t0.example.test", 0xFACEB002, "mvfst", 10**9)
    _add_vn_version(same, "t1.example.test", 0xFACEB002, "mvfst", 2 * 10**9)
    got, want = values(old)["clean"]["T8"], values(same)["clean"]["T8"]
    assert got.params["version_set_entropy"] == want.params["version_set_entropy"]
    assert got.params["vendor_share"] == 2 / 9
    assert got.version == 2
    old.engine.dispose()
    same.engine.dispose()
