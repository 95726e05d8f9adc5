"""ENS and UNS resolution on a real local ganache chain (published ENS/UNS bytecode).

The contracts are the npm artifacts of @ensdomains/ens, @ensdomains/resolver and
@unstoppabledomains/uns deployed by tests/fixtures/naming.py; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fragscope.db.vocab import Failure
from fragscope.probes.base import Endpoint, Observation, Task
from fragscope.probes.naming import ens
from fragscope.probes.naming.methods.ens import universal_resolver_for
from fragscope.probes.naming.probe import NamingConfig, NamingProbe
from fragscope.probes.safety import NetworkPolicy
from tests.fixtures.naming import (
    ALICE_ADDR,
    ALICE_BTC,
    CCIP_ADDR,
    HOSTILE_TEXT,
    IPFS_CH,
    IPFS_TEXT,
    UNS_ETH,
    UNS_IPFS,
    WILD_ADDR,
    CcipWorld,
    EnsWorld,
)

pytestmark = pytest.mark.slow


def measure(
    name: str,
    url: str,
    *,
    method: str = "eth-rpc-registry",
    namespace: str = "ens",
    **options: Any,
) -> Observation:
    probe = NamingProbe(
        NamingConfig(text_keys=("url", "description", "avatar"), coin_types=(0,)),
        policy=NetworkPolicy.from_env(),
    )
    endpoint = Endpoint(
        url=url, operator="lab", namespace=namespace, options={"method": method, **options}
    )
    task = Task(
        key=f"t-{name}",
        probe=probe.name,
        target=name,
        endpoint=endpoint,
        params={"namespace": namespace},
    )
    return asyncio.run(probe.measure(task))


def values(obs: Observation) -> dict[tuple[str, str | None], str]:
    return {(v["kind"], v["key"]): v["value"] for _t, v in obs.children}


def test_alice_resolves_every_record_kind(ens_world: EnsWorld) -> None:
    obs = measure("Alice.eth", ens_world.chain.url, registry=ens_world.registry, chain_id=1337)
    assert obs.failure is None, obs.failure_detail
    got = values(obs)
    assert got[("addr", "60")] == ALICE_ADDR
    assert got[("addr", "0")] == "0x" + ALICE_BTC.hex()
    assert got[("contenthash", "ipfs")] == IPFS_TEXT
    assert got[("text", "url")] == "https://alice.example"
    # Verbatim, except NUL (PostgreSQL text cannot hold it): U+FFFD, exact bytes in raw.
    assert got[("text", "description")] == HOSTILE_TEXT.replace("\x00", "\ufffd")
    desc = next(v for _t, v in obs.children if v["key"] == "description")
    assert bytes.fromhex(desc["raw"][2:]).decode() == HOSTILE_TEXT
    assert ("text", "avatar") not in got
    f = obs.fields
    assert f["name_normalized"] == "alice.eth" and f["name"] == "Alice.eth"
    assert f["outcome"] == "resolved" and f["n_values"] == 5
    assert f["chain_id"] == 1337 and f["block_number"] > 0
    assert f["resolver_address"].lower() == ens_world.resolver.lower()
    assert f["wildcard"] is False and f["offchain"] is False
    assert f["depends_on_icann_dns"] is False
    raw = {v["kind"]: v["raw"] for _t, v in obs.children if v["raw"] and v["kind"] != "text"}
    assert raw["contenthash"] == "0x" + IPFS_CH.hex()


def test_name_with_resolver_but_no_records(ens_world: EnsWorld) -> None:
    obs = measure("bob.eth", ens_world.chain.url, registry=ens_world.registry)
    assert obs.failure is None
    assert obs.fields["outcome"] == "no_records" and obs.children == []


def test_name_without_resolver_and_missing_name(ens_world: EnsWorld) -> None:
    for name in ("nores.eth", "ghost.eth"):
        obs = measure(name, ens_world.chain.url, registry=ens_world.registry)
        assert obs.failure is None
        assert obs.fields["outcome"] == "not_found", name
        assert obs.fields["detail"]["reason"] == "no resolver set"


def test_wrong_chain_id_is_an_rpc_error(ens_world: EnsWorld) -> None:
    obs = measure("alice.eth", ens_world.chain.url, registry=ens_world.registry, chain_id=1)
    assert obs.failure == Failure.ETH_RPC_ERROR
    assert "wrong chain id" in (obs.failure_detail or "")


def test_default_registry_is_mainnet_and_absent_here(ens_world: EnsWorld) -> None:
    # No registry code at the mainnet address on the lab chain: eth_call returns 0x,
    # which does not decode as an address -> eth_rpc_error, not a crash.
    obs = measure("alice.eth", ens_world.chain.url)
    assert obs.failure == Failure.ETH_RPC_ERROR
    assert "garbage" in (obs.failure_detail or "")


def test_invalid_ens_name_is_invalid_input(ens_world: EnsWorld) -> None:
    obs = measure("al_ice.eth", ens_world.chain.url, registry=ens_world.registry)
    assert obs.failure == Failure.INVALID_INPUT
    assert obs.fields.get("name_normalized") is None


def test_uns_getmany_through_the_registry(ens_world: EnsWorld) -> None:
    obs = measure(
        "alice.crypto",
        ens_world.chain.url,
        method="uns",
        namespace="unstoppable",
        proxy_reader=ens_world.uns_registry,
    )
    assert obs.failure is None, obs.failure_detail
    got = values(obs)
    assert got[("uns", "crypto.ETH.address")] == UNS_ETH
    assert got[("uns", "dweb.ipfs.hash")] == UNS_IPFS
    assert obs.fields["outcome"] == "resolved"
    missing = measure(
        "nobody.crypto",
        ens_world.chain.url,
        method="uns",
        namespace="unstoppable",
        proxy_reader=ens_world.uns_registry,
    )
    assert missing.failure is None and missing.fields["outcome"] == "not_found"


def test_ensip10_wildcard(ccip_world: CcipWorld) -> None:
    world = ccip_world.ens
    obs = measure("deep.sub.wild.eth", world.chain.url, registry=world.registry)
    assert obs.failure is None, obs.failure_detail
    got = values(obs)
    assert got[("addr", "60")] == WILD_ADDR
    # The resolver saw the full DNS-encoded name (its first label is echoed back).
    assert got[("text", "url")] == "wild:url:deep"
    assert obs.fields["wildcard"] is True
    assert obs.fields["resolver_address"].lower() == ccip_world.wild.lower()
    assert obs.fields["detail"]["resolver_found_at"] == "wild.eth"
    assert obs.fields["detail"]["ensip10"] is True
    # A wildcard match on a legacy resolver (no ENSIP-10) is not followed: alice.eth's
    # PublicResolver must not answer for sub.alice.eth.
    legacy = measure("sub.alice.eth", world.chain.url, registry=world.registry)
    assert legacy.failure is None and legacy.fields["outcome"] == "not_found"


def test_offchain_lookup_through_the_gateway(ccip_world: CcipWorld) -> None:
    world = ccip_world.ens
    for name in ("offchain.eth", "offpost.eth"):
        obs = measure(name, world.chain.url, registry=world.registry)
        assert obs.failure is None, (name, obs.failure_detail)
        got = values(obs)
        assert got[("addr", "60")] == CCIP_ADDR
        assert got[("contenthash", "ipfs")] == IPFS_TEXT
        assert got[("text", "url")] == "https://ccip.example"
        assert obs.fields["offchain"] is True
        assert obs.fields["detail"]["gateways"][0].startswith(ccip_world.gateway_url)


def test_offchain_lookup_gateway_failures(ccip_world: CcipWorld) -> None:
    world = ccip_world.ens
    broken = measure("broken.eth", world.chain.url, registry=world.registry)
    assert broken.failure == Failure.ETH_OFFCHAIN_LOOKUP_ERROR
    assert "HTTP 500" in (broken.failure_detail or "")
    garbled = measure("garbled.eth", world.chain.url, registry=world.registry)
    assert garbled.failure == Failure.ETH_OFFCHAIN_LOOKUP_ERROR
    assert "bad gateway response" in (garbled.failure_detail or "")


def test_universal_resolver_when_the_campaign_names_one(ccip_world: CcipWorld) -> None:
    world = ccip_world.ens
    ur = {"universal_resolver": ccip_world.universal, "method": "eth-rpc"}
    alice = measure("alice.eth", world.chain.url, **ur)
    assert alice.failure is None, alice.failure_detail
    got = values(alice)
    assert got[("addr", "60")] == ALICE_ADDR
    assert got[("addr", "0")] == "0x" + ALICE_BTC.hex()
    assert got[("contenthash", "ipfs")] == IPFS_TEXT
    assert alice.fields["resolver_address"].lower() == world.resolver.lower()
    wild = measure("x.wild.eth", world.chain.url, **ur)
    assert values(wild)[("addr", "60")] == WILD_ADDR
    # Its require("no resolver") is no ENSIP-23 error: a failure, not a silent not_found.
    missing = measure("nores.eth", world.chain.url, **ur)
    assert missing.failure == Failure.ETH_RPC_ERROR
    assert "reverted every call: revert: no resolver" in (missing.failure_detail or "")
    # This minimal UR bubbles the resolver's OffchainLookup: its sender is the resolver,
    # not the contract we called, so EIP-3668 requires refusing it.
    off = measure("offchain.eth", world.chain.url, **ur)
    assert off.failure == Failure.ETH_OFFCHAIN_LOOKUP_ERROR
    assert "is not the called contract" in (off.failure_detail or "")


# --- ENS as today's clients resolve it (issue 20): the Universal Resolver by default,
# ENSIP-21 batch gateways, ENSIP-23 errors, long labels. The UR is the lab's
# (lab/chain/contracts/UniversalResolver.sol), whose lookups list only x-batch-gateway:true.


def test_eth_rpc_asks_the_universal_resolver_by_default(ens_world: EnsWorld) -> None:
    # On mainnet the default is ENS's UR proxy; elsewhere eth-rpc needs one named, and
    # says how to get the old walk.
    assert universal_resolver_for({}, 1) == "0xeEeEEEeE14D718C2B47D9923Deab1335E144EeEe"
    obs = measure("alice.eth", ens_world.chain.url, method="eth-rpc", registry=ens_world.registry)
    assert obs.failure == Failure.ETH_RPC_ERROR
    assert "options.universal_resolver" in (obs.failure_detail or "")
    ur = measure(
        "alice.eth",
        ens_world.chain.url,
        method="eth-rpc",
        registry=ens_world.registry,
        universal_resolver=ens_world.universal,
    )
    assert ur.failure is None, ur.failure_detail
    assert values(ur)[("addr", "60")] == ALICE_ADDR
    assert ur.fields["detail"]["universal_resolver"].lower() == ens_world.universal.lower()
    assert ur.fields["registry_walk_agrees"] is True


def test_ensip21_batch_gateway_and_ensip23_errors(ccip_world: CcipWorld) -> None:
    world = ccip_world.ens
    ur = {"method": "eth-rpc", "universal_resolver": world.universal}
    # EIP-3668 behind the UR: the UR's lookup lists x-batch-gateway:true, the probe runs
    # the batch gateway itself and asks the resolver's own gateway.
    off = measure("offchain.eth", world.chain.url, **ur)
    assert off.failure is None, off.failure_detail
    assert values(off)[("addr", "60")] == CCIP_ADDR
    assert off.fields["offchain"] is True
    assert off.fields["detail"]["gateways"][0].startswith(ccip_world.gateway_url)
    # The gateway's HTTP 500 comes back as ENSIP-23 HttpError: a failure, not "no record".
    broken = measure("broken.eth", world.chain.url, **ur)
    assert broken.failure == Failure.ETH_OFFCHAIN_LOOKUP_ERROR
    assert "HttpError: HTTP 500" in (broken.failure_detail or "")
    # ResolverNotFound: the name has no resolver, which is an answer.
    missing = measure("nores.eth", world.chain.url, **ur)
    assert missing.failure is None and missing.fields["outcome"] == "not_found"
    assert missing.fields["detail"]["reason"] == "ResolverNotFound (ENSIP-23)"
    # UnsupportedResolverProfile (the wildcard resolver has no contenthash): no record.
    wild = measure("x.wild.eth", world.chain.url, **ur)
    assert wild.failure is None and values(wild)[("addr", "60")] == WILD_ADDR
    assert ("contenthash", "ipfs") not in values(wild)


def test_a_label_longer_than_255_octets_goes_as_its_labelhash(ens_world: EnsWorld) -> None:
    # ENS names have no label limit; a label no length byte can carry is sent as its
    # ENSIP-1 "[labelhash]" (as ensjs and ENS's NameCoder encode it), and the UR reads it.
    c, label = ens_world.chain, "l" * 300
    name = f"{label}.eth"
    c.tx(
        ens_world.registry,
        "setSubnodeRecord(bytes32,bytes32,address,address,uint64)",
        ens.namehash("eth"),
        ens.labelhash(label),
        c.account,
        ens_world.resolver,
        0,
    )
    c.tx(ens_world.resolver, "setAddr(bytes32,address)", ens.namehash(name), WILD_ADDR)
    for method in ("eth-rpc", "eth-rpc-registry"):
        obs = measure(
            name,
            c.url,
            method=method,
            registry=ens_world.registry,
            universal_resolver=ens_world.universal,
        )
        assert obs.failure is None, (method, obs.failure_detail)
        assert values(obs)[("addr", "60")] == WILD_ADDR, method
