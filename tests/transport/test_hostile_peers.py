"""Hostile peers give failure rows, never a crash or a hang (issue 8)."""

from __future__ import annotations

import subprocess
import sys

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.base import Observation
from fragscope.probes.transport.quic import QuicConfig, QuicProbe
from fragscope.probes.transport.tls import TlsConfig, TlsProbe
from fragscope.probes.transport.vn import VnConfig, VnProbe
from tests.fixtures.hostile_peers import HANDSHAKE_FAILURE, HostilePeers
from tests.transport.helpers import measure, policy, task

NAME = "www.example.test"


def tls(peers: HostilePeers, name: str) -> Observation:
    address, port = peers.tcp[name]
    cfg = TlsConfig(handshake_timeout_s=1.0, http_timeout_s=1.0)
    return measure(
        TlsProbe(cfg, policy=policy()), task("transport.tls", NAME, address=address, port=port)
    )


def quic(peers: HostilePeers, name: str) -> Observation:
    address, port = peers.udp[name]
    cfg = QuicConfig(handshake_timeout_s=1.0)
    return measure(
        QuicProbe(cfg, policy=policy()), task("transport.quic", NAME, address=address, port=port)
    )


def vn(peers: HostilePeers, name: str) -> Observation:
    address, port = peers.udp[name]
    cfg = VnConfig(timeout_s=1.0)
    return measure(
        VnProbe(cfg, policy=policy()), task("transport.quic_vn", NAME, address=address, port=port)
    )


def test_tls_reset_mid_handshake(hostile_peers: HostilePeers) -> None:
    obs = tls(hostile_peers, "reset")
    assert obs.failure == Failure.CONNECTION_RESET
    assert obs.failed_operation == Operation.TLS_HANDSHAKE
    assert obs.fields["connect_ms"] is not None


def test_tls_stall_after_client_hello(hostile_peers: HostilePeers) -> None:
    obs = tls(hostile_peers, "stall")
    assert obs.failure == Failure.GENERIC_TIMEOUT_ERROR
    assert obs.failed_operation == Operation.TLS_HANDSHAKE
    assert obs.duration_ms < 3000


def test_tls_plaintext_garbage(hostile_peers: HostilePeers) -> None:
    obs = tls(hostile_peers, "garbage")
    assert obs.failure in (Failure.SSL_FAILED_HANDSHAKE, Failure.CONNECTION_RESET)
    assert obs.failed_operation == Operation.TLS_HANDSHAKE


def test_http_garbage_after_tls(hostile_peers: HostilePeers) -> None:
    obs = tls(hostile_peers, "bad_http")
    assert obs.failure == Failure.HTTP_ERROR
    assert obs.failed_operation == Operation.HTTP_REQUEST
    assert obs.fields["tls_version"] == "TLSv1.3"


def test_quic_garbage_udp(hostile_peers: HostilePeers) -> None:
    obs = quic(hostile_peers, "garbage")
    assert obs.failure == Failure.QUIC_HANDSHAKE_TIMEOUT
    assert obs.fields["stage"] == "server_replied"


def test_quic_silence(hostile_peers: HostilePeers) -> None:
    obs = quic(hostile_peers, "silent")
    assert obs.failure == Failure.QUIC_NO_REPLY
    assert obs.fields["stage"] == "initial_sent"
    assert obs.retryable


def test_quic_malformed_vn(hostile_peers: HostilePeers) -> None:
    for name in ("malformed_vn", "truncated_vn"):
        obs = quic(hostile_peers, name)
        assert obs.failure == Failure.QUIC_HANDSHAKE_TIMEOUT, name


def test_tls_alert_is_its_own_failure_with_its_code(hostile_peers: HostilePeers) -> None:
    obs = tls(hostile_peers, "alert")
    assert obs.failure == Failure.TLS_ALERT
    assert obs.failed_operation == Operation.TLS_HANDSHAKE
    assert obs.fields["tls_alert"] == HANDSHAKE_FAILURE
    assert (obs.failure_detail or "").startswith("TLS alert 40 handshake_failure")


def test_quic_vn_without_common_version(hostile_peers: HostilePeers) -> None:
    obs = quic(hostile_peers, "unknown_versions_vn")
    assert obs.failure == Failure.QUIC_INCOMPATIBLE_VERSION
    assert obs.fields["server_versions"] == [0x5A5A5A5A, 0x12345678]


def test_vn_probe_garbage_and_malformed(hostile_peers: HostilePeers) -> None:
    obs = vn(hostile_peers, "garbage")
    assert obs.failure == Failure.QUIC_BAD_REPLY and obs.fields["reply"] == "other"
    for name in ("malformed_vn", "truncated_vn"):
        obs = vn(hostile_peers, name)
        assert obs.failure == Failure.QUIC_BAD_REPLY, name
        assert obs.fields["reply"] == "malformed"
        assert obs.fields["raw_reply"]
    obs = vn(hostile_peers, "silent")
    assert obs.failure == Failure.QUIC_NO_REPLY and obs.fields["reply"] == "none"
    obs = vn(hostile_peers, "unknown_versions_vn")
    assert obs.ok and obs.fields["has_v1"] is False


def test_garbage_task_params_are_invalid_input_rows() -> None:
    from fragscope.probes.transport.path import PathProbe

    probes = [TlsProbe(policy=policy()), QuicProbe(policy=policy()), VnProbe(policy=policy())]
    probes.append(PathProbe(policy=policy()))
    for probe in probes:
        for params in ({"address": "127.0.0.1", "port": "https"}, {"address": "::1", "port": 0}):
            obs = measure(probe, task(probe.name, NAME, **params))
            assert obs.failure == Failure.INVALID_INPUT, (probe.name, params)
            assert obs.fields["port"] in (443, 0) and obs.fields["address"] == params["address"]


def test_vn_without_common_version_is_stored_not_printed(hostile_peers: HostilePeers) -> None:
    """aioquic logs "Could not find a common protocol version" to its own logger; in a
    process without logging set up (the CLI), that line reached stderr on every run of
    `make demo`. It must only be the stored failure."""
    address, port = hostile_peers.udp["unknown_versions_vn"]
    script = (
        "import asyncio, sys\n"
        "from fragscope.probes.transport.quic import QuicConfig, QuicProbe\n"
        "from fragscope.probes.base import Task\n"
        "probe = QuicProbe(QuicConfig(handshake_timeout_s=1.0))\n"
        f"task = Task('k', 'transport.quic', {NAME!r}, params={{'address': {address!r}, "
        f"'port': {port}}}, deadline_s=5.0)\n"
        "obs = asyncio.run(probe.measure(task))\n"
        "print(obs.failure, obs.failure_detail, sep='|')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "quic_incompatible_version|Version Negotiation: no common version"
    assert done.stderr == ""
