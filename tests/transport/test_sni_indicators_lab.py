"""T10 and T2 from a real round (`fragscope run` at clean and dpi-inline, then
`fragscope indicators compute`), against values derived here from the lab truth
(lab/truth.toml's web hosts, lab/vantages/truth.toml's inline censor). The expectations
never come from fragscope.analysis: the stored indicator_values are read with sqlite3.

At dpi-inline every blocked name is SNI-filtered over TCP and QUIC and every other served
name passes, so T10 = blocked / served per transport; at clean T10 = 0. T2 counts no
SNI-filtered pair as UDP/443 blocking.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fragscope.lab.truth import load
from fragscope.lab.vantages import facts, lab_exec_argv, runner
from fragscope.lab.world import Lab

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
TRUTH = load()
INLINE = facts.load()["dpi-inline"].dpi
HOSTS = [TRUTH.web[k] for k in ("www", "caddy", "news")]  # served over TCP and QUIC
ROUND = "sni"


def campaign(lab: Lab, vantage: str, hosts_csv: Path) -> str:
    return f"""
name = "sni-{vantage}"
vantage = "{vantage}"
round = "{ROUND}"

[[targets]]
list = "hosts"
file = "{hosts_csv}"
namespace = "icann"

[probes."transport.tls"]
lists = ["hosts"]
ca_file = "{lab.ca_file}"
connect_timeout_s = 1.0
handshake_timeout_s = 1.0
http_timeout_s = 1.0

[probes."transport.quic"]
lists = ["hosts"]
ca_file = "{lab.ca_file}"
handshake_timeout_s = 1.0
http_timeout_s = 1.0

[probes."transport.sni"]
lists = ["hosts"]
ca_file = "{lab.ca_file}"
handshake_timeout_s = 1.0
tries = 2

[limits]
concurrency = 16
deadline = 12.0
retries = 1
backoff = 0.05

[safety]
allowed = ["10.99.0.0/16", "fd99::/16"]
"""


def fragscope(vantage: str, *args: str) -> None:
    argv = [sys.executable, "-c", "import cli; cli.main()", *args]
    env = {**os.environ, "FRAGSCOPE_ALLOWED_NETS": "10.99.0.0/16,fd99::/16"}
    done = subprocess.run(
        lab_exec_argv(vantage, argv),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, (vantage, args, done.stdout, done.stderr)


def values(db: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(vantage label, code) -> the stored value, status and params."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT v.label, i.code, i.value, i.status, i.params FROM indicator_values i "
            "JOIN runs r ON r.id = i.run_id JOIN vantages v ON v.id = r.vantage_id"
        ).fetchall()
    return {
        (label, code): {"value": value, "status": status, "params": json.loads(params)}
        for label, code, value, status, params in rows
    }


def measure(lab: Lab, tmp_path: Path, vantages: tuple[str, ...]) -> dict[tuple[str, str], Any]:
    """One round of the SNI campaign over HOSTS at ``vantages``, its indicators computed."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    hosts_csv = tmp_path / "hosts.csv"
    hosts_csv.write_text(
        "".join(f"{i},{h.name.rstrip('.')},{h.address}\n" for i, h in enumerate(HOSTS, 1))
    )
    db = tmp_path / "sni.sqlite"
    for vantage in vantages:
        toml = tmp_path / f"{vantage}.toml"
        toml.write_text(campaign(lab, vantage, hosts_csv))
        fragscope(vantage, "run", "--campaign", str(toml), "--db", str(db), "--auto-migrate",
                  "--no-progress")  # fmt: skip
    fragscope("clean", "indicators", "compute", "--db", str(db), "--round", ROUND)
    return values(db)


def blocked_share(blocked_sni: frozenset[str]) -> float:
    """T10 over HOSTS, each tested over TCP and QUIC: the share whose name is blocked."""
    return sum(h.name.rstrip(".") in blocked_sni for h in HOSTS) / len(HOSTS)


def test_t10_split_at_dpi_inline_zero_at_clean_and_t2_ignores_sni_filtering(
    lab: Lab, tmp_path: Path
) -> None:
    assert INLINE is not None
    got = measure(lab, tmp_path, ("clean", "dpi-inline"))

    share = blocked_share(INLINE.blocked_sni)  # every host is tested over both transports
    t10 = got[("dpi-inline", "T10")]
    assert t10["status"] == "value" and t10["value"] == pytest.approx(share), t10
    assert t10["params"]["tcp"] == pytest.approx(share)
    assert t10["params"]["quic"] == pytest.approx(share)
    assert t10["params"]["undecided"] == 0
    clean = got[("clean", "T10")]
    assert clean["status"] == "value" and clean["value"] == 0, clean

    # T2: no pair reads as UDP/443 blocking at dpi-inline (each blocked name also fails
    # over TLS there, so only the passing names are eligible).
    t2 = got[("dpi-inline", "T2")]
    assert t2["params"]["blocked_pairs"] == 0, t2
    assert t2["value"] in (0, None), t2


def test_t10_perturbation_moves_by_the_names_a_censor_adds(lab: Lab, tmp_path: Path) -> None:
    """T10's perturbation (issue 19/21: one planted fact changed, two measured rounds
    diffed): the inline censor also blocks caddy.example.test; T10 at dpi-inline moves by
    exactly one name's share, over TCP and QUIC alike, and its n does not move."""
    assert INLINE is not None
    v = facts.load()["dpi-inline"]
    extra = "caddy.example.test"
    assert extra not in INLINE.blocked_sni and extra in {h.name.rstrip(".") for h in HOSTS}
    perturbed = dataclasses.replace(INLINE, blocked_sni=INLINE.blocked_sni | {extra})
    before = measure(lab, tmp_path / "before", ("dpi-inline",))[("dpi-inline", "T10")]
    runner.restart_dpi(dataclasses.replace(v, dpi=perturbed), run_dir=lab.paths.vantages)
    try:
        after = measure(lab, tmp_path / "after", ("dpi-inline",))[("dpi-inline", "T10")]
    finally:
        runner.restart_dpi(v, run_dir=lab.paths.vantages)
    move = blocked_share(perturbed.blocked_sni) - blocked_share(INLINE.blocked_sni)
    assert before["value"] == pytest.approx(blocked_share(INLINE.blocked_sni)), before
    assert after["value"] - before["value"] == pytest.approx(move), (before, after)
    for transport in ("tcp", "quic"):
        delta = after["params"][transport] - before["params"][transport]
        assert delta == pytest.approx(move), (transport, before, after)
