"""UNS on three chains, combined as Unstoppable's own library does: three ganache chains
(chain ids 1337 as L1, 137 as Polygon, 8453 as Base) each with a UNSRegistry and ProxyReader
(@unstoppabledomains/uns artifacts), names minted on one layer or on two; fragscope's ``uns``
method with ``options.layers`` must give what @unstoppabledomains/resolution 9.3.3 gives
(lab/chain/uns_client.mjs, run with node). Nothing leaves 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from fragscope.lab.chain.artifacts import CHAIN_DIR
from fragscope.probes.base import Endpoint, Observation, Task
from fragscope.probes.naming.probe import NamingConfig, NamingProbe
from fragscope.probes.safety import NetworkPolicy
from tests.fixtures.naming import deploy_uns, ensure_npm, npm_dir, start_ganache

pytestmark = pytest.mark.slow

ETH = "crypto.ETH.address"
KEYS = (ETH, "dweb.ipfs.hash")
ON_L1 = {
    "onl1.crypto": "0x00000000000000000000000000000000000000A1",
    "both.crypto": "0x00000000000000000000000000000000000000B1",
}
ON_POLYGON = {
    "onl2.crypto": "0x00000000000000000000000000000000000000F2",
    "both.crypto": "0x00000000000000000000000000000000000000B2",
}
ON_BASE = {"onbase.wallet": "0x00000000000000000000000000000000000000BA"}
# What UD's Uns.get does: the L2 answer when its owner is non-zero, else L1's.
EXPECTED = {
    "onl1.crypto": (ON_L1["onl1.crypto"], 1337),
    "onl2.crypto": (ON_POLYGON["onl2.crypto"], 137),
    "both.crypto": (ON_POLYGON["both.crypto"], 137),
    "onbase.wallet": (ON_BASE["onbase.wallet"], 8453),
}


@dataclass
class Layers:
    l1: tuple[str, str]  # (JSON-RPC URL, ProxyReader)
    polygon: tuple[str, str]
    base: tuple[str, str]


@pytest.fixture(scope="module")
def uns_layers() -> Iterator[Layers]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: cannot run ganache")
    base = ensure_npm(npm_dir())
    with contextlib.ExitStack() as stack:
        chains = [stack.enter_context(start_ganache(base, cid)) for cid in (1337, 137, 8453)]
        readers = [
            deploy_uns(c, {n: {ETH: a} for n, a in names.items()}, reader=True)
            for c, names in zip(chains, (ON_L1, ON_POLYGON, ON_BASE), strict=True)
        ]
        pairs = [(c.url, r) for c, r in zip(chains, readers, strict=True)]
        yield Layers(*pairs)


def resolve(layers: Layers, name: str, *, with_l2: bool = True) -> Observation:
    probe = NamingProbe(NamingConfig(uns_keys=KEYS), policy=NetworkPolicy.from_env())
    l2 = [
        {"url": f"eth+{url}", "chain_id": cid, "proxy_reader": reader}
        for (url, reader), cid in ((layers.polygon, 137), (layers.base, 8453))
    ]
    options: dict[str, Any] = {"method": "uns", "chain_id": 1337, "proxy_reader": layers.l1[1]}
    if with_l2:
        options["layers"] = l2
    endpoint = Endpoint(url=layers.l1[0], namespace="unstoppable", options=options)
    task = Task(
        key=f"t-{name}",
        probe=probe.name,
        target=name,
        endpoint=endpoint,
        params={"namespace": "unstoppable"},
    )
    return asyncio.run(probe.measure(task))


def ud_library(layers: Layers, names: list[str]) -> dict[str, Any]:
    config = {
        "l1": {"url": layers.l1[0], "reader": layers.l1[1]},
        "polygon": {"url": layers.polygon[0], "reader": layers.polygon[1]},
        "base": {"url": layers.base[0], "reader": layers.base[1]},
        "tlds": {"crypto": "POL", "wallet": "BASE"},
        "keys": list(KEYS),
    }
    node = shutil.which("node") or "node"
    done = subprocess.run(
        [node, str(CHAIN_DIR / "uns_client.mjs"), json.dumps(config), *names],
        cwd=CHAIN_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(done.stdout))


def test_the_layer_whose_owner_is_non_zero_wins(uns_layers: Layers) -> None:
    for name, (addr, chain_id) in EXPECTED.items():
        obs = resolve(uns_layers, name)
        assert obs.failure is None, (name, obs.failure_detail)
        got = {(v["kind"], v["key"]): v["value"] for _t, v in obs.children}
        assert got == {("uns", ETH): addr}, name
        assert obs.fields["chain_id"] == chain_id, name
        assert obs.fields["detail"]["layer_chain_id"] == chain_id, name
    missing = resolve(uns_layers, "nobody.crypto")
    assert missing.failure is None and missing.fields["outcome"] == "not_found"
    # Without the L2s (UNS as read before issue 20), a name on Polygon reads as absent.
    l1_only = resolve(uns_layers, "onl2.crypto", with_l2=False)
    assert l1_only.fields["outcome"] == "not_found"


def test_fragscope_agrees_with_unstoppables_library(uns_layers: Layers) -> None:
    names = [*EXPECTED, "nobody.crypto"]
    theirs = ud_library(uns_layers, names)
    for name in EXPECTED:
        mine = resolve(uns_layers, name)
        values = {v["key"]: v["value"] for _t, v in mine.children}
        other = {k: v for k, v in theirs[name]["records"].items() if v}
        assert values == other, (name, theirs[name])
    assert theirs["nobody.crypto"].get("error") == "UnregisteredDomain"
