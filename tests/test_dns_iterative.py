"""dns.iterative against the loopback hierarchy: referrals, glue, out-of-bailiwick NS,
CNAMEs, DNSSEC classification, agreement with Unbound."""

from __future__ import annotations

import asyncio
from pathlib import Path

import dns.dnssec
import pytest

from fragscope.db.vocab import Failure
from fragscope.probes.base import Observation, Task
from fragscope.probes.dns.iterative import DnsIterativeConfig, DnsIterativeProbe, load_anchors
from fragscope.probes.safety import NetworkPolicy
from tests.dns.run import run_query, task
from tests.dns.world import DnsWorld


def iterate(world: DnsWorld, name: str, qtype: str = "A") -> Observation:
    probe = DnsIterativeProbe(
        DnsIterativeConfig(
            root_hints=str(world.files["hints"]),
            trust_anchor=str(world.files["anchor"]),
        ),
        policy=NetworkPolicy.from_env(),
    )
    t = Task(key=f"{name}/{qtype}", probe=probe.name, target=name, params={"qtype": qtype})
    return asyncio.run(probe.measure(t))


def _answers(obs: Observation, rtype: str) -> list[str]:
    return sorted(
        r["value"]
        for table, r in obs.children
        if table == "dns_answers" and r["section"] == "answer" and r["rtype"] == rtype
    )


def _steps(obs: Observation) -> list[dict]:
    return [r for table, r in obs.children if table == "dns_iterative_steps"]


@pytest.mark.parametrize(
    ("name", "qtype", "validation"),
    [
        ("www.example.test", "A", "secure"),
        ("www.example.test", "HTTPS", "secure"),
        ("example.test", "MX", "secure"),
        ("host.lab", "A", "insecure"),
        ("www.oob.test", "A", "insecure"),
        ("alias.example.test", "A", "secure"),
    ],
)
def test_iterative_matches_unbound(
    dns_world: DnsWorld, name: str, qtype: str, validation: str
) -> None:
    obs = iterate(dns_world, name, qtype)
    assert obs.failure is None, obs.failure_detail
    assert obs.fields["validation"] == validation, obs.fields["validation_detail"]
    [via_unbound] = run_query([task(name, dns_world.urls["udp"], qtype)])
    assert _answers(obs, qtype) == _answers(via_unbound, qtype)
    steps = _steps(obs)
    assert steps[0]["server_address"] == dns_world.root
    assert all(s["outcome"] for s in steps)


def test_referral_chain_is_recorded(dns_world: DnsWorld) -> None:
    obs = iterate(dns_world, "www.example.test")
    chain = [
        (s["zone"], s["outcome"], s.get("referral_zone"))
        for s in _steps(obs)
        if s["qtype"] == "A" and s["depth"] == 0
    ]
    assert chain == [
        (".", "referral", "test."),
        ("test.", "referral", "example.test."),
        ("example.test.", "answer", None),
    ]
    assert all(s["rtt_ms"] > 0 for s in _steps(obs))
    assert {s["qtype"] for s in _steps(obs)} == {"A", "DNSKEY"}


def test_out_of_bailiwick_ns_is_resolved_nested(dns_world: DnsWorld) -> None:
    obs = iterate(dns_world, "www.oob.test")
    depths = {s["depth"] for s in _steps(obs)}
    assert depths == {0, 1}
    nested = [s for s in _steps(obs) if s["depth"] == 1 and s["outcome"] == "answer"]
    assert nested and nested[-1]["qname"] == "ns2.example.test."


def test_cname_chain_followed(dns_world: DnsWorld) -> None:
    obs = iterate(dns_world, "alias.example.test")
    outcomes = [s["outcome"] for s in _steps(obs) if s["qtype"] == "A"]
    assert outcomes.count("cname") == 2 and outcomes[-1] == "answer"


@pytest.mark.parametrize("name", ["www.broken.test", "www.expired.test"])
def test_broken_and_expired_are_bogus(dns_world: DnsWorld, name: str) -> None:
    obs = iterate(dns_world, name)
    assert obs.fields["validation"] == "bogus", obs.fields["validation_detail"]
    assert obs.failure == Failure.DNS_BOGUS_ANSWER


def test_nxdomain_and_nodata_proved_with_nsec(dns_world: DnsWorld) -> None:
    nx = iterate(dns_world, "nope.example.test")
    assert nx.failure == Failure.DNS_NXDOMAIN_ERROR and nx.fields["validation"] == "secure"
    nodata = iterate(dns_world, "www.example.test", "MX")
    assert nodata.failure == Failure.DNS_NO_ANSWER and nodata.fields["validation"] == "secure"
    tld_nx = iterate(dns_world, "www.nosuchtld")
    assert tld_nx.failure == Failure.DNS_NXDOMAIN_ERROR and tld_nx.fields["validation"] == "secure"


def test_without_trust_anchor_the_iana_anchors_are_used_and_warned_about(
    dns_world: DnsWorld, caplog: pytest.LogCaptureFixture
) -> None:
    # The world's root is not the real root: IANA's KSK-2017 and KSK-2024 match no key
    # that signs its DNSKEY RRset, so the answer is bogus and the warning says why.
    probe = DnsIterativeProbe(
        DnsIterativeConfig(root_hints=str(dns_world.files["hints"])),
        policy=NetworkPolicy.from_env(),
    )
    task = Task(key="w", probe=probe.name, target="www.example.test", params={"qtype": "A"})
    with caplog.at_level("WARNING", logger="fragscope.probes.dns.iterative"):
        obs = asyncio.run(probe.measure(task))
        asyncio.run(probe.measure(task))
    assert obs.fields["validation"] == "bogus"
    signer = _root_ksk_tag(dns_world)
    warning = (
        "trust anchor warning: no anchor (key tags 20326, 38696) matches a key that signs "
        f"the root DNSKEY RRset (key tags {signer})"
    )
    assert warning in obs.fields["validation_detail"]
    assert probe.anchor_warning == warning
    assert [r.getMessage() for r in caplog.records] == [f"dns.iterative: {warning}"]


def test_an_anchor_that_matches_the_root_gives_no_warning(dns_world: DnsWorld) -> None:
    obs = iterate(dns_world, "www.example.test")
    assert obs.fields["validation"] == "secure"
    assert "trust anchor warning" not in obs.fields["validation_detail"]


def test_an_anchor_with_only_a_foreign_ds_is_warned_about(
    dns_world: DnsWorld, tmp_path: Path
) -> None:
    # A DS for a key tag the root does not use (IANA's KSK-2017 digest, as a stale file
    # would hold after the rollover).
    anchor = tmp_path / "stale.txt"
    anchor.write_text(
        ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n"
    )
    probe = DnsIterativeProbe(
        DnsIterativeConfig(root_hints=str(dns_world.files["hints"]), trust_anchor=str(anchor)),
        policy=NetworkPolicy.from_env(),
    )
    obs = asyncio.run(probe.measure(Task(key="s", probe=probe.name, target="www.example.test")))
    assert obs.fields["validation"] == "bogus"
    assert probe.anchor_warning == (
        "trust anchor warning: no anchor (key tags 20326) matches a key that signs the root "
        f"DNSKEY RRset (key tags {_root_ksk_tag(dns_world)})"
    )


def _root_ksk_tag(world: DnsWorld) -> int:
    """The key tag of the world's root KSK, read from its anchor file (a DNSKEY line)."""
    [rrset] = load_anchors(str(world.files["anchor"]))
    [key] = rrset
    return dns.dnssec.key_id(key)


def test_invalid_name_is_a_row(dns_world: DnsWorld) -> None:
    obs = iterate(dns_world, "bad..name")
    assert obs.failure == Failure.INVALID_INPUT and not _steps(obs)


def test_without_root_hints_every_task_is_invalid_input() -> None:
    probe = DnsIterativeProbe()
    obs = asyncio.run(probe.measure(Task(key="k", probe=probe.name, target="example.test")))
    assert obs.failure == Failure.INVALID_INPUT and "root_hints" in obs.failure_detail


# Each hostile root binds port 53 (root hints name no port) on an address of its own, so
# make test's xdist workers never race for one (EADDRINUSE).
HOSTILE_ROOT_ADDRESS = {
    "garbage": "127.66.201.1",
    "upward": "127.66.201.2",
    "silent": "127.66.201.3",
    "lossy": "127.66.201.4",
}


@pytest.mark.parametrize(
    ("mode", "failure", "outcome"),
    [
        ("garbage", Failure.DNS_SERVFAIL_ERROR, "error"),
        ("upward", Failure.DNS_SERVER_MISBEHAVING, "lame"),
        ("silent", Failure.GENERIC_TIMEOUT_ERROR, "timeout"),
    ],
)
def test_hostile_root_is_a_failure_row(
    tmp_path: Path, mode: str, failure: Failure, outcome: str
) -> None:
    from tests.dns.hostile import HostileServer

    address = HOSTILE_ROOT_ADDRESS[mode]
    hints = tmp_path / "hints"
    hints.write_text(f". 3600 IN NS a.root.hostile.\na.root.hostile. 3600 IN A {address}\n")
    probe = DnsIterativeProbe(
        DnsIterativeConfig(root_hints=str(hints), timeout_s=0.3), policy=NetworkPolicy.from_env()
    )
    with HostileServer(mode, address=address, port=53):
        obs = asyncio.run(probe.measure(Task(key="k", probe=probe.name, target="www.example.test")))
    assert obs.failure == failure, obs.failure_detail
    assert [s["outcome"] for s in _steps(obs)][-1] == outcome
    # Only a walk that met silence is tried again by the engine (a lost path, not an answer).
    assert obs.retryable == (failure is Failure.GENERIC_TIMEOUT_ERROR)


def test_a_lost_datagram_is_retransmitted_not_a_timeout(tmp_path: Path) -> None:
    # Issue 19 (loss is not censorship): the root answers each question only when it is
    # asked the second time, as on a path that lost the first datagram. The walk still
    # gets its answer within one timeout_s (the lossy vantage's N6 was withheld for this).
    from tests.dns.hostile import HostileServer

    address = HOSTILE_ROOT_ADDRESS["lossy"]
    hints = tmp_path / "hints"
    hints.write_text(f". 3600 IN NS a.root.hostile.\na.root.hostile. 3600 IN A {address}\n")
    probe = DnsIterativeProbe(
        DnsIterativeConfig(root_hints=str(hints), timeout_s=0.9), policy=NetworkPolicy.from_env()
    )
    with HostileServer("lossy", address=address, port=53):
        obs = asyncio.run(probe.measure(Task(key="k", probe=probe.name, target="www.example.test")))
    assert "timeout" not in [s["outcome"] for s in _steps(obs)], _steps(obs)
    assert obs.failure != Failure.GENERIC_TIMEOUT_ERROR, obs.failure_detail
