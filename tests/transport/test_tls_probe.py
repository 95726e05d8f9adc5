"""transport.tls against real Hypercorn and Caddy hosts on loopback (tests/fixtures/web_hosts)."""

from __future__ import annotations

import pytest

from fragscope.db.vocab import Failure, Operation
from fragscope.lab.web.app import HOSTILE_STRING
from fragscope.probes.engine.chains import follow_ups
from fragscope.probes.transport.tls import TlsConfig, TlsProbe
from tests.fixtures.web_hosts import WebLab
from tests.transport.helpers import NAME, lab_probe, measure, measure_host, policy, task


def probe(lab: WebLab, **kw: object) -> TlsProbe:
    return lab_probe(TlsProbe, lab, **kw)


def test_h3_host_over_tcp_advertises_h3_once(web_lab: WebLab) -> None:
    address, port = web_lab.addr("h3")
    obs = measure(probe(web_lab), task("transport.tls", NAME, address=address, port=port))
    assert obs.ok, obs.failure_detail
    f = obs.fields
    assert f["tls_version"] == "TLSv1.3"
    assert f["alpn"] == "h2" and f["http_version"] == "h2"
    assert f["http_status"] == 200
    assert f["alt_svc_raw"] == f'h3=":{port}"; ma=3600'
    assert f["alt_svc"] == [{"alpn": "h3", "host": "", "port": port, "ma": 3600, "persist": False}]
    assert f["alt_svc_h3"] is True
    assert f["cert_valid"] is True and f["cert_name_match"] is True and f["cert_failure"] is None
    assert len(f["cert_sha256"]) == 64 and f["chain_sha256"][0] == f["cert_sha256"]
    assert f["connect_ms"] > 0 and f["handshake_ms"] > 0
    assert obs.endpoint == f"{address}:{port}"


def test_http11_when_only_http11_offered(web_lab: WebLab) -> None:
    obs = measure_host(probe(web_lab, alpn=("http/1.1",)), web_lab, "caddy")
    assert obs.ok, obs.failure_detail
    assert obs.fields["alpn"] == "http/1.1" and obs.fields["http_version"] == "HTTP/1.1"
    assert obs.fields["http_server"] == "Caddy"
    assert obs.fields["alt_svc"][0]["alpn"] == "h3"


def test_tcp_only_host_has_no_alt_svc(web_lab: WebLab) -> None:
    obs = measure_host(probe(web_lab), web_lab, "tcponly")
    assert obs.ok
    assert obs.fields["alt_svc_h3"] is False and obs.fields.get("alt_svc_raw") is None


def test_hostile_server_header_stored_verbatim(web_lab: WebLab) -> None:
    obs = measure_host(probe(web_lab), web_lab, "hostile")
    assert obs.ok
    assert obs.fields["http_server"] == HOSTILE_STRING


def test_ipv6_address(web_lab: WebLab) -> None:
    address, port = web_lab.addr("h3", 6)
    obs = measure(probe(web_lab), task("transport.tls", NAME, address=address, port=port))
    assert obs.ok, obs.failure_detail
    assert obs.fields["ip_version"] == 6 and obs.endpoint == f"[::1]:{port}"


def test_unknown_authority_is_a_verdict_not_a_failure(web_lab: WebLab) -> None:
    obs = measure_host(TlsProbe(TlsConfig(), policy=policy()), web_lab, "tcponly")
    assert obs.ok
    assert obs.fields["cert_valid"] is False
    assert obs.fields["cert_failure"] == Failure.SSL_UNKNOWN_AUTHORITY
    assert obs.fields["http_status"] == 200  # the measurement went on (zgrab2-style)


def test_wrong_name_is_invalid_hostname(web_lab: WebLab) -> None:
    address, port = web_lab.addr("tcponly")
    obs = measure(
        probe(web_lab), task("transport.tls", "www.other.invalid", address=address, port=port)
    )
    assert obs.ok
    assert obs.fields["cert_name_match"] is False
    assert obs.fields["cert_failure"] == Failure.SSL_INVALID_HOSTNAME


def test_refused_port() -> None:
    obs = measure(
        TlsProbe(policy=policy()), task("transport.tls", NAME, address="127.77.8.9", port=9)
    )
    assert obs.failure == Failure.CONNECTION_REFUSED
    assert obs.failed_operation == Operation.CONNECT


def test_policy_blocks_before_sending() -> None:
    obs = measure(TlsProbe(policy=policy()), task("transport.tls", NAME, address="192.0.2.1"))
    assert obs.failure == Failure.BLOCKED_BY_POLICY


@pytest.mark.parametrize("address", ["not-an-ip", ""])
def test_invalid_address(address: str) -> None:
    obs = measure(TlsProbe(policy=policy()), task("transport.tls", "x.example", address=address))
    assert obs.failure == Failure.INVALID_INPUT


@pytest.mark.parametrize(
    ("mode", "host", "expected"),
    [
        ("never", "h3", 0),
        ("advertised", "h3", 1),
        ("advertised", "tcponly", 0),
        ("always", "tcponly", 1),
    ],
)
def test_quic_follow_ups(web_lab: WebLab, mode: str, host: str, expected: int) -> None:
    address, port = web_lab.addr(host)
    tls, t = (
        probe(web_lab, quic_follow_up=mode),
        task("transport.tls", NAME, address=address, port=port),
    )
    obs = measure(tls, t)
    assert obs.follow_ups == []  # the probe names no other probe: the chain table does
    spawned = follow_ups(tls.name, tls.config, t, obs)
    assert len(spawned) == expected
    for f in spawned:
        assert f.probe == "transport.quic" and f.target == NAME
        assert f.params == {"address": address, "port": port, "sni": NAME}


def test_quic_follow_up_mode_is_checked() -> None:
    with pytest.raises(ValueError, match="quic_follow_up"):
        TlsConfig(quic_follow_up="sometimes")
