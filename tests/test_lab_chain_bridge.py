"""The lab's ENS-to-HTTP gateway bridges (lab/chain/bridge.py) against a real ganache with
the planted names and the real CCIP-read gateway (tests.fixtures.chain, on 127.0.0.1): every
planted ENS name answers as the chain's contenthash says, and the stale bridge serves its
planted outdated path instead. Expected answers come from lab/chain/truth.toml and
lab/truth.toml; CIDs are compared by their multihash (CIDv1 base32 decoded here)."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from fragscope.lab import truth as lab_truth
from fragscope.lab.chain.bridge import Bridge, ChainReader, start_bridge
from fragscope.lab.chain.schema import Records
from tests.fixtures.chain import ChainLab


def get(url: str) -> tuple[int, str | None]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.headers.get("x-ipfs-path")
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("x-ipfs-path")


def multihash_of_path(path: str) -> bytes:
    """The multihash inside ``/ipfs/b<base32 CIDv1>`` (version and dag-pb codec dropped)."""
    text = path.removeprefix("/ipfs/b").upper()
    cid = base64.b32decode(text + "=" * (-len(text) % 8))
    assert cid[:2] == b"\x01\x70", cid[:2]
    return cid[2:]


def expected_status(c: ChainLab, name: str) -> int:
    """What the truth says the bridge answers: 502 when the CCIP-read gateway errs for the
    name (http-500, forged binding), 404 without a contenthash, 501 for swarm (e4), 200."""
    offchain = c.truth.offchain(name)
    if offchain is not None and offchain.gateway != "ok":
        return 502
    records = {e.name: e.records for e in c.truth.ens_names if e.resolver}
    records |= {e.name: e.records for e in c.truth.offchain_names}
    contenthash = records.get(name, Records()).contenthash
    if contenthash is None:
        return 404
    return 200 if contenthash[:2] == b"\xe3\x01" else 501


@pytest.fixture(scope="module")
def stale_table() -> dict[str, str]:
    t = lab_truth.load()
    assert t.chain is not None
    stale = {b.name: b.stale for b in t.chain.bridges}
    assert stale["bridge-faithful"] == {} and stale["bridge-stale"], stale
    return stale["bridge-stale"]


@pytest.fixture
def bridges(chain_lab: ChainLab, stale_table: dict[str, str]) -> Iterator[tuple[str, str]]:
    reader = ChainReader(chain_lab.rpc, chain_lab.truth.addresses["ens_registry"])
    servers = [start_bridge(Bridge(reader)), start_bridge(Bridge(reader, stale_table))]
    try:
        yield tuple(f"http://127.0.0.1:{s.server_address[1]}" for s in servers)  # type: ignore[return-value]
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def ens_names(c: ChainLab) -> list[str]:
    t = c.truth
    return [
        *(e.name for e in t.ens_names),
        *t.unregistered,
        *(e.name for e in t.wildcard_samples),
        *(e.name for e in t.offchain_names),
    ]


def test_faithful_bridge_serves_the_chains_contenthash(
    chain_lab: ChainLab, bridges: tuple[str, str]
) -> None:
    faithful, _stale = bridges
    seen = set()
    for name in ens_names(chain_lab):
        status, path = get(f"{faithful}/{quote(name)}")
        want = expected_status(chain_lab, name)
        assert status == want, (name, status, want)
        seen.add(status)
        if status == 200:
            assert path is not None
            records = next(
                e.records
                for e in [*chain_lab.truth.ens_names, *chain_lab.truth.offchain_names]
                if e.name == name
            )
            assert records.contenthash is not None
            # ipfs-ns, CIDv1, dag-pb, then the multihash (EIP-1577).
            assert multihash_of_path(path) == records.contenthash[4:], name
        else:
            assert path is None, (name, path)
    # Every answer the module describes occurs among the planted names.
    assert seen == {200, 404, 501, 502}, seen


def test_stale_bridge_differs_only_on_its_planted_names(
    chain_lab: ChainLab, bridges: tuple[str, str], stale_table: dict[str, str]
) -> None:
    faithful, stale = bridges
    for name in ens_names(chain_lab):
        got, want = get(f"{stale}/{quote(name)}"), get(f"{faithful}/{quote(name)}")
        if name in stale_table:
            assert got == (200, stale_table[name]), name
            assert want[0] == 200 and multihash_of_path(want[1] or "") != multihash_of_path(
                stale_table[name]
            ), name
        else:
            assert got == want, name
