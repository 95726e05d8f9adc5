"""transport.sni against the lab's DPI censors, from inside each vantage's namespace.

The probe runs in one process per vantage (tests/fixtures/sniprobe.py), all vantages side
by side. What each (target, address, transport) must read is derived here from the lab
truth (lab/truth.toml's web hosts, lab/vantages/truth.toml's censors), never from
fragscope.analysis: at dpi-inline a blocked name is sni_filtered over TCP and QUIC and a
served unblocked name is ok; at dpi-residual a QUIC flow whose 4-tuple the censor's
seeded draw triggers on leaves its 3-tuple blocked (residual), TCP is untouched; at clean
everything is ok; at lossy loss never reads as sni_filtered.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from fragscope.lab.truth import load
from fragscope.lab.vantages import facts, lab_layout
from fragscope.lab.world import Lab
from tests.fixtures.vantage_clients import run_side_by_side

pytestmark = pytest.mark.lab

TRUTH = load()
VANTAGES = facts.load()
INLINE = VANTAGES["dpi-inline"].dpi
RESIDUAL = VANTAGES["dpi-residual"].dpi
HOSTS = [TRUTH.web[k] for k in ("www", "caddy", "news")]  # served over TCP and QUIC
TIMEOUT_S = 1.0


def _tasks() -> list[dict[str, str]]:
    return [
        {"target": h.name.rstrip("."), "address": str(h.address), "transport": t}
        for h in HOSTS
        for t in ("tcp", "quic")
    ]


def run_at(lab: Lab, plans: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each vantage's probe spec (tests/fixtures/sniprobe.py), vantages side by side."""
    stdin = {
        v: json.dumps(
            {"config": {"ca_file": str(lab.ca_file), **p["config"]}, "batches": p["batches"]}
        )
        for v, p in plans.items()
    }
    return run_side_by_side("tests.fixtures.sniprobe", stdin)


def verdicts(rows: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    return {(r["target"], r["transport"]): r["verdict"] for r in rows}


def expected_inline(name: str, transport: str) -> str:
    assert INLINE is not None
    return "sni_filtered" if name in INLINE.blocked_sni else "ok"


def expected_residual(row: dict[str, Any], client: str) -> str:
    """residual when one of the row's real-SNI QUIC flows sent its whole ClientHello in
    its first datagram and the censor's draw triggers on its 4-tuple; else ok."""
    assert RESIDUAL is not None
    if row["transport"] == "tcp" or row["target"] not in RESIDUAL.blocked_sni:
        return "ok"  # the residual censor sees UDP/443 flows only
    for a in row["attempts"]:
        whole = a["step"].startswith("real") and a["client_hello_initials"] == 1
        if whole and RESIDUAL.triggers(client, a["source_port"], row["address"], 443):
            return "residual"
    return "ok"


def test_sni_verdicts_at_the_dpi_vantages_clean_and_lossy(lab: Lab) -> None:
    assert INLINE is not None and RESIDUAL is not None
    fast = {"handshake_timeout_s": TIMEOUT_S, "tries": 2, "residual_s": RESIDUAL.residual_s}
    www = {"target": "www.example.test", "address": str(TRUTH.web["www"].address)}
    plans: dict[str, dict[str, Any]] = {
        "clean": {"config": fast, "batches": [_tasks()]},
        "dpi-inline": {"config": fast, "batches": [_tasks()]},
        # A second batch on www's QUIC 3-tuple: it must wait out the residual block.
        "dpi-residual": {
            "config": fast,
            "batches": [_tasks(), [{**www, "transport": "quic"}]],
        },
        "lossy": {"config": {**fast, "tries": 3}, "batches": [_tasks()]},
    }
    got = run_at(lab, plans)

    assert set(verdicts(got["clean"]).values()) == {"ok"}, got["clean"]

    inline = verdicts(got["dpi-inline"])
    assert inline == {
        (t["target"], t["transport"]): expected_inline(t["target"], t["transport"])
        for t in _tasks()
    }
    for row in got["dpi-inline"]:
        quic_hellos = [
            a["client_hello_initials"]
            for a in row["attempts"]
            if a["step"] != "vn" and row["transport"] == "quic"
        ]
        assert all(n == 1 for n in quic_hellos), row  # aioquic's ClientHello fits one Initial
        if row["transport"] == "quic":
            assert row["vn_answered"] is True, row  # UDP/443 itself passes the censor

    client = str(lab_layout("dpi-residual").v4.client)
    first, second = (
        [r for r in got["dpi-residual"] if r["batch"] == 0],
        [r for r in got["dpi-residual"] if r["batch"] == 1],
    )
    want = {(r["target"], r["transport"]): expected_residual(r, client) for r in first}
    assert verdicts(first) == want
    assert "residual" in want.values(), "no flow triggered: the draw spared every real SNI"
    for r in first:
        if want[(r["target"], r["transport"])] == "residual" and r["real_first_ok"]:
            # The first real-SNI handshake worked, yet the row is not "no censorship".
            assert r["verdict"] == "residual"
    www_quic = next(r for r in first if r["target"] == www["target"] and r["transport"] == "quic")
    [again] = second
    if www_quic["verdict"] == "residual":
        assert again["residual_wait_ms"] > 0  # waited the block out ...
        assert again["control_first_ok"] is True  # ... so the control was not poisoned
    else:
        assert again["residual_wait_ms"] == 0

    assert "sni_filtered" not in verdicts(got["lossy"]).values(), got["lossy"]
