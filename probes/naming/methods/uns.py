"""``uns``: Unstoppable Domains records by eth_call ``getMany(keys, tokenId)``. Does I/O.

tokenId = uint256(namehash(name)) with the EIP-137 namehash (UD docs, "Namehashing").
The contract is the chain's ProxyReader from data/uns.toml, chosen by the endpoint's
chain id, or the endpoint's ``proxy_reader`` option (a UNSRegistry answers the same call).
Empty strings mean "no record"; a token with no owner (``ownerOf`` reverts, or answers
the zero address through a ProxyReader) is ``not_found``.

UNS lives on several chains: Ethereum (L1), Polygon and Base (L2s). ``options.layers``
names the L2 JSON-RPC endpoints read with the endpoint's chain, combined as Unstoppable's
own library (@unstoppabledomains/resolution 9.3.3, ``Uns.get``) does: the L2 answer when
its owner is non-zero, else L1's.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from fragscope.probes.naming import ens
from fragscope.probes.naming.jsonrpc import EthRpc, Revert, RpcError
from fragscope.probes.naming.methods.base import (
    NO_RECORDS,
    NOT_FOUND,
    RESOLVED,
    MethodResult,
    Request,
    Value,
    transport_url,
)
from fragscope.probes.naming.namespaces import DATA_DIR

OWNER_OF = ens.Call("ownerOf(uint256)", ("address",))

DEFAULT_KEYS = (
    "crypto.ETH.address",
    "crypto.BTC.address",
    "dweb.ipfs.hash",
    "ipfs.html.value",
    "browser.redirect_url",
)


@cache
def proxy_readers() -> dict[int, str]:
    """chain id -> ProxyReader address, from data/uns.toml."""
    doc = tomllib.loads((DATA_DIR / "uns.toml").read_text(encoding="utf-8"))
    return {int(c["chain_id"]): str(c["proxy_reader"]) for c in doc["chain"].values()}


@dataclass(frozen=True, slots=True)
class Layer:
    """One chain's answer for a token: who owns it and its non-empty records."""

    chain_id: int
    block: int
    reader: str
    owner: str | None
    """The owner, the zero address when the token is not minted there; None when the
    contract could not say (a registry whose ownerOf answered garbage)."""
    values: list[Value]
    calls: int


async def _read_layer(
    req: Request, url: str, options: Mapping[str, Any], token: int, keys: list[str]
) -> Layer:
    """getMany(keys, tokenId) and ownerOf(tokenId) on one chain, at one block."""
    rpc = EthRpc(url, policy=req.policy, timeout=req.timeout, headers=req.headers)
    chain_id = await rpc.chain_id()
    expected = options.get("chain_id")
    if expected is not None and int(expected) != chain_id:
        raise RpcError(f"wrong chain id: {url} says {chain_id}, campaign expects {expected}")
    reader = options.get("proxy_reader") or proxy_readers().get(chain_id)
    if not reader:
        raise RpcError(f"no UNS ProxyReader known for chain {chain_id} (data/uns.toml)")
    block = await rpc.block_number()
    out = await rpc.eth_call(str(reader), ens.UNS_GET_MANY.encode(keys, token), block=block)
    try:
        (records,) = ens.UNS_GET_MANY.decode(out)
    except Exception as exc:
        raise RpcError(f"getMany returned undecodable data 0x{out.hex()[:200]}") from exc
    if len(records) != len(keys):
        raise RpcError(f"getMany returned {len(records)} values for {len(keys)} keys")
    values = [Value("uns", k, v) for k, v in zip(keys, records, strict=True) if v]
    owner: str | None = None
    try:
        # The registry's ownerOf reverts for an unminted token; the ProxyReader's answers
        # the zero address instead. Both mean "not minted on this chain".
        out = await rpc.eth_call(str(reader), OWNER_OF.encode(token), block=block)
        owner = str(OWNER_OF.decode(out)[0]) if len(out) == 32 else None
    except Revert:
        owner = ens.ZERO_ADDRESS
    return Layer(chain_id, block, ens.checksum(str(reader)), owner, values, rpc.calls)


def _minted(layer: Layer) -> bool:
    return layer.owner is not None and int(layer.owner, 16) != 0


async def resolve_uns(req: Request) -> MethodResult:
    """The endpoint's chain (L1), and each of ``options.layers`` (L2s: Polygon, Base), read
    as UD's resolution library combines them: the first L2 whose owner is non-zero wins,
    else L1. A failing L2 fails the row, as in UD's library (docs/naming.md, "UNS layers")."""
    token = int.from_bytes(ens.namehash(req.name), "big")
    keys = list(req.uns_keys or DEFAULT_KEYS)
    l1 = await _read_layer(req, req.endpoint, req.options, token, keys)
    l2s = [
        await _read_layer(req, transport_url(str(layer["url"])), layer, token, keys)
        for layer in _layer_options(req.options)
    ]
    chosen = next((layer for layer in l2s if _minted(layer)), l1)
    outcome = RESOLVED if chosen.values else NO_RECORDS
    if not chosen.values and chosen.owner is not None and not _minted(chosen):
        outcome = NOT_FOUND
    detail: dict[str, Any] = {"token_id": hex(token)}
    if l2s:
        detail["layers"] = [
            {"chain_id": x.chain_id, "block": x.block, "owner": x.owner, "reader": x.reader}
            for x in (l1, *l2s)
        ]
        detail["layer_chain_id"] = chosen.chain_id
    detail["rpc_calls"] = sum(x.calls for x in (l1, *l2s))
    return MethodResult(
        outcome=outcome,
        values=chosen.values,
        chain_id=chosen.chain_id,
        block_number=chosen.block,
        resolver_address=chosen.reader,
        detail=detail,
    )


def _layer_options(options: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """``options.layers``: tables with ``url`` (eth+http(s)://), ``chain_id`` (checked) and
    an optional ``proxy_reader``; a malformed entry is a clear error, not a crash."""
    layers = options.get("layers") or []
    if not isinstance(layers, list) or not all(
        isinstance(x, Mapping) and isinstance(x.get("url"), str) for x in layers
    ):
        raise RpcError("options.layers must be a list of tables with a url")
    return layers
