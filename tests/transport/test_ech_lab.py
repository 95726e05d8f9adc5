"""transport.ech against the lab's ECH host (Caddy 2.11), from inside each vantage.

The probe runs in one process per vantage (tests/fixtures/echprobe.py), all vantages side
by side, asking the vantage's own resolver for each host's HTTPS record. What each target
must read is derived here from the lab truth (lab/truth.toml's web hosts,
lab/vantages/truth.toml's censors), never from fragscope.analysis: the ECH host
publishes its config everywhere; ECH is accepted wherever no censor blocks the extension,
and blocked at dpi-inline (block_ech), where the same name without ECH passes.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from fragscope.lab.truth import load
from fragscope.lab.vantages import facts
from fragscope.lab.world import Lab
from tests.fixtures.vantage_clients import run_side_by_side

pytestmark = pytest.mark.lab

TRUTH = load()
VANTAGES = facts.load()
ECH_HOSTS = [h for h in TRUTH.web.values() if h.has_ech]
# A served TCP host without ECH: its row must read no_ech.
PLAIN = TRUTH.web["tcponly"]
AT = ("clean", "dpi-inline", "dpi-residual", "lossy")


def expected(vantage: str, host_key: str) -> str:
    host = TRUTH.web[host_key]
    if not host.has_ech:
        return "no_ech"
    dpi = VANTAGES[vantage].dpi
    if dpi is not None and dpi.block_ech:
        return "ech_blocked"
    return "ech_accepted"


def test_ech_verdicts_at_every_kind_of_vantage(lab: Lab) -> None:
    assert ECH_HOSTS, "the lab truth plants an ECH host"
    tasks = [{"target": h.name.rstrip("."), "address": str(h.address)} for h in [*ECH_HOSTS, PLAIN]]
    stdin = {}
    for v in AT:
        config: dict[str, Any] = {
            "ca_file": str(lab.ca_file),
            "resolver": str(VANTAGES[v].resolver),
            "handshake_timeout_s": 1.5,
            # lossy: more tries, so its loss is retried away rather than read as a block.
            "tries": 4 if v == "lossy" else 2,
        }
        stdin[v] = json.dumps({"config": config, "tasks": tasks})
    got = run_side_by_side("tests.fixtures.echprobe", stdin)

    by_name = {h.name.rstrip("."): h.key for h in [*ECH_HOSTS, PLAIN]}
    for v in AT:
        rows = {r["target"]: r for r in got[v]}
        for name, key in by_name.items():
            row = rows[name]
            assert row["failure"] is None, (v, row)
            assert row["ech_published"] is TRUTH.web[key].has_ech, (v, row)
            want = expected(v, key)
            if v == "lossy" and row["verdict"] == "inconclusive":
                continue  # loss may leave a comparison undecided, never blocked
            assert row["verdict"] == want, (v, row)
    for h in ECH_HOSTS:
        name = h.name.rstrip(".")
        clean = {r["target"]: r for r in got["clean"]}[name]
        # Adoption: the published list is the truth's, byte for byte.
        assert base64.b64decode(clean["ech_config_list"]) == h.ech_config_list()
        [config] = clean["ech_configs"]
        assert config["public_name"] == h.ech_public_name.rstrip(".")
        assert config["config_id"] == h.ech_config_id
        # Accepted by both signals at clean.
        assert clean["ech_accepted"] is True and clean["inner_cert_name_match"] is True
        assert clean["inner_cert_valid"] is True
        inline = {r["target"]: r for r in got["dpi-inline"]}[name]
        # The censor keys on the extension: without it the same name passes at once,
        # with GREASE or real ECH every try is lost.
        assert inline["control_ok"] is True and inline["control_retries"] == 0
        assert inline["grease_ok"] is False and inline["ech_ok"] is False
