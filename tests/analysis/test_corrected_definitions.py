"""Issue 19 step 1 on built databases: DNS views keyed by endpoint, C1 by N1's answer
classes, N8 over test resolvers, T5 from AAAA answers, N5 with the roots' answers, N3 not
shrinking with loss, N7's SPD. Each planted world is small enough to derive by hand (the
derivation sits beside each assertion); the rows are written with the real writer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fragscope.analysis import asn, compute, naming, scope
from fragscope.analysis.result import Estimate
from fragscope.db.ids import child_id, vantage_id
from tests.fixtures.analysis import (
    STANDARD_PLANTS,
    World,
    build_world,
    dns_query_rows,
    envelope,
    foreign_insert,
)

SHARED = "10.99.53.1"  # one address serving a Do53 test endpoint and the DoH control
OWN = {"clean": "10.99.53.1", "censored": "10.99.53.30"}  # each vantage's Do53 resolver
NAMES = tuple(f"{c}.example.test" for c in "abcde")  # N1 needs >= 5 names
TRUE = {n: f"10.99.80.{i + 1}" for i, n in enumerate(NAMES)}
CANARIES = ("x.onion", "y.invalid", "z.alt")


def _values(w: World, label: str) -> dict[str, Estimate]:
    runs = scope.select_runs(w.engine, round_name="r1")
    c = compute.compute(w.engine, runs, mapping=asn.load_lab())
    return {e.code: e for e in c.estimates if e.run_id == w.runs[label]}


def _query(
    run: str, label: str, name: str, endpoint: tuple[str, int, str, str], answer: Any, **kw: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A dns.query row: ``answer`` a list of addresses (NOERROR) or an rcode name."""
    address, port, transport, role = endpoint
    rcode, addrs = ("NOERROR", answer) if isinstance(answer, list) else (answer, [])
    return dns_query_rows(
        run,
        vantage_id(label, "synthetic"),
        name,
        kw.pop("qtype", "A"),
        address,
        rcode,
        addrs,
        resolver_port=port,
        transport=transport,
        resolver_role=role,
        **kw,
    )


def _dns_world(
    tmp_path: Path, answers: dict[str, dict[tuple[str, int, str, str], dict[str, Any]]]
) -> World:
    """label -> endpoint -> name -> answer, on the standard transport world."""

    def extra(engine: Any, runs: dict[str, str]) -> None:
        obs: list[dict[str, Any]] = []
        rrs: list[dict[str, Any]] = []
        for label, per_endpoint in answers.items():
            for endpoint, per_name in per_endpoint.items():
                for name, answer in per_name.items():
                    row, found = _query(runs[label], label, name, endpoint, answer)
                    obs.append(row)
                    rrs.extend(found)
        foreign_insert(engine, "dns_observations", obs)
        foreign_insert(engine, "dns_answers", rrs)

    return build_world(f"sqlite:///{tmp_path / 'w.sqlite'}", STANDARD_PLANTS, extra=extra)


@pytest.fixture
def shared_address(tmp_path: Path) -> Iterator[World]:
    """censored: a Do53 test endpoint on the DoH control's address that rewrites every
    name (the control answers the truth)."""
    control = (SHARED, 443, "https", "control")
    test = (SHARED, 53, "udp", "test")
    w = _dns_world(
        tmp_path,
        {
            "censored": {
                control: {n: [TRUE[n]] for n in NAMES},
                test: {n: ["10.99.66.1"] for n in NAMES},
            }
        },
    )
    yield w
    w.engine.dispose()


def test_a_test_endpoint_on_the_controls_address_is_never_merged(shared_address: World) -> None:
    facts = naming.load_dns(
        shared_address.engine,
        [shared_address.runs["censored"]],
        {"dns_observations", "dns_answers"},
    )[shared_address.runs["censored"]]
    views = facts.views[("a.example.test", "A")]
    assert {(e.address, e.port, e.transport, e.role) for e in views} == {
        (SHARED, 443, "https", "control"),
        (SHARED, 53, "udp", "test"),
    }
    # Every (name, test endpoint) pair is a rewrite: RAD = 5/5 (merged by address, the
    # test endpoint became the control and N1 had nothing to compare).
    n1 = _values(shared_address, "censored")["N1"]
    assert n1.value == 1.0 and n1.n == len(NAMES)


def test_c1_dns_divergence_is_the_rewrite_share(tmp_path: Path) -> None:
    """Transport identical at both vantages: C1's DIS over the common keys counts exactly
    the 2 rewritten names among the DNS keys."""
    control = (SHARED, 443, "https", "control")
    truth = {n: [TRUE[n]] for n in NAMES}
    rewritten = {**truth, NAMES[0]: ["10.99.66.1"], NAMES[1]: ["10.99.66.2"]}
    plants = {"clean": STANDARD_PLANTS["clean"], "censored": STANDARD_PLANTS["clean"]}
    rows = {
        "clean": {control: truth, (OWN["clean"], 53, "udp", "test"): truth},
        "censored": {control: truth, (OWN["censored"], 53, "udp", "test"): rewritten},
    }

    def extra(engine: Any, runs: dict[str, str]) -> None:
        obs, rrs = [], []
        for label, per_endpoint in rows.items():
            for endpoint, per_name in per_endpoint.items():
                for name, answer in per_name.items():
                    row, found = _query(runs[label], label, name, endpoint, answer)
                    obs.append(row)
                    rrs.extend(found)
        foreign_insert(engine, "dns_observations", obs)
        foreign_insert(engine, "dns_answers", rrs)

    w = build_world(f"sqlite:///{tmp_path / 'same.sqlite'}", plants, extra=extra)
    try:
        c1 = _values(w, "censored")["C1"]
        keys = c1.params["common_keys"]
        assert c1.params["dis"] == pytest.approx(2 / keys)
        assert c1.value is not None and c1.value > 0
    finally:
        w.engine.dispose()


def test_n8_a_resolver_violating_on_every_canary_scores_one(tmp_path: Path) -> None:
    control = (SHARED, 443, "https", "control")
    w = _dns_world(
        tmp_path,
        {
            "censored": {
                control: dict.fromkeys(CANARIES, "NXDOMAIN"),
                (OWN["censored"], 53, "udp", "test"): {c: ["10.99.66.6"] for c in CANARIES},
            }
        },
    )
    try:
        n8 = _values(w, "censored")["N8"]
        assert n8.value == 1.0 and n8.n == len(CANARIES)  # v1: 3 / 6 with the control
    finally:
        w.engine.dispose()


def test_t5_counts_the_aaaa_answers_of_hosts_probed_on_ipv4(tmp_path: Path) -> None:
    """The standard plants probe t0-t4 over both families and t5-t9 over IPv4 only; t5 and
    t6 also have AAAA answers. AAAA_share = 7/10, P6 = 5/5 over the AAAA targets probed on
    IPv6: V6F = 1 - 0.7 = 0.3 (v1, from the probed addresses alone: 1 - 5/10 = 0.5)."""
    test = (OWN["censored"], 53, "udp", "test")
    w = _dns_world(
        tmp_path,
        {
            "censored": {
                test: {"t5.example.test": ["fd99::80:99"], "t6.example.test": ["fd99::80:98"]}
            }
        },
    )
    try:
        with w.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE dns_observations SET qtype = 'AAAA'")
        t5 = _values(w, "censored")["T5"]
        assert t5.value == pytest.approx(0.3) and t5.n == 10
        assert t5.params["aaaa_share"] == pytest.approx(0.7)
        assert t5.params["p6"] == 1.0 and t5.params["aaaa_unprobed"] == 2
        assert t5.ci_low <= t5.value <= t5.ci_high
    finally:
        w.engine.dispose()


def _naming_row(
    run: str, label: str, ns: str, name: str, outcome: str | None, values: list[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    env = envelope(run, vantage_id(label, "synthetic"), "naming.resolve", name, f"dns:{ns}")
    row = {
        **env,
        "namespace": ns,
        "name": name,
        "name_normalized": name,
        "method": "dns",
        "endpoint_namespace": ns,
        "endpoint_operator": f"{ns}-lab",
        "depends_on_icann_dns": False,
        "outcome": outcome,
        "n_values": len(values),
        "failure": None if outcome else "generic_timeout_error",
    }
    kids = [
        {
            "id": child_id(env["id"], pos),
            "observation_id": env["id"],
            "kind": "aaaa" if ":" in v else "a",
            "value": v,
        }
        for pos, v in enumerate(values)
    ]
    return row, kids


def _naming_world(tmp_path: Path, lookups: list[tuple[str, str, str | None, list[str]]]) -> World:
    """The dns world of test_n5 plus naming.resolve lookups (ns, name, outcome, values)
    from censored."""
    control = (SHARED, 443, "https", "control")
    test = (OWN["censored"], 53, "udp", "test")
    truth = {n: [TRUE[n]] for n in NAMES}

    def extra(engine: Any, runs: dict[str, str]) -> None:
        obs, rrs, rows, values = [], [], [], []
        for endpoint in (control, test):
            for name, answer in truth.items():
                row, found = _query(runs["censored"], "censored", name, endpoint, answer)
                obs.append(row)
                rrs.extend(found)
        for ns, name, outcome, vals in lookups:
            row, kids = _naming_row(runs["censored"], "censored", ns, name, outcome, vals)
            rows.append(row)
            values.extend(kids)
        foreign_insert(engine, "dns_observations", obs)
        foreign_insert(engine, "dns_answers", rrs)
        foreign_insert(engine, "naming_observations", rows)
        foreign_insert(engine, "naming_values", values)

    return build_world(f"sqlite:///{tmp_path / 'n.sqlite'}", STANDARD_PLANTS, extra=extra)


def test_n5_includes_the_alternative_roots_answers(tmp_path: Path) -> None:
    """The dns.query resolvers agree on all 5 names. An alternative root answers a with
    another address (ambiguous: roots_conflicting), b with the true one (not ambiguous)
    and says c does not exist (NXDOMAIN beside an answer: roots_partial). NAE = 2/5 (v1:
    0, the roots' answers unread)."""
    w = _naming_world(
        tmp_path,
        [
            ("opennic", NAMES[0], "resolved", ["10.99.66.9"]),
            ("opennic", NAMES[1], "resolved", [TRUE[NAMES[1]]]),
            ("opennic", NAMES[2], "not_found", []),
        ],
    )
    try:
        n5 = _values(w, "censored")["N5"]
        assert n5.value == pytest.approx(2 / 5) and n5.n == len(NAMES)
        assert n5.params["causes"] == {"resolvers": 0, "roots_conflicting": 1, "roots_partial": 1}
    finally:
        w.engine.dispose()


def test_n3_a_lost_icann_lookup_is_not_no_collision(tmp_path: Path) -> None:
    """opennic finds www.geek and www.test (test: special-use, colliding). ICANN finds
    www.geek: ACR = 2/2. With the ICANN lookup lost instead, v2 read the pair (opennic,
    geek) as not colliding (1/2); v3 leaves it out: 1/1, the value loss cannot lower."""

    def n3(tag: str, icann_outcome: str | None) -> Estimate:
        w = _naming_world(
            tmp_path / tag,
            [
                ("opennic", "www.geek", "resolved", ["10.99.54.9"]),
                ("opennic", "www.test", "resolved", ["10.99.54.10"]),
                ("icann", "www.geek", icann_outcome, ["10.99.80.9"] if icann_outcome else []),
            ],
        )
        try:
            return _values(w, "censored")["N3"]
        finally:
            w.engine.dispose()

    (tmp_path / "found").mkdir()
    (tmp_path / "lost").mkdir()
    found, lost = n3("found", "resolved"), n3("lost", None)
    assert found.value == 1.0 and found.n == 2
    assert lost.value == 1.0 and lost.n == 1
    assert lost.params["undetermined"] == ["opennic:geek"]


def test_n7_spd_from_the_iterative_referrals(tmp_path: Path) -> None:
    """Three delegations in dns.iterative's steps: one.test and two.test each served by
    one provider (all NS hosts under one parent domain), split.test by two. SPD = 2/3."""
    referrals = {
        "one.test.": "ns1.host-a.test.,ns2.host-a.test.",
        "two.test.": "ns.host-b.test.",
        "split.test.": "ns1.host-a.test.,ns.host-b.test.",
    }

    def extra(engine: Any, runs: dict[str, str]) -> None:
        row, _ = _query(
            runs["censored"],
            "censored",
            "www.one.test",
            ("10.99.0.1", 53, "udp", "test"),
            ["10.99.80.1"],
            probe="dns.iterative",
            validation="insecure",
        )
        steps = [
            {
                "id": child_id(row["id"], i),
                "observation_id": row["id"],
                "step": i,
                "depth": 0,
                "zone": "test.",
                "server_name": "ns.tld.test.",
                "server_address": "10.99.1.1",
                "qname": f"www.{zone}",
                "qtype": "A",
                "outcome": "referral",
                "referral_zone": zone,
                "referral_ns": ns,
            }
            for i, (zone, ns) in enumerate(referrals.items())
        ]
        foreign_insert(engine, "dns_observations", [row])
        foreign_insert(engine, "dns_iterative_steps", steps)

    w = build_world(f"sqlite:///{tmp_path / 'spd.sqlite'}", STANDARD_PLANTS, extra=extra)
    try:
        n7 = _values(w, "censored")["N7"]
        assert n7.params["spd"] == pytest.approx(2 / 3) and n7.params["spd_zones"] == 3
        c2 = _values(w, "censored")["C2"]
        assert "N7.spd" in c2.params["members_present"]["concentration"]
    finally:
        w.engine.dispose()
