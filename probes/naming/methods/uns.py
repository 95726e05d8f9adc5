"""``uns``: Unstoppable Domains records by eth_call ``getMany(keys, tokenId)``. Does I/O.

tokenId = uint256(namehash(name)) with the EIP-137 namehash (UD docs, "Namehashing").
The contract is the chain's ProxyReader from data/uns.toml, chosen by the endpoint's
chain id, or the endpoint's ``proxy_reader`` option (a UNSRegistry answers the same call).
Empty strings mean "no record"; a token with no owner (``ownerOf`` reverts, or answers
the zero address through a ProxyReader) is ``not_found``.
"""

from __future__ import annotations

import tomllib
from functools import cache

from fragscope.probes.naming import ens
from fragscope.probes.naming.jsonrpc import EthRpc, Revert, RpcError
from fragscope.probes.naming.methods.base import (
    NO_RECORDS,
    NOT_FOUND,
    RESOLVED,
    MethodResult,
    Request,
    Value,
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


async def resolve_uns(req: Request) -> MethodResult:
    rpc = EthRpc(req.endpoint, policy=req.policy, timeout=req.timeout, headers=req.headers)
    chain_id = await rpc.chain_id()
    expected = req.options.get("chain_id")
    if expected is not None and int(expected) != chain_id:
        raise RpcError(f"wrong chain id: endpoint says {chain_id}, campaign expects {expected}")
    reader = req.options.get("proxy_reader") or proxy_readers().get(chain_id)
    if not reader:
        raise RpcError(f"no UNS ProxyReader known for chain {chain_id} (data/uns.toml)")
    block = await rpc.block_number()
    token = int.from_bytes(ens.namehash(req.name), "big")
    keys = list(req.uns_keys or DEFAULT_KEYS)
    out = await rpc.eth_call(str(reader), ens.UNS_GET_MANY.encode(keys, token), block=block)
    try:
        (records,) = ens.UNS_GET_MANY.decode(out)
    except Exception as exc:
        raise RpcError(f"getMany returned undecodable data 0x{out.hex()[:200]}") from exc
    if len(records) != len(keys):
        raise RpcError(f"getMany returned {len(records)} values for {len(keys)} keys")
    values = [Value("uns", k, v) for k, v in zip(keys, records, strict=True) if v]
    result = MethodResult(
        outcome=RESOLVED if values else NO_RECORDS,
        values=values,
        chain_id=chain_id,
        block_number=block,
        resolver_address=ens.checksum(str(reader)),
        detail={"token_id": hex(token)},
    )
    if not values:
        # The registry's ownerOf reverts for an unminted token; the ProxyReader's
        # answers the zero address instead. Both mean "not found".
        try:
            out = await rpc.eth_call(str(reader), OWNER_OF.encode(token), block=block)
            owner = OWNER_OF.decode(out)[0] if len(out) == 32 else None
            if owner is not None and int(owner, 16) == 0:
                result.outcome = NOT_FOUND
        except Revert:
            result.outcome = NOT_FOUND
    result.detail["rpc_calls"] = rpc.calls
    return result
