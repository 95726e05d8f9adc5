"""lab.web builders and PKI: the configs say what the hosts promise (no processes here)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from fragscope.lab.core.pki import make_pki
from fragscope.lab.web import hosts
from fragscope.probes.transport.certs import analyze_chain


def test_hypercorn_configs(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    h3 = hosts.hypercorn_h3(["10.99.80.1", "fd99::80:1"], 443, cert, key, tmp_path)
    cfg = tomllib.loads(h3.files["hypercorn.toml"])
    assert cfg["bind"] == cfg["quic_bind"] == ["10.99.80.1:443", "[fd99::80:1]:443"]
    assert cfg["alt_svc_headers"] == ['h3=":443"; ma=3600']  # exactly one Alt-Svc
    assert h3.udp == h3.tcp and h3.advertises_h3
    tcp = tomllib.loads(
        hosts.hypercorn_tcp_only("10.99.80.2", 443, cert, key, tmp_path).files["hypercorn.toml"]
    )
    assert tcp["quic_bind"] == [] and tcp["alt_svc_headers"] == []
    adv = hosts.hypercorn_advertised_no_udp("10.99.80.3", 443, cert, key, tmp_path)
    assert adv.udp == () and adv.advertises_h3
    assert tomllib.loads(adv.files["hypercorn.toml"])["quic_bind"] == []
    hostile = hosts.hypercorn_hostile("10.99.80.4", 443, cert, key, tmp_path)
    assert hostile.argv[-1] == "fragscope.lab.web.app:hostile_app"
    assert tomllib.loads(hostile.files["hypercorn.toml"])["include_server_header"] is False


def test_caddyfile(tmp_path: Path) -> None:
    host = hosts.caddy(["10.99.80.5", "fd99::80:5"], 8443, tmp_path / "c", tmp_path / "k", tmp_path)
    text = host.files["Caddyfile"]
    assert "bind 10.99.80.5 fd99::80:5" in text and "https://:8443" in text
    assert "$" not in text
    assert host.env["XDG_DATA_HOME"].startswith(str(tmp_path))


def test_pki_chain_verifies_for_lab_names(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    der = x509.load_pem_x509_certificate(pki.cert.read_bytes()).public_bytes(Encoding.DER)
    for name in ("www.example.test", "example.test", "127.0.0.1", "::1"):
        facts = analyze_chain([der], name, ca_file=str(pki.ca))
        assert facts.cert_valid is True, (name, facts.cert_error)
    assert analyze_chain([der], "www.other.invalid", ca_file=str(pki.ca)).cert_valid is False
    assert pki.key.stat().st_mode & 0o077 == 0
