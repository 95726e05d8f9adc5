"""The chain section of the lab's truth, typed: where the chain runs (truth.toml's
``[chain]``) and what is planted on it (lab/chain/truth.toml). Reads that one file.

A malformed file raises lab.core.schema.TruthError naming the offending key, so a bad edit
is caught before anything is deployed.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fragscope.lab.core.schema import TruthError, check_ip, companion_file, get_field

TRUTH_PATH = Path(__file__).with_name("truth.toml")
GATEWAY_MODES = ("ok", "http-500", "bad-binding")


@dataclass(frozen=True)
class Records:
    """Resolver records of one ENS name (any field may be absent)."""

    addr: str | None = None
    coins: dict[int, bytes] = field(default_factory=dict)
    contenthash: bytes | None = None
    contenthash_uri: str | None = None
    text: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EnsName:
    name: str
    resolver: str | None  # a key of ChainPlan.addresses, None = registered without resolver
    records: Records


@dataclass(frozen=True)
class OffchainName:
    name: str
    gateway: str  # one of GATEWAY_MODES
    records: Records


@dataclass(frozen=True)
class UnsName:
    name: str
    records: dict[str, str]


@dataclass(frozen=True)
class UniversalPlan:
    """The Universal Resolver (ENSIP-23) and the ur.gtest.eth test name's two answers."""

    resolver: str  # a key of ChainPlan.addresses
    batch_gateways: list[str]
    test_name: str
    test_resolver: str  # a key of ChainPlan.addresses
    via_ur: str
    via_walk: str


@dataclass(frozen=True)
class ChainPlan:
    """Everything deploy plants on the chain: accounts, contract addresses, names, records."""

    chain_id: int
    hardfork: str
    deployer: str
    addresses: dict[str, str]  # insertion order = creation order (nonce)
    ens_names: list[EnsName]
    unregistered: list[str]
    wildcard_parent: str
    wildcard_resolver: str
    wildcard_samples: list[EnsName]
    offchain_parent: str
    offchain_resolver: str
    url_template: str
    offchain_names: list[OffchainName]
    universal: UniversalPlan
    uns_registry: str
    uns_reader: str
    uns_tlds: list[str]
    uns_names: list[UnsName]
    uns_unminted: list[str]

    def offchain(self, name: str) -> OffchainName | None:
        return next((n for n in self.offchain_names if n.name == name), None)


def load_plan(path: Path = TRUTH_PATH) -> ChainPlan:
    """Parse and cross-check lab/chain/truth.toml (or the file at ``path``)."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    chain = _table(data, "chain")
    ens = _table(data, "ens")
    wildcard = _table(ens, "wildcard", where="ens")
    offchain = _table(ens, "offchain", where="ens")
    universal = _table(ens, "universal", where="ens")
    uns = _table(data, "uns")
    addresses = {k: _str(v, f"addresses.{k}") for k, v in _table(data, "addresses").items()}
    truth = ChainPlan(
        chain_id=_int(chain.get("chain_id"), "chain.chain_id"),
        hardfork=_str(chain.get("hardfork"), "chain.hardfork"),
        deployer=_str(chain.get("deployer"), "chain.deployer"),
        addresses=addresses,
        ens_names=[_ens_name(t, f"ens.names[{i}]") for i, t in enumerate(ens.get("names", []))],
        unregistered=_strs(
            _table(ens, "unregistered", where="ens").get("names"), "ens.unregistered"
        ),
        wildcard_parent=_str(wildcard.get("parent"), "ens.wildcard.parent"),
        wildcard_resolver=_str(wildcard.get("resolver"), "ens.wildcard.resolver"),
        wildcard_samples=[
            _ens_name(t, f"ens.wildcard.samples[{i}]", resolver="wildcard_resolver")
            for i, t in enumerate(wildcard.get("samples", []))
        ],
        offchain_parent=_str(offchain.get("parent"), "ens.offchain.parent"),
        offchain_resolver=_str(offchain.get("resolver"), "ens.offchain.resolver"),
        url_template=_str(offchain.get("url_template"), "ens.offchain.url_template"),
        offchain_names=[
            _offchain_name(t, f"ens.offchain.names[{i}]")
            for i, t in enumerate(offchain.get("names", []))
        ],
        universal=UniversalPlan(
            resolver=_str(universal.get("resolver"), "ens.universal.resolver"),
            batch_gateways=_strs(universal.get("batch_gateways"), "ens.universal.batch_gateways"),
            test_name=_str(universal.get("test_name"), "ens.universal.test_name"),
            test_resolver=_str(universal.get("test_resolver"), "ens.universal.test_resolver"),
            via_ur=_str(universal.get("via_ur"), "ens.universal.via_ur"),
            via_walk=_str(universal.get("via_walk"), "ens.universal.via_walk"),
        ),
        uns_registry=_str(uns.get("registry"), "uns.registry"),
        uns_reader=_str(uns.get("reader"), "uns.reader"),
        uns_tlds=_strs(uns.get("tlds"), "uns.tlds"),
        uns_names=[
            UnsName(
                name=_str(t.get("name"), f"uns.names[{i}].name"),
                records={
                    k: _str(v, f"uns.names[{i}].records.{k}")
                    for k, v in _table(t, "records", where=f"uns.names[{i}]").items()
                },
            )
            for i, t in enumerate(uns.get("names", []))
        ],
        uns_unminted=_strs(uns.get("unminted"), "uns.unminted"),
    )
    keys = (truth.wildcard_resolver, truth.offchain_resolver, truth.uns_registry)
    for key in (*keys, truth.universal.resolver, truth.universal.test_resolver):
        if key not in addresses:
            raise TruthError(f"{path}: no [addresses] entry named {key!r}")
    for entry in truth.ens_names:
        if entry.resolver is not None and entry.resolver not in addresses:
            raise TruthError(
                f"{path}: {entry.name}: resolver {entry.resolver!r} not in [addresses]"
            )
    return truth


def _ens_name(table: Any, where: str, *, resolver: str | None = None) -> EnsName:
    if not isinstance(table, dict):
        raise TruthError(f"{where} must be a table")
    res = table.get("resolver", resolver)
    return EnsName(
        name=_str(table.get("name"), f"{where}.name"),
        resolver=None if res is None else _str(res, f"{where}.resolver"),
        records=_records(table, where),
    )


def _offchain_name(table: Any, where: str) -> OffchainName:
    if not isinstance(table, dict):
        raise TruthError(f"{where} must be a table")
    mode = _str(table.get("gateway"), f"{where}.gateway")
    if mode not in GATEWAY_MODES:
        raise TruthError(f"{where}.gateway must be one of {GATEWAY_MODES}, not {mode!r}")
    return OffchainName(
        name=_str(table.get("name"), f"{where}.name"), gateway=mode, records=_records(table, where)
    )


def _records(table: dict[str, Any], where: str) -> Records:
    coins = {}
    for key, value in table.get("coins", {}).items():
        if not key.isdigit():
            raise TruthError(f"{where}.coins: coin type {key!r} must be a decimal SLIP-44 number")
        coins[int(key)] = _hex(value, f"{where}.coins.{key}")
    ch = table.get("contenthash")
    return Records(
        addr=None if table.get("addr") is None else _str(table["addr"], f"{where}.addr"),
        coins=coins,
        contenthash=None if ch is None else _hex(ch, f"{where}.contenthash"),
        contenthash_uri=table.get("contenthash_uri"),
        text={k: _str(v, f"{where}.text.{k}") for k, v in table.get("text", {}).items()},
    )


def _table(data: dict[str, Any], key: str, *, where: str = "") -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise TruthError(f"[{where + '.' if where else ''}{key}] missing or not a table")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise TruthError(f"{where} must be a non-empty string, not {value!r}")
    return value


def _int(value: Any, where: str) -> int:
    if not isinstance(value, int):
        raise TruthError(f"{where} must be an integer, not {value!r}")
    return value


def _strs(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        raise TruthError(f"{where} must be a list of strings")
    return [_str(v, f"{where}[{i}]") for i, v in enumerate(value)]


def _hex(value: Any, where: str) -> bytes:
    text = _str(value, where)
    try:
        if not text.startswith("0x"):
            raise ValueError
        return bytes.fromhex(text[2:])
    except ValueError:
        raise TruthError(f"{where} must be 0x-prefixed hex, not {text!r}") from None


@dataclass(frozen=True)
class Bridge:
    """An ENS-to-HTTP gateway bridge (lab/chain/bridge.py): where it listens, and the names
    whose outdated path it serves instead of the chain's contenthash (empty: faithful)."""

    name: str
    address: str
    port: int
    stale: dict[str, str] = field(default_factory=dict)  # ENS name -> /ipfs/CID served

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"


@dataclass(frozen=True)
class Chain:
    """The chain section: where the chain runs and (``plan``, from ``facts_path``) what is
    planted on it; the gateway bridges that read it."""

    group: str
    rpc_address: str
    rpc_port: int
    gateway_address: str
    gateway_port: int
    facts_path: Path
    plan: ChainPlan
    chain_json: str = "chain.json"
    bridges: tuple[Bridge, ...] = ()

    @property
    def rpc_url(self) -> str:
        return f"http://{self.rpc_address}:{self.rpc_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.gateway_address}:{self.gateway_port}"


def parse(t: dict[str, Any], source: Path) -> Chain:
    """truth.toml's ``[chain]`` table; ``facts`` is found next to ``source``, else here."""
    where = "chain"
    facts_path = companion_file(
        get_field(t, "facts", where), source, TRUTH_PATH.parent.parent, "chain.facts"
    )
    return Chain(
        group=get_field(t, "group", where),
        rpc_address=check_ip(get_field(t, "rpc_address", where), "chain.rpc_address"),
        rpc_port=int(get_field(t, "rpc_port", where)),
        gateway_address=check_ip(get_field(t, "gateway_address", where), "chain.gateway_address"),
        gateway_port=int(get_field(t, "gateway_port", where)),
        facts_path=facts_path,
        plan=load_plan(facts_path),
        chain_json=t.get("chain_json", "chain.json"),
        bridges=tuple(
            _bridge(b, f"chain.bridges[{i}]") for i, b in enumerate(t.get("bridges", []))
        ),
    )


def _bridge(t: Any, where: str) -> Bridge:
    if not isinstance(t, dict):
        raise TruthError(f"{where} must be a table")
    stale = t.get("stale", {})
    if not isinstance(stale, dict) or not all(
        isinstance(v, str) and v.startswith(("/ipfs/", "/ipns/")) for v in stale.values()
    ):
        raise TruthError(f"{where}.stale must map ENS names to /ipfs/... or /ipns/... paths")
    return Bridge(
        name=_str(get_field(t, "name", where), f"{where}.name"),
        address=check_ip(get_field(t, "address", where), f"{where}.address"),
        port=_int(get_field(t, "port", where), f"{where}.port"),
        stale={str(k): v for k, v in stale.items()},
    )
