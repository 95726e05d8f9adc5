"""dns.query against real servers: NSD, Unbound (Do53, DoT, DoH), an aioquic DoQ front end."""

from __future__ import annotations

import subprocess

import dns.message
import dns.query
import pytest

from fragscope.db.vocab import Failure, Transport
from fragscope.probes.dns import codec
from fragscope.probes.dns.interpret import interpret, interpret_general
from fragscope.probes.dns.query import DnsQueryConfig
from tests.dns.agree import dnspython_view, lean_view
from tests.dns.run import run_query, task
from tests.dns.world import DnsWorld


def _answers(obs, rtype: str | None = None) -> list[str]:
    return sorted(
        row["value"]
        for table, row in obs.children
        if table == "dns_answers" and row["section"] == "answer" and rtype in (None, row["rtype"])
    )


@pytest.mark.parametrize(
    ("transport", "options"),
    [
        ("udp", {}),
        ("tcp", {}),
        ("tls", {}),
        ("https", {}),
        ("https", {"doh_method": "get"}),
        ("https-ip", {"doh_method": "get"}),  # certificate checked against the IP (SAN)
        ("quic", {}),
    ],
)
def test_every_transport_gets_the_validated_answer(
    dns_world: DnsWorld, transport: str, options: dict[str, object]
) -> None:
    url = dns_world.urls[transport]
    [obs] = run_query(
        [task("www.example.test", url, "A", options=options)],
        DnsQueryConfig(ca_file=dns_world.ca_file),
    )
    assert obs.failure is None, obs.failure_detail
    f = obs.fields
    assert f["transport"] == Transport(transport.split("-")[0])
    assert f["rcode"] == 0 and f["flag_ad"] and f["flag_ra"] and f["flag_rd"]
    assert _answers(obs, "A") == ["127.80.0.1"]
    assert f["raw_wire"] and f["response_size"] == len(f["raw_wire"])
    assert f["rtt_ms"] > 0 and obs.duration_ms >= f["rtt_ms"] * 0.99
    assert f["resolver_role"] == "test" and f["resolver_operator"] == "test-op"
    # The stored wire decodes with dnspython to the same records.
    assert lean_view(f["raw_wire"]) == dnspython_view(f["raw_wire"])


def test_tls_with_wrong_authentication_name_is_ssl_failure(dns_world: DnsWorld) -> None:
    url = f"tls://{dns_world.resolver}:853#wrong.test"
    [obs] = run_query([task("www.example.test", url)], DnsQueryConfig(ca_file=dns_world.ca_file))
    assert obs.failure == Failure.SSL_INVALID_HOSTNAME
    [obs] = run_query([task("www.example.test", dns_world.urls["tls"])])  # system CAs only
    assert obs.failure == Failure.SSL_UNKNOWN_AUTHORITY


RECORD_TYPES = [
    ("www.example.test", "A", ["127.80.0.1"]),
    ("www.example.test", "AAAA", ["fd99::80:1"]),
    ("alias.example.test", "CNAME", ["alias2.example.test."]),
    ("example.test", "NS", ["ns1.example.test."]),
    ("example.test", "MX", ["10 mail.example.test."]),
    ("example.test", "TXT", ['"icann-view"']),
    ("example.test", "CAA", ['0 issue "ca.test"']),
    ("example.test", "HTTPS", ["0 www.example.test."]),
    ("_443._udp.www.example.test", "SVCB", ['1 www.example.test. alpn="h3"']),
]


@pytest.mark.parametrize(("name", "qtype", "expected"), RECORD_TYPES)
def test_record_types(dns_world: DnsWorld, name: str, qtype: str, expected: list[str]) -> None:
    [obs] = run_query([task(name, dns_world.urls["udp"], qtype)])
    assert obs.failure is None, obs.failure_detail
    assert _answers(obs, qtype) == expected


def test_soa_ds_dnskey_and_type_by_number(dns_world: DnsWorld) -> None:
    url = dns_world.urls["udp"]
    obs = run_query(
        [
            task("example.test", url, "SOA"),
            task("example.test", url, "DS"),
            task("example.test", url, "DNSKEY"),
            task("example.test", url, "TYPE48"),
        ]
    )
    assert all(o.failure is None for o in obs), [o.failure_detail for o in obs]
    assert _answers(obs[0], "SOA")[0].startswith("ns1.example.test. hostmaster.example.test.")
    assert len(_answers(obs[1], "DS")) == 1 and _answers(obs[1], "DS")[0].split()[1] == "13"
    assert {v.split()[0] for v in _answers(obs[2], "DNSKEY")} == {"256", "257"}
    assert _answers(obs[3], "DNSKEY") == _answers(obs[2], "DNSKEY")
    assert obs[3].fields["qtype"] == "TYPE48"


def test_https_params_parsed(dns_world: DnsWorld) -> None:
    [obs] = run_query([task("www.example.test", dns_world.urls["udp"], "HTTPS")])
    [row] = [r for t, r in obs.children if r["rtype"] == "HTTPS"]
    assert row["svc_priority"] == 1 and row["svc_target"] == "."
    assert row["svc_alpn"] == "h3,h2" and row["svc_port"] == 4433
    assert row["svc_ipv4hint"] == "127.80.0.1" and row["svc_ipv6hint"] == "fd99::80:1"
    assert row["svc_ech"] is False
    [obs] = run_query([task("ech.example.test", dns_world.urls["udp"], "HTTPS")])
    [row] = [r for t, r in obs.children if r["rtype"] == "HTTPS"]
    assert row["svc_ech"] is True and row["svc_alpn"] == "h2"


def test_rfc9460_vectors_served_by_nsd(dns_world: DnsWorld) -> None:
    from tests.dns.svcb_vectors import VECTORS

    tasks = [task(f"{label}.example.test", f"udp://{dns_world.sld}", t) for label, t, *_ in VECTORS]
    for (label, rdtype, presentation, _wire, expected), obs in zip(
        VECTORS, run_query(tasks), strict=True
    ):
        assert obs.failure is None, (label, obs.failure_detail)
        [row] = [r for _, r in obs.children if r["rtype"] == rdtype and r["section"] == "answer"]
        import dns.rdata

        assert row["value"] == dns.rdata.from_text("IN", rdtype, presentation).to_text()
        if "port" in expected:
            assert row["svc_port"] == expected["port"]
        if "alpn" in expected:
            assert row["svc_alpn"] == ",".join(expected["alpn"])  # type: ignore[arg-type]
        assert obs.fields["flag_aa"]  # asked of the authoritative server directly


def test_broken_and_expired_zones_servfail_with_ede(dns_world: DnsWorld) -> None:
    url = dns_world.urls["udp"]
    broken, expired = run_query(
        [task("www.broken.test", url, "A"), task("www.expired.test", url, "A")]
    )
    for obs in (broken, expired):
        assert obs.failure == Failure.DNS_SERVFAIL_ERROR
        assert obs.fields["rcode_name"] == "SERVFAIL"
        assert obs.fields["ede_code"] in (6, 7, 9, 10)  # bogus, sig expired, DNSKEY missing...
        assert obs.fields["ede"][0][1]  # Unbound explains
    assert expired.fields["ede_code"] == 7  # Signature Expired (RFC 8914 section 4.8)
    # With CD the resolver hands the unvalidated answer over (RFC 4035 section 3.2.2).
    [obs] = run_query([task("www.broken.test", url, "A")], DnsQueryConfig(checking_disabled=True))
    assert (
        obs.failure is None and _answers(obs, "A") == ["127.80.0.3"] and not obs.fields["flag_ad"]
    )


def test_insecure_nxdomain_and_nodata(dns_world: DnsWorld) -> None:
    url = dns_world.urls["udp"]
    lab, nx, nodata = run_query(
        [
            task("host.lab", url, "A"),
            task("nope.example.test", url, "A"),
            task("www.example.test", url, "MX"),
        ]
    )
    assert lab.failure is None and not lab.fields["flag_ad"] and _answers(lab) == ["127.80.0.9"]
    assert nx.failure == Failure.DNS_NXDOMAIN_ERROR and nx.fields["flag_ad"]
    assert any(r["rtype"] == "NSEC" for _, r in nx.children)  # signed denial in authority
    assert nodata.failure == Failure.DNS_NO_ANSWER and nodata.fields["rcode"] == 0


def test_truncation_falls_back_to_tcp_and_both_attempts_are_rows(dns_world: DnsWorld) -> None:
    udp, tcp = run_query([task("big.example.test", dns_world.urls["udp"], "TXT")])
    assert udp.fields["flag_tc"] and udp.fields["transport"] == "udp" and udp.failure is None
    assert udp.fields["purpose"] == "query" and udp.follow_ups[0].key_suffix == "tcp"
    assert tcp.fields["transport"] == "tcp" and tcp.fields["purpose"] == "tc_fallback"
    assert not tcp.fields["flag_tc"] and len(_answers(tcp, "TXT")) == 12
    assert tcp.failure is None


def test_invalid_names_and_blocked_resolvers_are_rows(dns_world: DnsWorld) -> None:
    bad, blocked, badurl, badmethod = run_query(
        [
            task("a..b.test", dns_world.urls["udp"]),
            task("www.example.test", "udp://192.0.2.1"),
            task("www.example.test", "udp://resolver.test"),
            task("www.example.test", dns_world.urls["https"], options={"doh_method": "put"}),
        ]
    )
    assert badmethod.failure == Failure.INVALID_INPUT and "doh_method" in badmethod.failure_detail
    assert bad.failure == Failure.INVALID_INPUT and "empty label" in bad.failure_detail
    assert bad.fields["transport"] == "none"
    assert blocked.failure == Failure.BLOCKED_BY_POLICY
    assert badurl.failure == Failure.INVALID_INPUT and "not an IP" in badurl.failure_detail


def test_idn_stored_in_both_forms(dns_world: DnsWorld) -> None:
    [obs] = run_query([task("Bücher.example.test", dns_world.urls["udp"])])
    assert obs.fields["qname"] == "xn--bcher-kva.example.test."
    assert obs.fields["qname_unicode"] == "bücher.example.test."
    assert obs.failure == Failure.DNS_NXDOMAIN_ERROR


def test_connection_refused_and_timeouts_are_rows(dns_world: DnsWorld) -> None:
    cfg = DnsQueryConfig(timeout_s=0.5, ca_file=dns_world.ca_file)
    obs = run_query(
        [
            task("www.example.test", "udp://127.66.99.1"),
            task("www.example.test", "tcp://127.66.99.1"),
            task("www.example.test", "tls://127.66.99.1#resolver.test"),
            task("www.example.test", "https://127.66.99.1/dns-query#resolver.test"),
            task("www.example.test", "quic://127.66.99.1#resolver.test"),
        ],
        cfg,
    )
    failures = [o.failure for o in obs]
    assert failures[:4] == [Failure.CONNECTION_REFUSED] * 4, [o.failure_detail for o in obs]
    # dnspython's QUIC connection turns the ICMP unreachable into an EOF: closed, at handshake.
    assert failures[4] in (
        Failure.QUIC_HANDSHAKE_TIMEOUT,
        Failure.CONNECTION_REFUSED,
        Failure.QUIC_CONNECTION_CLOSED,
    )
    assert obs[4].failed_operation == "quic_handshake"


NAMES = [
    ("www.example.test", "A"),
    ("www.example.test", "AAAA"),
    ("www.example.test", "HTTPS"),
    ("tcponly.example.test", "HTTPS"),
    ("example.test", "MX"),
    ("example.test", "SOA"),
    ("example.test", "TXT"),
    ("alias.example.test", "A"),
    ("host.lab", "A"),
    ("www.oob.test", "A"),
    ("nope.example.test", "A"),
]


@pytest.mark.parametrize(("name", "qtype"), NAMES)
def test_answers_agree_with_kdig(dns_world: DnsWorld, name: str, qtype: str) -> None:
    [obs] = run_query([task(name, dns_world.urls["udp"], qtype)], DnsQueryConfig(dnssec_ok=False))
    out = subprocess.run(
        ["kdig", f"@{dns_world.resolver}", "+short", name, qtype],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    theirs = [line for line in out.splitlines() if line]
    ours = [r["value"] for _, r in obs.children if r["section"] == "answer"]
    assert _norm(ours) == _norm(theirs)


def _norm(values: list[str]) -> list[str]:
    # kdig prints HTTPS keys unquoted and may differ in case; compare whitespace-split tokens.
    return sorted(" ".join(v.replace('"', "").lower().split()) for v in values)


def test_lean_parser_agrees_with_dnspython_on_server_responses(dns_world: DnsWorld) -> None:
    """Every response the world gives (answers, referrals, NXDOMAIN, SERVFAIL+EDE)."""
    cases = [(dns_world.resolver, n, t) for n, t in NAMES] + [
        (dns_world.resolver, "www.broken.test", "A"),
        (dns_world.resolver, "big.example.test", "TXT"),
        (dns_world.root, "www.example.test", "A"),
        (dns_world.tld, "www.example.test", "HTTPS"),
        (dns_world.sld, "example.test", "DNSKEY"),
        (dns_world.sld, "nope.example.test", "A"),
    ]
    for server, name, qtype in cases:
        q = dns.message.make_query(name, qtype, want_dnssec=True)
        q.flags &= ~dns.flags.RD if server != dns_world.resolver else q.flags
        wire = dns.query.tcp(q, server, timeout=3).to_wire()
        assert lean_view(wire) == dnspython_view(wire), (server, name, qtype)
        # interpret()'s common-case path and the full parser read the same response alike.
        code = codec.type_code(qtype)
        template = codec.make_template(q.question[0].name.to_text(), code)
        assert interpret(wire, code, template=template) == interpret_general(
            wire, code, template=template
        ), (server, name, qtype)
