"""transport.sni against hostile peers and bad input: a row with a verdict or a failure,
never an exception or a hang; nothing is sent where the policy forbids it."""

from __future__ import annotations

import time

import pytest

from fragscope.db.vocab import Failure
from fragscope.probes.safety import NetworkPolicy
from fragscope.probes.transport.sni import SniConfig, SniProbe
from tests.fixtures.hostile_peers import ACCESS_DENIED, ALERTED_SNI, HostilePeers
from tests.transport.helpers import measure, policy, task

NAME = "www.example.test"


def sni(address: str, port: int, transport: str, *, net: NetworkPolicy | None = None) -> SniProbe:
    cfg = SniConfig(port=port, tries=1, handshake_timeout_s=0.3, transports=(transport,))
    return SniProbe(cfg, policy=net or policy())


@pytest.mark.parametrize(
    ("transport", "peer", "verdict"),
    [
        ("tcp", "reset", "ip_or_port_blocked"),  # every handshake reset, control included
        ("tcp", "stall", "ip_or_port_blocked"),
        ("tcp", "garbage", "ok"),  # it answers (garbage): the path carries both names
        # a TLS alert to every name: the real SNI is refused, but as the control is
        ("tcp", "alert", "inconclusive"),
        ("quic", "garbage", "ip_or_port_blocked"),  # garbage back: UDP/443 carries it
        ("quic", "silent", "udp_blocked"),
        ("quic", "truncated_vn", "ip_or_port_blocked"),
    ],
)
def test_hostile_peer_gives_a_verdict_row(
    hostile_peers: HostilePeers, transport: str, peer: str, verdict: str
) -> None:
    peers = hostile_peers.tcp if transport == "tcp" else hostile_peers.udp
    address, port = peers[peer]
    t0 = time.monotonic()
    obs = measure(
        sni(address, port, transport),
        task("transport.sni", NAME, address=address, port=port, transport=transport),
    )
    assert obs.failure is None, obs.failure_detail
    assert obs.fields["verdict"] == verdict, obs.children
    steps = [row["step"] for _, row in obs.children]
    assert steps[:4] == ["control_first", "real_first", "real_repeat", "control_later"]
    assert time.monotonic() - t0 < 6.0


@pytest.mark.parametrize(("target", "verdict"), [(ALERTED_SNI, "sni_filtered"), (NAME, "ok")])
def test_injected_tls_alert_on_the_real_sni_is_filtering(
    hostile_peers: HostilePeers, target: str, verdict: str
) -> None:
    """A censor that answers the real SNI's ClientHello with a TLS alert (access_denied)
    while the control completes: sni_filtered, as with an injected RST, never ok."""
    address, port = hostile_peers.tcp["alert_blocked"]
    obs = measure(
        sni(address, port, "tcp"),
        task("transport.sni", target, address=address, port=port, transport="tcp"),
    )
    assert obs.failure is None, obs.failure_detail
    assert obs.fields["verdict"] == verdict, obs.children
    rows = {row["step"]: row for _, row in obs.children}
    assert rows["control_first"]["ok"] is True and rows["control_first"]["failure"] is None
    real = rows["real_first"]
    if verdict == "ok":
        assert real["ok"] is True and real["tls_alert"] is None
    else:
        assert real["ok"] is False and real["failure"] == Failure.TLS_ALERT
        assert real["tls_alert"] == ACCESS_DENIED
        assert "access_denied" in real["failure_detail"]
        assert obs.fields["real_first_ok"] is False and obs.fields["control_later_ok"] is True


def test_forbidden_address_is_a_failure_row_and_sends_nothing() -> None:
    forbidden = NetworkPolicy.from_env(blocked=["127.0.0.0/8"])
    obs = measure(
        sni("127.0.0.1", 9, "tcp", net=forbidden),
        task("transport.sni", NAME, address="127.0.0.1", transport="tcp"),
    )
    assert obs.failure == Failure.BLOCKED_BY_POLICY
    assert obs.children == []


def test_ip_literal_target_has_no_name_to_test() -> None:
    obs = measure(sni("127.0.0.1", 9, "quic"), task("transport.sni", "127.0.0.1", transport="quic"))
    assert obs.failure == Failure.INVALID_INPUT
    assert "sni" in (obs.failure_detail or "")
