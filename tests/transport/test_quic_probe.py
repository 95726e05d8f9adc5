"""transport.quic against real Hypercorn (aioquic) and Caddy (quic-go) on loopback."""

from __future__ import annotations

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.engine.chains import follow_ups
from fragscope.probes.transport.quic import QuicConfig, QuicProbe
from fragscope.probes.transport.quic_wire import VERSION_1, VERSION_2, VERSION_2_DRAFT
from tests.fixtures.web_hosts import WebLab
from tests.transport.helpers import NAME, lab_probe, measure, measure_host, policy, task


def probe(lab: WebLab, **kw: object) -> QuicProbe:
    return lab_probe(QuicProbe, lab, **kw)


def test_hypercorn_v1(web_lab: WebLab) -> None:
    obs = measure_host(probe(web_lab), web_lab, "h3")
    assert obs.ok, obs.failure_detail
    f = obs.fields
    assert f["stage"] == "http_done"
    assert f["quic_version"] == VERSION_1 and f["quic_version_label"] == "v1"
    assert f["offered_versions"] == [VERSION_1, VERSION_2]
    assert f["alpn"] == "h3"
    assert f["cipher"] in ("AES_128_GCM_SHA256", "AES_256_GCM_SHA384", "CHACHA20_POLY1305_SHA256")
    assert f["http_status"] == 200 and f["http_server"] == "hypercorn-h3"
    assert f["retry"] is False and f["version_negotiation"] is False
    assert f["cert_valid"] is True
    assert f["handshake_ms"] > 0
    tps = [row for table, row in obs.children if table == "quic_transport_params"]
    names = [r["name"] for r in tps]
    assert "initial_max_data" in names and "initial_source_connection_id" in names
    assert [r["position"] for r in tps] == list(range(len(tps)))
    # aioquic servers send version_information (RFC 9368): v1 and v2 available.
    assert VERSION_2 in f["server_versions"]


def test_hypercorn_v2(web_lab: WebLab) -> None:
    obs = measure_host(probe(web_lab, versions=(VERSION_2,)), web_lab, "h3")
    assert obs.ok, obs.failure_detail
    assert obs.fields["quic_version"] == VERSION_2 and obs.fields["quic_version_label"] == "v2"
    assert obs.fields["http_status"] == 200


def test_hypercorn_ipv6(web_lab: WebLab) -> None:
    address, port = web_lab.addr("h3", 6)
    obs = measure(probe(web_lab), task("transport.quic", NAME, address=address, port=port))
    assert obs.ok, obs.failure_detail
    assert obs.fields["ip_version"] == 6 and obs.endpoint == f"[::1]:{port}"


def test_caddy_v1_and_no_v2(web_lab: WebLab) -> None:
    address, port = web_lab.addr("caddy")
    obs = measure(probe(web_lab), task("transport.quic", NAME, address=address, port=port))
    assert obs.ok, obs.failure_detail
    assert obs.fields["quic_version"] == VERSION_1 and obs.fields["http_server"] == "Caddy"
    # Caddy 2.6.2 (quic-go) knows only the v2 draft: offering v2 alone draws a VN.
    obs = measure(
        probe(web_lab, versions=(VERSION_2,)),
        task("transport.quic", NAME, address=address, port=port),
    )
    assert obs.failure == Failure.QUIC_INCOMPATIBLE_VERSION
    assert obs.failed_operation == Operation.QUIC_HANDSHAKE
    assert obs.fields["version_negotiation"] is True
    assert VERSION_2_DRAFT in obs.fields["server_versions"]
    assert obs.fields["stage"] == "server_replied"


def test_advertised_host_without_udp_listener(web_lab: WebLab) -> None:
    # Nothing listens on UDP: loopback answers with ICMP port unreachable, which the
    # connected socket surfaces (a middlebox that drops would give quic_no_reply).
    obs = measure_host(probe(web_lab), web_lab, "advertised")
    assert obs.failure == Failure.CONNECTION_REFUSED
    assert obs.fields["stage"] == "initial_sent"


def test_wrong_alpn_is_a_connection_close(web_lab: WebLab) -> None:
    obs = measure_host(probe(web_lab, alpn=("fragscope-none",)), web_lab, "h3")
    assert obs.failure == Failure.QUIC_CONNECTION_CLOSED
    # TLS alert no_application_protocol (120) as a CRYPTO_ERROR 0x100+alert (RFC 9001 s4.8).
    assert obs.fields["close_error_code"] == 0x178
    assert obs.fields["stage"] == "server_replied"


def test_unknown_authority_does_not_stop_http(web_lab: WebLab) -> None:
    obs = measure_host(QuicProbe(QuicConfig(), policy=policy()), web_lab, "h3")
    assert obs.ok
    assert obs.fields["cert_failure"] == Failure.SSL_UNKNOWN_AUTHORITY
    assert obs.fields["http_status"] == 200


def test_policy_blocks_before_sending() -> None:
    obs = measure(QuicProbe(policy=policy()), task("transport.quic", NAME, address="192.0.2.7"))
    assert obs.failure == Failure.BLOCKED_BY_POLICY
    assert obs.fields["stage"] == "not_sent"


def test_ipv6_only_host_tcp_and_quic(web_lab: WebLab) -> None:
    from fragscope.probes.transport.tls import TlsConfig, TlsProbe

    address, port = web_lab.addr("h3v6", 6)
    t = task("transport.quic", NAME, address=address, port=port)
    quic = measure(probe(web_lab), t)
    tls = measure(TlsProbe(TlsConfig(ca_file=str(web_lab.pki.ca)), policy=policy()), t)
    assert quic.ok and tls.ok, (quic.failure_detail, tls.failure_detail)
    assert quic.fields["ip_version"] == tls.fields["ip_version"] == 6
    assert tls.fields["alt_svc_h3"] is True and quic.fields["http_status"] == 200


def test_path_follow_ups_only_when_the_path_is_in_doubt(web_lab: WebLab) -> None:
    address, port = web_lab.addr("advertised")  # ICMP port unreachable
    quic = probe(web_lab, path_follow_up=True)
    t = task("transport.quic", NAME, address=address, port=port)
    obs = measure(quic, t)
    assert obs.follow_ups == []  # the probe names no other probe: the chain table does
    spawned = follow_ups(quic.name, quic.config, t, obs)
    assert [f.params["test"] for f in spawned] == ["udp443", "tcp_ecn", "tcp_exp_option"]
    assert all(f.probe == "path.udp443" and f.params["address"] == address for f in spawned)
    assert follow_ups(quic.name, probe(web_lab).config, t, obs) == []  # path_follow_up off
    obs = measure_host(quic, web_lab, "h3")
    assert obs.ok and follow_ups(quic.name, quic.config, t, obs) == []


def test_retry_is_recorded(web_lab: WebLab) -> None:
    address, port = web_lab.addr("retry")
    obs = measure(probe(web_lab), task("transport.quic", NAME, address=address, port=port))
    assert obs.ok, obs.failure_detail
    assert obs.fields["retry"] is True and obs.fields["http_server"] == "aioquic-retry"
    address, port = web_lab.addr("h3")
    assert (
        measure(probe(web_lab), task("transport.quic", NAME, address=address, port=port)).fields[
            "retry"
        ]
        is False
    )


def test_key_share_group_recorded(web_lab: WebLab) -> None:
    for host in ("h3", "caddy"):
        address, port = web_lab.addr(host)
        obs = measure(probe(web_lab), task("transport.quic", NAME, address=address, port=port))
        assert obs.ok, obs.failure_detail
        # aioquic offers SECP256R1, SECP384R1, X25519 and X448; servers pick one of them.
        assert obs.fields["tls_group"] in ("X25519", "SECP256R1", "SECP384R1", "X448"), host
