"""Deploy the lab's naming contracts on a fresh ganache and plant every name of truth.toml,
then write <run_dir>/chain.json (does network I/O to the given JSON-RPC URL, and file I/O).

Order matters: the ten contracts are created first, from the deterministic deployer with
nonces 0..9, so their addresses are the ones truth.toml records; deploy_all checks them.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fragscope.lab.chain.abi import encode_call, labelhash, namehash
from fragscope.lab.chain.artifacts import Artifact, compile_contracts, npm_artifact
from fragscope.lab.chain.rpc import JsonRpc
from fragscope.lab.chain.schema import ChainPlan, Records, load_plan

ZERO_ADDRESS = "0x" + "00" * 20


class DeployError(RuntimeError):
    """The chain is not the fresh, deterministic one deploy_all expects, or a step failed."""


@dataclass
class ChainFacts:
    """What the lab's chain holds after deploy_all, as written to chain.json."""

    rpc_url: str
    chain_id: int
    client_version: str
    deployer: str
    gateway_url: str
    offchain_urls: list[str]
    addresses: dict[str, str]
    block_number: int
    transactions: int
    compile_seconds: float
    deploy_seconds: float
    ens: dict[str, Any] = field(default_factory=dict)
    uns: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


@dataclass
class _Deployer:
    rpc: JsonRpc
    sender: str
    transactions: int = 0

    def create(self, artifact: Artifact, *args: Any) -> str:
        receipt = self.rpc.transact(self.sender, artifact.creation_code(*args))
        self.transactions += 1
        address = receipt.get("contractAddress")
        if not address:
            raise DeployError(f"creating {artifact.name} gave no contract address")
        return str(address)

    def send(self, to: str, signature: str, *args: Any) -> None:
        self.rpc.transact(self.sender, encode_call(signature, *args), to=to)
        self.transactions += 1


def deploy_all(
    rpc_url: str,
    run_dir: Path,
    gateway_url: str,
    *,
    truth: ChainPlan | None = None,
    build_dir: Path | None = None,
) -> ChainFacts:
    """Deploy and register everything on the (fresh) chain at rpc_url; the OffchainResolver
    points clients at gateway_url. Compiles the lab's contracts into build_dir (default: the
    shared cache artifacts.BUILD_CACHE, reused while the sources do not change). Writes
    run_dir/chain.json."""
    truth = truth or load_plan()
    run_dir.mkdir(parents=True, exist_ok=True)
    rpc = JsonRpc(rpc_url)

    t0 = time.perf_counter()
    own = compile_contracts(build_dir)
    compile_seconds = time.perf_counter() - t0

    t1 = time.perf_counter()
    client_version, sender = _check_fresh_chain(rpc, truth)
    d = _Deployer(rpc, sender)
    offchain_urls = [truth.url_template.replace("{gateway}", gateway_url.rstrip("/"))]
    registry_art = npm_artifact("ENSRegistry")
    proxy_art = npm_artifact("ERC1967Proxy")
    created = {}
    created["ens_registry"] = d.create(registry_art)
    created["public_resolver"] = d.create(npm_artifact("PublicResolver"), created["ens_registry"])
    created["wildcard_resolver"] = d.create(own["WildcardResolver"])
    created["offchain_resolver"] = d.create(own["OffchainResolver"], offchain_urls)
    created["uns_registry_impl"] = d.create(npm_artifact("UNSRegistry"))
    init_uns = encode_call(
        "initialize(address,address,address,address)",
        sender,
        ZERO_ADDRESS,
        ZERO_ADDRESS,
        ZERO_ADDRESS,
    )
    created["uns_registry"] = d.create(proxy_art, created["uns_registry_impl"], init_uns)
    created["proxy_reader_impl"] = d.create(npm_artifact("ProxyReader"))
    init_reader = encode_call("initialize(address,address)", created["uns_registry"], ZERO_ADDRESS)
    created["proxy_reader"] = d.create(proxy_art, created["proxy_reader_impl"], init_reader)
    ur = truth.universal
    created[ur.resolver] = d.create(
        own["UniversalResolver"], created["ens_registry"], ur.batch_gateways
    )
    created[ur.test_resolver] = d.create(own["URTestResolver"], created[ur.resolver])
    _check_addresses(created, truth)
    addresses = {k: truth.addresses[k] for k in created}

    _plant_ens(d, truth, addresses)
    _plant_uns(d, truth, addresses)
    deploy_seconds = time.perf_counter() - t1

    facts = ChainFacts(
        rpc_url=rpc_url,
        chain_id=truth.chain_id,
        client_version=client_version,
        deployer=truth.deployer,
        gateway_url=gateway_url,
        offchain_urls=offchain_urls,
        addresses=addresses,
        block_number=int(rpc.call("eth_blockNumber"), 16),
        transactions=d.transactions,
        compile_seconds=round(compile_seconds, 3),
        deploy_seconds=round(deploy_seconds, 3),
        ens=_ens_facts(truth),
        uns=_uns_facts(truth),
    )
    (run_dir / "chain.json").write_text(facts.to_json())
    return facts


def _check_fresh_chain(rpc: JsonRpc, truth: ChainPlan) -> tuple[str, str]:
    chain_id = int(rpc.call("eth_chainId"), 16)
    if chain_id != truth.chain_id:
        raise DeployError(f"chain id is {chain_id}, truth.toml expects {truth.chain_id}")
    accounts = rpc.call("eth_accounts") or []
    if not accounts or accounts[0].lower() != truth.deployer.lower():
        raise DeployError(
            f"first account is {accounts[:1]}, not {truth.deployer}: start ganache with "
            "--wallet.deterministic"
        )
    nonce = int(rpc.call("eth_getTransactionCount", accounts[0], "latest"), 16)
    if nonce != 0:
        raise DeployError(
            f"deployer has sent {nonce} transactions already: deploy needs a fresh chain"
        )
    return str(rpc.call("web3_clientVersion")), str(accounts[0])


def _check_addresses(created: dict[str, str], truth: ChainPlan) -> None:
    for key, address in created.items():
        expected = truth.addresses.get(key)
        if expected is None or expected.lower() != address.lower():
            raise DeployError(f"{key} deployed at {address}, truth.toml says {expected}")


def _plant_ens(d: _Deployer, truth: ChainPlan, addresses: dict[str, str]) -> None:
    registry = addresses["ens_registry"]
    owned: set[str] = {""}

    def ensure_owned(name: str, resolver: str = ZERO_ADDRESS) -> None:
        # Create every missing ancestor first; the last label gets its resolver in the same
        # setSubnodeRecord transaction.
        labels = name.split(".")
        for i in range(len(labels) - 1, -1, -1):
            sub = ".".join(labels[i:])
            if sub in owned:
                continue
            parent = ".".join(labels[i + 1 :])
            res = resolver if i == 0 else ZERO_ADDRESS
            d.send(
                registry,
                "setSubnodeRecord(bytes32,bytes32,address,address,uint64)",
                namehash(parent),
                labelhash(labels[i]),
                d.sender,
                res,
                0,
            )
            owned.add(sub)

    for entry in truth.ens_names:
        resolver = addresses[entry.resolver] if entry.resolver else ZERO_ADDRESS
        ensure_owned(entry.name, resolver)
        if entry.resolver == "public_resolver":
            calls = _record_calls(entry.name, entry.records)
            if calls:
                d.send(addresses["public_resolver"], "multicall(bytes[])", calls)
    ensure_owned(truth.universal.test_name, addresses[truth.universal.test_resolver])
    ensure_owned(truth.wildcard_parent, addresses[truth.wildcard_resolver])
    ensure_owned(truth.offchain_parent, addresses[truth.offchain_resolver])


def _record_calls(name: str, records: Records) -> list[bytes]:
    node = namehash(name)
    calls = []
    if records.addr:
        calls.append(encode_call("setAddr(bytes32,address)", node, records.addr))
    for coin, value in sorted(records.coins.items()):
        calls.append(encode_call("setAddr(bytes32,uint256,bytes)", node, coin, value))
    if records.contenthash is not None:
        calls.append(encode_call("setContenthash(bytes32,bytes)", node, records.contenthash))
    for key, text in records.text.items():
        calls.append(encode_call("setText(bytes32,string,string)", node, key, text))
    return calls


def _plant_uns(d: _Deployer, truth: ChainPlan, addresses: dict[str, str]) -> None:
    registry = addresses[truth.uns_registry]
    for tld in truth.uns_tlds:
        d.send(registry, "mintTLD(uint256,string)", int.from_bytes(namehash(tld), "big"), tld)
    for entry in truth.uns_names:
        keys = list(entry.records)
        d.send(
            registry,
            "mintWithRecords(address,string[],string[],string[],bool)",
            d.sender,
            entry.name.split("."),
            keys,
            [entry.records[k] for k in keys],
            False,
        )


def _records_json(records: Records) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if records.addr:
        out["addr"] = records.addr
    if records.coins:
        out["coins"] = {str(k): "0x" + v.hex() for k, v in sorted(records.coins.items())}
    if records.contenthash is not None:
        out["contenthash"] = "0x" + records.contenthash.hex()
        out["contenthash_uri"] = records.contenthash_uri
    if records.text:
        out["text"] = dict(records.text)
    return out


def _ens_facts(truth: ChainPlan) -> dict[str, Any]:
    return {
        "names": {
            n.name: {"resolver": n.resolver, "node": "0x" + namehash(n.name).hex()}
            | _records_json(n.records)
            for n in truth.ens_names
        },
        "unregistered": list(truth.unregistered),
        "wildcard": {
            "parent": truth.wildcard_parent,
            "resolver": truth.wildcard_resolver,
            "samples": {s.name: _records_json(s.records) for s in truth.wildcard_samples},
        },
        "universal": {
            "resolver": truth.universal.resolver,
            "batch_gateways": truth.universal.batch_gateways,
            "test_name": truth.universal.test_name,
            "via_ur": truth.universal.via_ur,
            "via_walk": truth.universal.via_walk,
        },
        "offchain": {
            "parent": truth.offchain_parent,
            "resolver": truth.offchain_resolver,
            "names": {
                n.name: {"gateway": n.gateway} | _records_json(n.records)
                for n in truth.offchain_names
            },
        },
    }


def _uns_facts(truth: ChainPlan) -> dict[str, Any]:
    return {
        "registry": truth.uns_registry,
        "reader": truth.uns_reader,
        "tlds": {t: hex(int.from_bytes(namehash(t), "big")) for t in truth.uns_tlds},
        "names": {
            n.name: {"token_id": hex(int.from_bytes(namehash(n.name), "big")), "records": n.records}
            for n in truth.uns_names
        },
        "unminted": list(truth.uns_unminted),
    }
