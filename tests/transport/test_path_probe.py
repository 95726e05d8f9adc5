"""path.udp443 with scapy against the loopback web hosts and a silent UDP peer (root)."""

from __future__ import annotations

import os

import pytest

from fragscope.db.vocab import Failure, PathOutcome
from fragscope.probes.base import Observation
from fragscope.probes.transport.path import (
    PathConfig,
    PathProbe,
    ab_outcome,
    ephemeral_range,
    source_port,
)
from tests.fixtures.hostile_peers import HostilePeers
from tests.fixtures.web_hosts import WebLab
from tests.transport.helpers import measure, policy, task

NAME = "www.example.test"

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="crafted packets (scapy) need root or CAP_NET_RAW"
)


def run(address: str, port: int, test: str) -> Observation:
    probe = PathProbe(PathConfig(timeout_s=1.0), policy=policy())
    return measure(probe, task("path.udp443", NAME, address=address, port=port, test=test))


def test_ab_algebra() -> None:
    assert ab_outcome(True, True) is PathOutcome.WORKS
    assert ab_outcome(True, False) is PathOutcome.BROKEN
    assert ab_outcome(False, True) is PathOutcome.TRANSIENT
    assert ab_outcome(False, False) is PathOutcome.OFFLINE


def test_source_ports_avoid_the_ephemeral_range() -> None:
    low, high = ephemeral_range()
    for i in range(200):
        port = source_port(f"k{i}", "base")
        assert 1024 <= port < low or port > high


def test_tasks_cover_the_three_tests() -> None:
    params = [tp.params["test"] for tp in PathProbe().tasks_for(NAME, None)]
    assert params == ["udp443", "tcp_ecn", "tcp_exp_option"]


@needs_root
def test_udp_answered_by_quic_server(web_lab: WebLab) -> None:
    obs = run(*web_lab.addr("h3"), "udp443")
    assert obs.ok, obs.failure_detail
    assert obs.fields["outcome"] == PathOutcome.ANSWERED and obs.fields["experiment"] == "vn"


@needs_root
def test_udp_rejected_without_listener(web_lab: WebLab) -> None:
    obs = run(*web_lab.addr("advertised"), "udp443")
    assert obs.fields["outcome"] == PathOutcome.REJECTED
    assert (obs.fields["icmp_type"], obs.fields["icmp_code"]) == (3, 3)  # port unreachable


@needs_root
def test_udp_rejected_ipv6(web_lab: WebLab) -> None:
    address, _ = web_lab.addr("h3", 6)
    _, port = web_lab.addr("advertised")  # nothing listens on this port on ::1
    obs = run(address, port, "udp443")
    assert obs.fields["outcome"] == PathOutcome.REJECTED
    assert obs.fields["icmp_type"] == 1  # ICMPv6 destination unreachable


@needs_root
def test_udp_dropped_by_silent_peer(hostile_peers: HostilePeers) -> None:
    obs = run(*hostile_peers.udp["silent"], "udp443")
    assert obs.fields["outcome"] == PathOutcome.DROPPED and obs.fields["experiment"] == "timeout"


@needs_root
@pytest.mark.parametrize("test", ["tcp_ecn", "tcp_exp_option"])
def test_tcp_ab_works(web_lab: WebLab, test: str) -> None:
    obs = run(*web_lab.addr("tcponly"), test)
    assert obs.ok, obs.failure_detail
    assert obs.fields["outcome"] == PathOutcome.WORKS
    assert obs.fields["baseline"].startswith("SA")
    if test == "tcp_ecn":
        assert obs.fields["ecn_negotiated"] is True  # Linux answers ECN setup (tcp_ecn=2)


@needs_root
def test_tcp_ab_offline_on_closed_port() -> None:
    obs = run("127.77.8.9", 9, "tcp_ecn")
    assert obs.fields["outcome"] == PathOutcome.OFFLINE
    assert obs.fields["baseline"] == "RA"


def test_policy_and_bad_test() -> None:
    obs = run("192.0.2.3", 443, "udp443")
    assert obs.failure == Failure.BLOCKED_BY_POLICY
    obs = run("127.0.0.1", 443, "nonsense")
    assert obs.failure == Failure.INVALID_INPUT


@needs_root
def test_tcp_ab_ipv6(web_lab: WebLab) -> None:
    obs = run(*web_lab.addr("h3v6", 6), "tcp_exp_option")
    assert obs.ok, obs.failure_detail
    assert obs.fields["outcome"] == PathOutcome.WORKS and obs.fields["ip_version"] == 6
