"""The DPI vantages against the lab's real web hosts (Hypercorn + aioquic at www, Caddy at
caddy): from inside each vantage's client namespace, Python's ssl and aioquic clients
(tests/fixtures/sniclient.py) with a blocked SNI and with an innocuous control SNI to the
same address, over TCP and QUIC v1 and v2. The expectations come from the lab truth
(lab/vantages/truth.toml), never from constants here.
"""

from __future__ import annotations

from typing import Any

import pytest

from fragscope.lab.dpi.policy import DpiPolicy
from fragscope.lab.truth import load
from fragscope.lab.vantages import facts, lab_layout
from fragscope.lab.world import Lab
from tests.fixtures.vantage_clients import run_side_by_side

pytestmark = pytest.mark.lab

TRUTH = load()
VANTAGES = facts.load()
INLINE = VANTAGES["dpi-inline"].dpi
RESIDUAL = VANTAGES["dpi-residual"].dpi
WWW = TRUTH.web["www"]  # Hypercorn + aioquic: TCP and QUIC v1 and v2
CADDY = TRUTH.web["caddy"]  # Caddy (quic-go): TCP and QUIC v1
CONTROL = "innocuous.example.test"  # no such host; the lab certificate covers *.example.test
BLOCKED_TIMEOUT = 1.0  # a blocked QUIC handshake: nothing comes back, give up after this


def run(lab: Lab, vantage: str, attempts: list[str]) -> list[dict[str, Any]]:
    """Each attempt (sniclient arguments) in order, in one client process at ``vantage``."""
    return run_at(lab, {vantage: attempts})[vantage]


def run_at(lab: Lab, plans: dict[str, list[str]]) -> dict[str, list[dict[str, Any]]]:
    """The attempts of each vantage (tests/fixtures/sniclient.py batch lines), the
    vantages' client processes side by side."""
    ca = f" --ca {lab.ca_file}"
    stdin = {v: "".join(a + ca + "\n" for a in lines) for v, lines in plans.items()}
    return run_side_by_side("tests.fixtures.sniclient", stdin, args=("batch",))


def outcomes(results: list[dict[str, Any]]) -> list[str]:
    return ["ok" if r["ok"] else r["error"] for r in results]


def test_the_blocked_names_are_served_hosts() -> None:
    # What is measured is the censor, not a missing server: each blocked SNI names a
    # lab web host that answers TCP and QUIC; the inline censor blocks www alone, the
    # residual one caddy as well (lab/vantages/truth.toml).
    assert INLINE is not None and RESIDUAL is not None
    served = {h.name.rstrip("."): h for h in TRUTH.web.values()}
    assert INLINE.blocked_sni == {"www.example.test"}
    assert RESIDUAL.blocked_sni == {"www.example.test", "caddy.example.test"}
    for name in INLINE.blocked_sni | RESIDUAL.blocked_sni:
        assert served[name].has_udp and served[name].address, name
    assert CONTROL not in served


def test_inline_blocks_the_sni_over_tcp_and_quic_and_passes_the_control(lab: Lab) -> None:
    assert INLINE is not None
    www, caddy, t = WWW.address, CADDY.address, f"--timeout {BLOCKED_TIMEOUT}"
    attempts = [
        f"tls {www} 443 --sni {CONTROL}",
        f"tls {www} 443 --sni {WWW.name.rstrip('.')}",
        f"tls {www} 443 --sni {WWW.name.rstrip('.')} --split 40",  # SNI in the 2nd segment
        f"tls {www} 443 --sni {WWW.name.rstrip('.')} --split 3",  # record header split
        f"quic {www} 443 --sni {CONTROL} --version v1",
        f"quic {www} 443 --sni {CONTROL} --version v2",
        f"quic {www} 443 --sni {WWW.name.rstrip('.')} --version v1 {t}",
        f"quic {www} 443 --sni {WWW.name.rstrip('.')} --version v2 {t}",
        f"quic {caddy} 443 --sni {CONTROL} --version v1",
        f"quic {caddy} 443 --sni {CADDY.name.rstrip('.')} --version v1 {t}",  # not blocked here
        # IPv6: the censor's queue rules cover fd99::/16 too (ip6tables).
        f"tls {WWW.address6} 443 --sni {CONTROL}",
        f"tls {WWW.address6} 443 --sni {WWW.name.rstrip('.')}",
        f"quic {WWW.address6} 443 --sni {CONTROL} --version v2",
        f"quic {WWW.address6} 443 --sni {WWW.name.rstrip('.')} --version v2 {t}",
    ]
    got = run_at(lab, {"clean": attempts, "dpi-inline": attempts})
    # The same attempts from the host: every one succeeds, so the failures are the censor's.
    assert outcomes(got["clean"]) == ["ok"] * len(attempts)
    reset = "ConnectionResetError"  # tcp_action "reset": a RST answers the ClientHello
    assert INLINE.tcp_action.value == "reset"
    assert outcomes(got["dpi-inline"]) == [
        "ok", reset, reset, reset, "ok", "ok", "timeout", "timeout", "ok", "ok",
        "ok", reset, "ok", "timeout",
    ]  # fmt: skip


def test_inline_blocks_a_multi_initial_client_hello_and_ech(lab: Lab) -> None:
    assert INLINE is not None and INLINE.block_ech
    www, name, t = WWW.address, WWW.name.rstrip("."), f"--timeout {BLOCKED_TIMEOUT}"
    attempts = [
        f"quic {www} 443 --sni {CONTROL} --big",  # two Initials, innocuous: passes
        f"quic {www} 443 --sni {name} --big {t}",  # two Initials, blocked SNI
        f"quic {www} 443 --sni {CONTROL} --version v2 --big",
        f"quic {www} 443 --sni {name} --version v2 --big {t}",
        f"hello {www} 443 --sni {CONTROL}",  # a bare ClientHello gets its ServerHello
        f"hello {www} 443 --sni {CONTROL} --ech",  # ECH over TCP, innocuous SNI
        f"quic {www} 443 --sni {CONTROL} --ech {t}",  # ECH over QUIC
    ]
    got = run_at(lab, {"clean": attempts, "dpi-inline": attempts})
    assert outcomes(got["clean"]) == ["ok"] * len(attempts)
    assert outcomes(got["dpi-inline"]) == [
        "ok", "timeout", "ok", "timeout", "ok", "ConnectionResetError", "timeout"
    ]  # fmt: skip


def _ports(policy: DpiPolicy, client: str, server: str, *, trigger: bool, n: int) -> list[int]:
    """``n`` source ports whose flows the residual censor's draw does (not) act on."""
    found = [p for p in range(41_000, 42_000) if policy.triggers(client, p, server, 443) is trigger]
    return found[:n]


def test_residual_blocks_the_3_tuple_after_a_first_packet_and_expires(lab: Lab) -> None:
    policy = RESIDUAL
    assert policy is not None and 0 < policy.trigger_probability < 1
    client, www = str(lab_layout("dpi-residual").v4.client), WWW.address
    name, t = WWW.name.rstrip("."), f"--timeout {BLOCKED_TIMEOUT}"
    spared = _ports(policy, client, www, trigger=False, n=1)
    hit = _ports(policy, client, www, trigger=True, n=2)
    assert len(spared) == 1 and len(hit) == 2
    before = [
        f"tls {www} 443 --sni {name}",  # TCP: not this censor's
        f"quic {www} 443 --sni {name} --local-port {spared[0]}",  # the draw spares it
        f"quic {www} 443 --sni {CONTROL}",  # so nothing is blocked
        f"quic {www} 443 --sni {name} --big --local-port {hit[0]}",  # split: slips past
        f"quic {www} 443 --sni {CONTROL} --version v2",
        f"quic {www} 443 --sni {name} --local-port {hit[1]}",  # seen whole: triggers
        f"quic {www} 443 --sni {CONTROL} {t}",  # the control on the same 3-tuple
        f"tls {www} 443 --sni {CONTROL}",  # TCP on the same addresses is untouched
    ]
    results = run(lab, "dpi-residual", before)
    # The first handshake of the triggering flow may complete (the censor decides beside
    # the path); in the lab it does, as the server's whole flight precedes the block.
    assert outcomes(results) == ["ok"] * 6 + ["timeout", "ok"]
    triggered_at = results[5]["started"]
    # Poll the control until the block lifts: it must last about residual_s.
    polls = [f"quic {www} 443 --sni {CONTROL} {t}"] * int(policy.residual_s / BLOCKED_TIMEOUT + 4)
    after = run(lab, "dpi-residual", polls)
    first_ok = next((i for i, r in enumerate(after) if r["ok"]), None)
    assert first_ok is not None and first_ok > 0, outcomes(after)
    assert outcomes(after[:first_ok]) == ["timeout"] * first_ok
    lifted = after[first_ok]["started"] - triggered_at
    assert policy.residual_s - 1.5 <= lifted <= policy.residual_s + BLOCKED_TIMEOUT + 1.5, lifted
