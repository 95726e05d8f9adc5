"""The lab's web hosts seen from its vantages: from inside each vantage's client namespace
(`ip netns exec`, via lab.vantages.lab_exec_argv) a bare aioquic handshake and Python's ssl
(tests/fixtures/quicprobe.py) against the real Hypercorn and Caddy hosts on fs-net.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fragscope.lab.truth import load
from fragscope.lab.vantages import facts, lab_exec_argv
from fragscope.lab.vantages.model import Action, Protocol
from fragscope.lab.world import Lab

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[1]
TRUTH = load()
VANTAGES = facts.load()
WEB_BY_ADDRESS = {a: h for h in TRUTH.web.values() for a in h.addresses}
DROPPED = [str(b.address) for b in VANTAGES["censored"].blocks if b.action is Action.DROP]


def probe(lab: Lab, vantage: str, kind: str, address: str, *, timeout: float = 3.0) -> Any:
    argv = [sys.executable, "-m", "tests.fixtures.quicprobe", kind, address, "443"]
    argv += ["--ca", str(lab.ca_file), "--timeout", str(timeout)]
    done = subprocess.run(
        lab_exec_argv(vantage, argv),
        capture_output=True, text=True, timeout=60, cwd=REPO, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_censored_drops_quic_to_a_real_quic_host() -> None:
    # The drop hides a server that does speak QUIC: what is measured is the block, not
    # a missing listener.
    assert DROPPED
    for address in DROPPED:
        assert address in WEB_BY_ADDRESS and WEB_BY_ADDRESS[address].has_udp, address


@pytest.mark.parametrize("address", DROPPED)
def test_from_censored_quic_times_out_and_tcp_works(lab: Lab, address: str) -> None:
    assert probe(lab, "clean", "quic", address)["ok"] is True  # the host reaches it
    quic = probe(lab, "censored", "quic", address, timeout=2.0)
    assert quic == {"ok": False, "error": "timeout", "ms": None}
    tls = probe(lab, "censored", "tls", address)
    assert tls["ok"] is True and tls["alpn"] == "h2"


def test_from_censored_other_quic_hosts_are_reachable(lab: Lab) -> None:
    # Every host speaking QUIC v1 (the probe's version; not the draft-29-only host) whose
    # UDP/443 the censored vantage leaves alone, the TCP-reset host included.
    blocked = {str(b.address) for b in VANTAGES["censored"].blocks if b.protocol is Protocol.UDP}
    open_hosts = [
        a for a, h in WEB_BY_ADDRESS.items() if "v1" in h.quic_versions and a not in blocked
    ]
    assert open_hosts
    for address in open_hosts:
        assert probe(lab, "censored", "quic", address)["ok"] is True, address


RESET = [str(b.address) for b in VANTAGES["censored"].blocks if b.action is Action.RESET]


@pytest.mark.parametrize("address", RESET)
def test_from_censored_tcp443_is_reset_and_quic_works(lab: Lab, address: str) -> None:
    # Issue 19 (T9): interference aimed at TCP. The host serves both from the host itself.
    assert probe(lab, "clean", "tls", address)["ok"] is True
    assert probe(lab, "censored", "tls", address) == {
        "ok": False,
        "error": "ConnectionRefusedError",
        "ms": None,
    }
    assert probe(lab, "censored", "quic", address)["ok"] is True


def test_from_distant_quic_and_tls_pay_the_planted_delay(lab: Lab) -> None:
    delay = VANTAGES["distant"].delay_ms
    www = TRUTH.web["www"]
    for address in www.addresses:
        # One round trip at least (QUIC 1-RTT handshake; TCP SYN + TLS 1.3 is two), each
        # crossing the relay twice: a lower bound the path cannot beat.
        quic = probe(lab, "distant", "quic", address, timeout=5.0)
        assert quic["ok"] is True and quic["ms"] >= 2 * delay, quic
        tls = probe(lab, "distant", "tls", address, timeout=5.0)
        assert tls["ok"] is True and tls["ms"] >= 4 * delay, tls


def test_only_vantages_brings_what_they_need_then_lab_restored(lab: Lab) -> None:
    from fragscope.lab.core import topology
    from fragscope.lab.vantages import LAB_SUBNETS, lab_layout

    try:
        Lab(lab.run_dir).up(["vantages"])
        groups = {r.group for r in lab.status() if r.running}
        # The vantages and what they need (web hosts, manip and its icann world); no chain.
        assert groups == {"vantages", "web", "manip", "icann"}, groups
        namespaces = set(topology.lab_namespaces())
        assert {ns for v in LAB_SUBNETS for ns in lab_layout(v).namespaces} <= namespaces
        assert probe(lab, "censored", "tls", DROPPED[0])["ok"] is True
        Lab(lab.run_dir).up(["web"])  # a subset without vantages builds none
        assert topology.lab_namespaces() == [topology.NAMESPACE]
    finally:
        lab.up()  # the whole session lab again, for the tests after this one
    assert all(r.health == "ok" for r in lab.status())
