"""Naming indicators N1-N8 on a planted DNS/naming world (tests/fixtures/analysis.py).

The plant: a control resolver and a manipulating test resolver (rewrites www and
rewritten, NXDOMAIN for blocked, answers x.onion), a validating test resolver for the DNSSEC
names, TLD views of an alternative root (geek), whoami egresses in two ASes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from fragscope.analysis import asn, compute, scope
from fragscope.analysis.result import Estimate
from tests.fixtures.analysis import (
    DNS_PLANT,
    MANIP_RESOLVER,
    STANDARD_PLANTS,
    World,
    add_dns_world,
    build_world,
)


def _world(tmp_path: Path, name: str, plant: dict | None = None) -> World:
    return build_world(
        f"sqlite:///{tmp_path / name}",
        STANDARD_PLANTS,
        extra=lambda engine, runs: add_dns_world(engine, runs, "censored", plant),
    )


def _values(w: World, *, mapping: bool = True) -> dict[str, Estimate]:
    runs = scope.select_runs(w.engine, run=w.runs["censored"])
    c = compute.compute(w.engine, runs, mapping=asn.load_lab() if mapping else None)
    return {e.code: e for e in c.estimates}


@pytest.fixture
def dns_world(tmp_path: Path) -> World:
    w = _world(tmp_path, "dns.sqlite")
    yield w
    w.engine.dispose()


def test_naming_values_exact(dns_world: World) -> None:
    v = _values(dns_world)
    # N1: 13 (name, test resolver) pairs; inconsistent: www, rewritten, blocked, x.onion
    # at the manipulating resolver and bogus (SERVFAIL at control, an address there).
    assert v["N1"].value == pytest.approx(5 / 13) and v["N1"].n == 11
    assert v["N2"].value == pytest.approx(1 / 4)  # geek exists only at the test resolver
    assert v["N2"].params["extra_tld_pairs"] == 1
    # N5: the 11 dns.query names and 3 only a root endpoint of naming.resolve answered
    # (www.geek, www.test, x.forever; one view each, so never ambiguous).
    assert v["N5"].value == pytest.approx(4 / 14)
    assert v["N5"].params["causes"] == {"resolvers": 4, "roots_conflicting": 0, "roots_partial": 0}
    assert v["N6"].value == pytest.approx(1 / 2)  # the manipulating resolver does not validate
    assert v["N7"].value == pytest.approx(0.25)  # shares 3/4 and 1/4 -> HHI* 0.25
    assert v["N7"].params["hhi"] == pytest.approx(6250)
    # x.onion answered; 3 canary tests of the test resolver (the control is no test).
    assert v["N8"].value == pytest.approx(1 / 3)
    assert v["N3"].value == pytest.approx(1 / 3)  # alt TLDs geek, test, eth; test collides
    # Five alternative-namespace lookups (the icann endpoint's is not one): the gateway's
    # got no answer; x.forever's not_found is an answer.
    assert v["N4"].value == pytest.approx(1 / 5)
    assert v["N4"].params["anr"]["ens/http-gateway"] == {
        "attempts": 1,
        "successes": 0,
        "anr": 0.0,
    }
    assert v["N3"].params["namespaces"]["opennic"] == {"tlds": 2, "colliding": 1, "acr": 0.5}
    assert v["N3"].params["colliding"] == ["test"]
    assert v["N4"].params["apd"] == 0.0


def test_n1_without_mapping_counts_the_cdn_as_divergent(dns_world: World) -> None:
    v = _values(dns_world, mapping=False)
    assert v["N1"].value == pytest.approx(6 / 13)
    assert v["N1"].params["asn_used"] is False


def test_composite_from_pillars(dns_world: World) -> None:
    v = _values(dns_world)
    naming = np.mean([v[c].value for c in ("N1", "N2", "N5", "N8", "N6")])
    concentration = np.mean([v["N7"].value, v["N4"].params["apd"]])
    transport = np.mean([v[c].value for c in ("T1", "T2", "T3", "T4", "T5")])
    assert v["C2"].value == pytest.approx((naming + concentration + transport) / 3)
    assert v["C2"].ci_low <= v["C2"].value <= v["C2"].ci_high


def test_perturbation_remove_one_rewrite(tmp_path: Path, dns_world: World) -> None:
    """Drop the planted rewrite of rewritten.example.test: N1 falls by exactly 1/13 and N5
    by 1/14; N2, N6, N7, N8 and every transport indicator stay."""
    plant = copy.deepcopy(DNS_PLANT)
    plant["rewritten.example.test"][MANIP_RESOLVER] = ["10.99.80.10"]
    w2 = _world(tmp_path, "perturbed.sqlite", plant)
    before, after = _values(dns_world), _values(w2)
    assert after["N1"].value - before["N1"].value == pytest.approx(-1 / 13)
    assert after["N5"].value - before["N5"].value == pytest.approx(-1 / 14)
    for code in ("N2", "N3", "N4", "N6", "N7", "N8", "T1", "T2", "T3", "T4", "T5", "O1"):
        assert after[code].value == before[code].value, code
    w2.engine.dispose()


def test_composite_weight_sensitivity_brackets_equal_weights(dns_world: World) -> None:
    c2 = _values(dns_world)["C2"]
    ws = c2.params["weight_sensitivity"]
    pillars = list(c2.params["pillars"].values())
    assert min(pillars) <= ws["p025"] <= c2.value <= ws["p975"] <= max(pillars)


def test_n6_leaves_out_a_resolver_declared_not_validating(dns_world: World) -> None:
    """The run's campaign declares the manipulating resolver validates_dnssec = false
    (as Quad9's 9.9.9.10 is): N6 judges only the validating one. Rows carry the port and
    transport dns.query records, so the declaration (a udp:// URL) meets them."""

    config = {
        "endpoints": [
            {"url": f"udp://{MANIP_RESOLVER}", "role": "test", "validates_dnssec": False},
            {"url": "https://10.99.53.1/dns-query#x", "role": "control", "filtering": "none"},
        ]
    }
    with dns_world.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE dns_observations SET resolver_port = 53, transport = 'udp'")
        conn.exec_driver_sql(
            "UPDATE runs SET config = ? WHERE id = ?",
            (json.dumps(config), dns_world.runs["censored"]),
        )
    n6 = _values(dns_world)["N6"]
    assert n6.value == 0.0 and n6.n == 1, (n6.value, n6.n, n6.params)
    assert n6.params["non_validating_left_out"] == 1
    assert n6.version == 3
