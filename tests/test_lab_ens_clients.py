"""The independent check of fragscope's ENS method: ENS's own client library
(@ensdomains/ensjs 4.3.1 over viem, lab/chain/ens_client.mjs, run with node) resolves the
lab chain's names through the lab's Universal Resolver, and fragscope's ``eth-rpc`` must
give the same answers. A Universal Resolver written for the lab would otherwise only test
itself: ensjs's encoding, its ENSIP-21 local batch gateway and its reading of ENSIP-23
results are ENS's, not ours. ur.gtest.eth shows ensjs takes the UR path (0xEeee...EEeE)."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from fragscope.lab.chain.artifacts import CHAIN_DIR
from fragscope.probes.naming import ens
from tests.fixtures.chain import ChainLab
from tests.test_naming_lab_chain import got, resolve

pytestmark = pytest.mark.slow

TEXT_KEYS = ("url", "description", "com.github", "com.twitter", "email")


def ensjs(lab: ChainLab, names: list[str]) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is not installed (deps/apt.txt)"
    t = lab.truth
    argv = [
        node,
        str(CHAIN_DIR / "ens_client.mjs"),
        lab.chain.url,
        str(t.chain_id),
        t.addresses[t.universal.resolver],
        t.addresses["ens_registry"],
        ",".join(TEXT_KEYS),
        *names,
    ]
    done = subprocess.run(
        argv, cwd=CHAIN_DIR, capture_output=True, text=True, timeout=120, check=True
    )
    return dict(json.loads(done.stdout))


def test_fragscope_agrees_with_ensjs_on_the_lab_names(chain_lab: ChainLab) -> None:
    t = chain_lab.truth
    names = [n.name for n in (*t.ens_names, *t.wildcard_samples)]
    names += [n.name for n in t.offchain_names] + list(t.unregistered) + [t.universal.test_name]
    theirs = ensjs(chain_lab, names)
    compared = 0
    for name in names:
        obs = resolve(chain_lab, name, registry_walk=False)  # the UR path alone
        mine = got(obs)
        other = theirs[name]
        assert "error" not in other, (name, other)
        if obs.failure is not None:
            # A gateway failure (HTTP 500, a refused answer) is a failure here; ensjs in
            # its default non-strict mode reads every ENSIP-23 error as null.
            assert other == {"addr": None, "coins": {}, "text": {}, "contenthash": None}, name
            continue
        addr = mine.get(("addr", "60"))
        assert (addr and ens.checksum(addr)) == (other["addr"] and ens.checksum(other["addr"])), (
            name
        )
        texts = {k: v for (kind, k), v in mine.items() if kind == "text" and k in TEXT_KEYS}
        assert texts == other["text"], name
        # ensjs prints CIDv1, fragscope the EIP-1577 example's CIDv0: compare the protocol.
        mine_ch = {k for (kind, k), _v in mine.items() if kind == "contenthash"}
        # ensjs names Swarm "bzz", fragscope (EIP-1577's codec name) "swarm".
        proto = other["contenthash"].split("://")[0] if other["contenthash"] else None
        other_ch = {{"bzz": "swarm"}.get(proto, proto)} if proto else set()
        assert mine_ch == other_ch, name
        assert bool(other["coins"]) == (("addr", "0") in mine), name
        compared += 1
    assert compared >= len(names) - 2
    assert theirs[t.universal.test_name]["addr"] == t.universal.via_ur
