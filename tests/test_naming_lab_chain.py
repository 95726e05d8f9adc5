"""naming.resolve against the lab chain (lab/chain, tests/fixtures/chain.py): every fact
planted from lab/chain/truth.toml -- ENS records, a name without resolver, unregistered
names, the ENSIP-10 wildcard samples, the EIP-3668 names behind the lab's CCIP-read
gateway (ok, HTTP 500, forged binding) and the UNS names through the ProxyReader --
resolved by the probe and compared with the truth file, not with literals. ENS through
both entry points: the Universal Resolver (``eth-rpc``, ENSIP-23 with the ENSIP-21 local
batch gateway) and the client-side registry walk (``eth-rpc-registry``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fragscope.db.vocab import Failure
from fragscope.probes.base import Endpoint, Observation, Task
from fragscope.probes.naming import ens
from fragscope.probes.naming.probe import NamingConfig, NamingProbe
from fragscope.probes.safety import NetworkPolicy
from tests.fixtures.chain import ChainLab

pytestmark = pytest.mark.slow


def _text_keys(lab: ChainLab) -> tuple[str, ...]:
    t = lab.truth
    names = [*t.ens_names, *t.wildcard_samples, *t.offchain_names]
    return tuple(sorted({k for n in names for k in n.records.text}))


def resolve(
    lab: ChainLab,
    name: str,
    *,
    method: str = "eth-rpc",
    namespace: str = "ens",
    registry_walk: bool = True,
) -> Observation:
    t = lab.truth
    config = NamingConfig(
        text_keys=_text_keys(lab),
        coin_types=(0,),
        uns_keys=tuple(sorted({k for n in t.uns_names for k in n.records})),
        ens_registry_walk=registry_walk,
    )
    probe = NamingProbe(config, policy=NetworkPolicy.from_env())
    options: dict[str, Any] = {"method": method, "chain_id": t.chain_id}
    if method.startswith("eth-rpc"):
        options["registry"] = t.addresses["ens_registry"]
        options["universal_resolver"] = t.addresses[t.universal.resolver]
    else:
        options["proxy_reader"] = t.addresses[t.uns_reader]
    endpoint = Endpoint(url=lab.chain.url, operator="lab", namespace=namespace, options=options)
    task = Task(
        key=f"lab:{name}",
        probe=probe.name,
        target=name,
        endpoint=endpoint,
        params={"namespace": namespace},
        # eth-rpc reads every record through the UR and walks the registry too: an
        # off-chain name costs 16 gateway round trips, over 10 s on a loaded 2-core box.
        deadline_s=30.0,
    )
    return asyncio.run(probe.measure(task))


def got(obs: Observation) -> dict[tuple[str, str | None], str]:
    return {(v["kind"], v["key"]): v["value"] for _t, v in obs.children}


def expected(records: Any) -> dict[tuple[str, str | None], str]:
    out: dict[tuple[str, str | None], str] = {}
    if records.addr:
        out[("addr", "60")] = ens.checksum(records.addr)
    for coin, value in records.coins.items():
        if coin != 60:
            out[("addr", str(coin))] = "0x" + value.hex()
    if records.contenthash_uri:
        proto = records.contenthash_uri.split("://", 1)[0]
        out[("contenthash", {"bzz": "swarm"}.get(proto, proto))] = records.contenthash_uri
    for key, value in records.text.items():
        out[("text", key)] = value
    return out


ENS_METHODS = ("eth-rpc", "eth-rpc-registry")


def agrees(obs: Observation, method: str) -> None:
    """A Universal Resolver row also walked the registry: on every planted name but
    ur.gtest.eth the two entry points agree."""
    want = True if method == "eth-rpc" else None
    assert obs.fields["registry_walk_agrees"] is want, (obs.target, obs.fields["detail"])


@pytest.mark.parametrize("method", ENS_METHODS)
def test_every_ens_name_of_the_truth_file(chain_lab: ChainLab, method: str) -> None:
    for entry in chain_lab.truth.ens_names:
        obs = resolve(chain_lab, entry.name, method=method)
        assert obs.failure is None, (entry.name, obs.failure_detail)
        agrees(obs, method)
        if entry.resolver is None:
            assert obs.fields["outcome"] == "not_found", entry.name
            continue
        assert got(obs) == expected(entry.records), entry.name
        assert obs.fields["resolver_address"].lower() == (
            chain_lab.truth.addresses[entry.resolver].lower()
        )
        assert obs.fields["block_number"] >= chain_lab.facts.block_number


@pytest.mark.parametrize("method", ENS_METHODS)
def test_ensip15_forms_of_a_non_ascii_name(chain_lab: ChainLab, method: str) -> None:
    entry = next(n for n in chain_lab.truth.ens_names if n.name == "bücher.eth")
    for form in ("Bücher.eth", "bu\u0308cher.eth"):
        obs = resolve(chain_lab, form, method=method)
        assert obs.fields["name_normalized"] == "bücher.eth" and obs.fields["name"] == form
        assert got(obs) == expected(entry.records)


@pytest.mark.parametrize("method", ENS_METHODS)
def test_unregistered_names(chain_lab: ChainLab, method: str) -> None:
    for name in chain_lab.truth.unregistered:
        obs = resolve(chain_lab, name, method=method)
        assert obs.failure is None and obs.fields["outcome"] == "not_found", name
        agrees(obs, method)
        if method == "eth-rpc":  # ENSIP-23 ResolverNotFound is "no resolver", not a failure
            assert obs.fields["detail"]["reason"].startswith("ResolverNotFound"), name


@pytest.mark.parametrize("method", ENS_METHODS)
def test_wildcard_samples(chain_lab: ChainLab, method: str) -> None:
    t = chain_lab.truth
    for entry in t.wildcard_samples:
        obs = resolve(chain_lab, entry.name, method=method)
        assert obs.failure is None, (entry.name, obs.failure_detail)
        want = expected(entry.records)
        assert {k: v for k, v in got(obs).items() if k in want} == want, entry.name
        agrees(obs, method)
        if method == "eth-rpc":
            continue
        assert obs.fields["detail"]["resolver_found_at"] == t.wildcard_parent
        assert obs.fields["wildcard"] is (entry.name != t.wildcard_parent)
        assert obs.fields["detail"]["ensip10"] is True


@pytest.mark.parametrize("method", ENS_METHODS)
def test_offchain_names_through_the_lab_gateway(chain_lab: ChainLab, method: str) -> None:
    for entry in chain_lab.truth.offchain_names:
        obs = resolve(chain_lab, entry.name, method=method)
        if entry.gateway == "ok":
            assert obs.failure is None, (entry.name, obs.failure_detail)
            assert got(obs) == expected(entry.records), entry.name
            assert obs.fields["offchain"] is True
            assert obs.fields["detail"]["gateways"][0].startswith(chain_lab.gateway.url)
            agrees(obs, method)
        else:  # http-500 and bad-binding: the lookup failed, not "no records"
            assert obs.failure == Failure.ETH_OFFCHAIN_LOOKUP_ERROR, entry.name
            # Through the UR (ENSIP-23): HttpError from the batch gateway's answer, and
            # ResolverError when the resolver's callback refused the gateway's answer.
            refused = "callback" if method == "eth-rpc-registry" else "ResolverError"
            reason = {"http-500": "HTTP 500", "bad-binding": refused}[entry.gateway]
            assert reason in (obs.failure_detail or ""), (entry.name, obs.failure_detail)


def test_uns_names_through_the_proxy_reader(chain_lab: ChainLab) -> None:
    t = chain_lab.truth
    for entry in t.uns_names:
        obs = resolve(chain_lab, entry.name, method="uns", namespace="unstoppable")
        assert obs.failure is None, (entry.name, obs.failure_detail)
        assert got(obs) == {("uns", k): v for k, v in entry.records.items()}, entry.name
        assert obs.fields["resolver_address"].lower() == t.addresses[t.uns_reader].lower()
    for name in t.uns_unminted:
        obs = resolve(chain_lab, name, method="uns", namespace="unstoppable")
        assert obs.failure is None and obs.fields["outcome"] == "not_found", name


def test_ur_gtest_eth_tells_the_two_entry_points_apart(chain_lab: ChainLab) -> None:
    """ENS's ur.gtest.eth, reproduced: the Universal Resolver gets via_ur, the registry
    walk via_walk, and the UR row records that the walk disagrees."""
    u = chain_lab.truth.universal
    via_ur = resolve(chain_lab, u.test_name)
    assert via_ur.failure is None, via_ur.failure_detail
    assert got(via_ur)[("addr", "60")] == ens.checksum(u.via_ur)
    assert got(via_ur)[("text", "description")] == "via the Universal Resolver"
    assert via_ur.fields["registry_walk_agrees"] is False
    walk = via_ur.fields["detail"]["registry_walk"]
    assert walk["values"]["addr"]["60"] == ens.checksum(u.via_walk)
    walked = resolve(chain_lab, u.test_name, method="eth-rpc-registry")
    assert got(walked)[("addr", "60")] == ens.checksum(u.via_walk)
    assert walked.fields["registry_walk_agrees"] is None
