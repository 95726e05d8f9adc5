"""QUIC through the vantages: a bare aioquic client and Python's ssl, run in the client
namespaces, against Hypercorn (lab.web's HTTP/3 host) in the upstream namespace."""

from __future__ import annotations

import json
import sys

import pytest

from tests.fixtures.vantages import HOST_H3_DROP, HOST_H3_OPEN, H3Hosts, Topology

pytestmark = pytest.mark.lab


def client(topo: Topology, vantage: str, kind: str, host: str, h3: H3Hosts,
           timeout: float = 2.0) -> dict[str, object]:  # fmt: skip
    done = topo.run(
        vantage, sys.executable, "-m", "tests.fixtures.quicprobe", kind, host, "443",
        "--ca", str(h3.ca), "--timeout", str(timeout),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_censored_blocks_quic_but_not_https_over_tcp(
    vantage_topology: Topology, vantage_h3: H3Hosts
) -> None:
    quic = client(vantage_topology, "censored", "quic", HOST_H3_DROP, vantage_h3)
    tls = client(vantage_topology, "censored", "tls", HOST_H3_DROP, vantage_h3)
    assert quic == {"ok": False, "error": "timeout", "ms": None}
    assert tls["ok"] is True and tls["alpn"] == "h2", tls


def test_censored_leaves_quic_to_other_hosts(
    vantage_topology: Topology, vantage_h3: H3Hosts
) -> None:
    assert client(vantage_topology, "censored", "quic", HOST_H3_OPEN, vantage_h3)["ok"] is True


def test_distant_quic_handshake_takes_at_least_one_planted_rtt(
    vantage_topology: Topology, vantage_h3: H3Hosts
) -> None:
    near = client(vantage_topology, "censored", "quic", HOST_H3_OPEN, vantage_h3)
    far = client(vantage_topology, "distant", "quic", HOST_H3_OPEN, vantage_h3, timeout=5)
    assert near["ok"] is True and far["ok"] is True, (near, far)
    # The QUIC handshake needs one round trip (RFC 9000 section 7), i.e. 2 x 150 ms here.
    assert 250 <= float(far["ms"]) < 2000  # type: ignore[arg-type]
    assert float(far["ms"]) - float(near["ms"]) >= 250  # type: ignore[arg-type]
