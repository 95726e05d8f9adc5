"""transport.ech against the wheel's Caddy 2.11 serving the lab truth's ECH key on loopback
(tests/fixtures/web_hosts), its HTTPS record served by a small loopback DNS responder."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace

import dns.message
import dns.rrset
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from fragscope.db.vocab import Failure
from fragscope.lab.truth import load
from fragscope.probes.base import Observation
from fragscope.probes.transport.ech import (
    Attempt,
    EchProbe,
    EchProbeConfig,
    StepResult,
    classify_ech,
)
from fragscope.probes.transport.ech_config import parse_ech_config_list
from tests.fixtures.hostile_peers import ACCESS_DENIED, HANDSHAKE_FAILURE, HostilePeers
from tests.fixtures.web_hosts import WebLab
from tests.transport.helpers import lab_probe, measure, policy, task

ECH = load().web["ech"]
NAME = ECH.name.rstrip(".")
DNS_V4 = "127.77.8.53"


class HttpsResponder:
    """Answers every HTTPS query with ``rdata`` (None: NOERROR, no records). Does I/O."""

    def __init__(self) -> None:
        self.rdata: str | None = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((DNS_V4, 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            if self.rdata is not None:
                qname = query.question[0].name
                reply.answer.append(dns.rrset.from_text(qname, 60, "IN", "HTTPS", self.rdata))
            self.sock.sendto(reply.to_wire(), peer)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture
def https_dns() -> Iterator[HttpsResponder]:
    responder = HttpsResponder()
    try:
        yield responder
    finally:
        responder.close()


def run(
    lab: WebLab, dns_server: HttpsResponder, rdata: str | None, target: str = NAME
) -> Observation:
    dns_server.rdata = rdata
    address, port = lab.addr("ech")
    probe = lab_probe(
        EchProbe, lab, port=port, resolver=DNS_V4, resolver_port=dns_server.port, tries=2
    )
    return measure(probe, task("transport.ech", target, address=address, port=port, deadline_s=30))


def children(obs: Observation, table: str) -> list[dict[str, object]]:
    return [row for t, row in obs.children if t == table]


def test_ech_accepted_with_the_published_config(web_lab: WebLab, https_dns: HttpsResponder) -> None:
    obs = run(web_lab, https_dns, ECH.https_rdata())
    f = obs.fields
    assert obs.ok, obs.failure_detail
    assert f["ech_published"] is True and f["https_rcode"] == "NOERROR"
    assert f["public_name"] == "public.example.test" and f["config_id"] == ECH.ech_config_id
    assert f["control_ok"] is True and f["grease_ok"] is True and f["ech_ok"] is True
    # Both signals: the ServerHello's confirmation and the inner name's certificate.
    assert f["ech_accepted"] is True
    assert f["inner_cert_name_match"] is True and f["inner_cert_valid"] is True
    assert f["verdict"] == "ech_accepted"
    [config] = children(obs, "ech_configs")
    assert config["public_name"] == "public.example.test" and config["kem"] == "X25519"
    steps = [(a["step"], a["outer_sni"], a["ok"]) for a in children(obs, "ech_attempts")]
    assert steps == [
        ("control", NAME, True),
        ("grease", NAME, True),
        ("ech", "public.example.test", True),
    ]


def test_config_with_an_unknown_key_is_rejected(web_lab: WebLab, https_dns: HttpsResponder) -> None:
    # The same public name and config id, another key: the server cannot decrypt the
    # inner ClientHello, completes the outer handshake and does not confirm acceptance.
    other = X25519PrivateKey.generate().private_bytes_raw().hex()
    stale = replace(ECH, ech_key=other)
    obs = run(web_lab, https_dns, stale.https_rdata())
    f = obs.fields
    assert obs.ok, obs.failure_detail
    assert f["ech_ok"] is True and f["ech_accepted"] is False
    assert f["verdict"] == "ech_rejected"
    # Caddy 2.11.7 sends no retry_configs (its ECH keys are not on the per-connection TLS
    # config Go's server reads them from): recorded as absent, never invented.
    assert f.get("retry_configs") is None
    assert f.get("inner_cert_name_match") is None


def test_no_ech_published(web_lab: WebLab, https_dns: HttpsResponder) -> None:
    obs = run(web_lab, https_dns, '1 . alpn="h2"')
    assert obs.ok and obs.fields["ech_published"] is False
    assert obs.fields["verdict"] == "no_ech" and obs.fields["control_ok"] is True
    assert not children(obs, "ech_configs")
    assert [a["step"] for a in children(obs, "ech_attempts")] == ["control", "grease"]


def test_malformed_ech_param_is_an_error_column(web_lab: WebLab, https_dns: HttpsResponder) -> None:
    obs = run(web_lab, https_dns, '1 . ech="AAT+DQAA"')  # a list whose one config is cut short
    assert obs.ok and obs.fields["ech_published"] is True
    assert "configs[0]" in obs.fields["ech_config_error"]
    assert obs.fields["verdict"] == "no_ech"


def test_silent_resolver_is_a_failure_row(web_lab: WebLab) -> None:
    address, port = web_lab.addr("ech")
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind((DNS_V4, 0))
    try:
        probe = lab_probe(
            EchProbe,
            web_lab,
            port=port,
            resolver=DNS_V4,
            resolver_port=silent.getsockname()[1],
            tries=1,
            dns_timeout_s=0.3,
        )
        obs = measure(probe, task("transport.ech", NAME, address=address, port=port))
    finally:
        silent.close()
    assert obs.failure == Failure.GENERIC_TIMEOUT_ERROR


def test_hostile_tls_server_is_a_failure_attempt(
    https_dns: HttpsResponder, web_lab: WebLab
) -> None:
    # A TCP server that answers every ClientHello with garbage: answered, not lost, and a
    # failure on each attempt, never a crash.
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind((DNS_V4, 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(4096)
                conn.sendall(b"\x16\x03\x03\x00\x05\x02\x00\x00\x01\xff")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        https_dns.rdata = ECH.https_rdata()
        port = server.getsockname()[1]
        probe = lab_probe(
            EchProbe, web_lab, port=port, resolver=DNS_V4, resolver_port=https_dns.port
        )
        obs = measure(probe, task("transport.ech", NAME, address=DNS_V4, port=port, deadline_s=30))
    finally:
        stop.set()
        thread.join()
        server.close()
    assert obs.failure is None
    attempts = children(obs, "ech_attempts")
    assert {a["failure"] for a in attempts} == {Failure.SSL_FAILED_HANDSHAKE}
    assert obs.fields["verdict"] == "ech_rejected"


def _step(
    ok: bool, lost: int = 0, accepted: bool | None = None, alert: int | None = None
) -> StepResult:
    return StepResult(ok, lost, Attempt(ok=ok, accepted=accepted, alert=alert))


@pytest.mark.parametrize(
    ("published", "control", "ech", "verdict"),
    [
        (False, _step(True), None, "no_ech"),
        (True, _step(False, 2), _step(False, 2), "inconclusive"),
        (True, _step(True), _step(False, 2), "ech_blocked"),
        (True, _step(True, 1), _step(False, 2), "inconclusive"),  # a lossy path
        (True, _step(True), _step(True, 1, accepted=True), "ech_accepted"),
        (True, _step(True), _step(True, accepted=False), "ech_rejected"),
        # An alert to every ECH try, the control served: refused as an injected RST is.
        (True, _step(True), _step(False, alert=49), "ech_blocked"),
        (True, _step(True, alert=40), _step(False, alert=49), "ech_blocked"),
        # The control got that very alert: the server refuses both alike.
        (True, _step(True, alert=40), _step(False, alert=40), "inconclusive"),
    ],
)
def test_classify(
    published: bool, control: StepResult, ech: StepResult | None, verdict: str
) -> None:
    assert classify_ech(published, control, ech) == verdict


def test_published_config_parses() -> None:
    [c] = parse_ech_config_list(ECH.ech_config_list() or b"")
    assert c.public_name == "public.example.test"


@pytest.mark.parametrize(
    ("peer", "verdict", "alerts"),
    [
        # A censor-like server: the control (no ECH) completes, every ClientHello with an
        # ECH extension (GREASE or real) is answered with access_denied.
        ("alert_blocked", "ech_blocked", [None, ACCESS_DENIED, ACCESS_DENIED]),
        # A server that answers everything with handshake_failure: nothing to compare.
        ("alert", "inconclusive", [HANDSHAKE_FAILURE] * 3),
    ],
)
def test_injected_tls_alert_is_not_ech_working(
    hostile_peers: HostilePeers,
    https_dns: HttpsResponder,
    peer: str,
    verdict: str,
    alerts: list[int | None],
) -> None:
    address, port = hostile_peers.tcp[peer]
    https_dns.rdata = ECH.https_rdata()
    probe = EchProbe(
        EchProbeConfig(
            port=port,
            resolver=DNS_V4,
            resolver_port=https_dns.port,
            tries=1,
            handshake_timeout_s=2.0,
        ),
        policy=policy(),
    )
    obs = measure(probe, task("transport.ech", NAME, address=address, port=port, deadline_s=30))
    assert obs.failure is None, obs.failure_detail
    assert obs.fields["verdict"] == verdict, children(obs, "ech_attempts")
    attempts = children(obs, "ech_attempts")
    assert [a["step"] for a in attempts] == ["control", "grease", "ech"]
    assert [a["tls_alert"] for a in attempts] == alerts
    for a in attempts[1:]:
        assert a["ok"] is False and a["failure"] == Failure.TLS_ALERT
        assert str(a["failure_detail"]).startswith("TLS alert ")
