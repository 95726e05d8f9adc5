"""``eth-rpc``: ENS resolution by raw eth_call (EIP-137, ENSIP-10, EIP-1577, EIP-3668). Does I/O.

The algorithm, with the spec section each step follows:
1. eth_chainId (checked against the endpoint's ``chain_id`` option) and eth_blockNumber;
   every later call is pinned to that block so the answer is one consistent state.
2. ENSIP-10 "Specification": walk up from the name asking the registry's
   ``resolver(bytes32)`` until a non-zero resolver is found.
3. If the resolver supports ``0x9061b923`` (ERC-165), every record is read through
   ``resolve(dnsencode(name), calldata)`` with the *original* name's node; otherwise the
   legacy functions are called, but only on an exact match (a wildcard match without
   ENSIP-10 is "not found": clients MUST NOT call legacy methods then).
4. Records: ``addr(bytes32)``, ``addr(bytes32,uint256)`` per coin type (ENSIP-9),
   ``contenthash(bytes32)`` decoded per EIP-1577, ``text(bytes32,string)`` per key.
5. Any eth_call reverting with ``OffchainLookup`` is followed through the CCIP-read
   gateway (EIP-3668 "Client Lookup Protocol"): sender check, URL template, callback.
When the endpoint names a Universal Resolver (``universal_resolver`` option), steps 2-3
are the UR's ``resolve(bytes,bytes)`` instead.
"""

from __future__ import annotations

import json
from typing import Any

from eth_abi.abi import encode as abi_encode

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.errors import MeasurementError
from fragscope.probes.naming import contenthash, ens, http
from fragscope.probes.naming.jsonrpc import EthRpc, Revert, RpcError
from fragscope.probes.naming.methods.base import (
    NO_RECORDS,
    NOT_FOUND,
    RESOLVED,
    MethodResult,
    Request,
    Value,
)

CCIP_MAX_DEPTH = 4
"""EIP-3668 lets lookups nest (ENSIP-17 does); bound it so a hostile contract cannot loop."""


class OffchainError(MeasurementError):
    def __init__(self, detail: str) -> None:
        super().__init__(Failure.ETH_OFFCHAIN_LOOKUP_ERROR, Operation.HTTP_REQUEST, detail)


class _Session:
    """One resolution: the RPC, the pinned block, and what CCIP did."""

    def __init__(self, rpc: EthRpc, req: Request, block: int) -> None:
        self.rpc = rpc
        self.req = req
        self.block = block
        self.offchain = False
        self.gateways: list[str] = []

    async def call(self, to: str, data: bytes, *, depth: int = 0) -> bytes:
        """eth_call that follows OffchainLookup reverts (EIP-3668)."""
        try:
            return await self.rpc.eth_call(to, data, block=self.block)
        except Revert as rev:
            if rev.data[:4] != ens.OFFCHAIN_LOOKUP:
                raise
            if depth >= CCIP_MAX_DEPTH:
                raise OffchainError(f"more than {CCIP_MAX_DEPTH} nested OffchainLookups") from rev
            try:
                lookup = ens.decode_offchain_lookup(rev.data)
            except Exception as exc:
                raise OffchainError(f"undecodable OffchainLookup: {exc}") from exc
            # EIP-3668: "the client MUST check that sender matches the contract called".
            if lookup.sender.lower() != to.lower():
                raise OffchainError(
                    f"OffchainLookup sender {lookup.sender} is not the called contract {to}"
                ) from rev
            self.offchain = True
            response = await self._fetch(lookup)
            callback_data = lookup.callback + abi_encode(
                ["bytes", "bytes"], [response, lookup.extra_data]
            )
            try:
                return await self.call(to, callback_data, depth=depth + 1)
            except Revert as cb:
                # The contract rejected the gateway's answer (e.g. a bad signature or
                # binding): the lookup failed, it is not "no such record".
                raise OffchainError(
                    f"callback 0x{lookup.callback.hex()} reverted: {ens.revert_reason(cb.data)}"
                ) from cb

    async def _fetch(self, lookup: ens.OffchainLookup) -> bytes:
        """Ask the gateways in order; 4xx stops, 5xx or failure tries the next (EIP-3668)."""
        if not lookup.urls:
            raise OffchainError("OffchainLookup lists no gateway URL")
        errors = []
        sender = lookup.sender.lower()
        data_hex = "0x" + lookup.call_data.hex()
        for template in lookup.urls:
            url = template.replace("{sender}", sender).replace("{data}", data_hex)
            self.gateways.append(url)
            try:
                if "{data}" in template:
                    resp = await http.request(
                        "GET",
                        url,
                        policy=self.req.policy,
                        headers=dict(self.req.headers),
                        timeout=self.req.timeout,
                    )
                else:
                    body = json.dumps({"data": data_hex, "sender": sender}).encode()
                    resp = await http.request(
                        "POST",
                        url,
                        policy=self.req.policy,
                        body=body,
                        headers={**self.req.headers, "Content-Type": "application/json"},
                        timeout=self.req.timeout,
                    )
            except MeasurementError as exc:
                errors.append(f"{url}: {exc.failure}: {exc.detail}")
                continue
            if 400 <= resp.status < 500:
                raise OffchainError(f"{url}: gateway answered HTTP {resp.status}")
            if resp.status != 200:
                errors.append(f"{url}: HTTP {resp.status}")
                continue
            try:
                doc = json.loads(resp.body)
                value = doc["data"]
                if not (isinstance(value, str) and value.startswith("0x")):
                    raise ValueError("data is not 0x-hex")
                return bytes.fromhex(value[2:])
            except (ValueError, KeyError, TypeError) as exc:
                errors.append(f"{url}: bad gateway response ({exc}): {resp.body[:120]!r}")
        raise OffchainError("; ".join(errors)[:1000])


def _is_zero(addr: str) -> bool:
    return int(addr, 16) == 0


async def _supports(s: _Session, resolver: str, iface: bytes) -> bool:
    try:
        out = await s.call(resolver, ens.SUPPORTS_INTERFACE.encode(iface))
        return bool(ens.SUPPORTS_INTERFACE.decode(out)[0])
    except (Revert, OffchainError):
        return False
    except Exception as exc:  # eth-abi decoding of a garbage answer: not ENSIP-10
        if isinstance(exc, MeasurementError):
            raise
        return False


async def _find_resolver(s: _Session, registry: str, name: str) -> tuple[str | None, str]:
    current = name
    while True:
        out = await s.call(registry, ens.RESOLVER.encode(ens.namehash(current)))
        try:
            (resolver,) = ens.RESOLVER.decode(out)
        except Exception as exc:
            raise RpcError(f"registry resolver() returned garbage: 0x{out.hex()[:200]}") from exc
        if not _is_zero(resolver):
            return ens.checksum(resolver), current
        if not current:
            return None, current
        current = ens.parent(current)


async def _record(
    s: _Session, resolver: str, call: ens.Call, args: list[Any], *, name: str, extended: bool
) -> tuple[Any, ...] | None:
    """One record; None when the resolver does not have it (revert or empty answer)."""
    inner = call.encode(*args)
    try:
        if extended:
            out = await s.call(resolver, ens.RESOLVE.encode(ens.dns_encode(name), inner))
            (out,) = ens.RESOLVE.decode(out)
        else:
            out = await s.call(resolver, inner)
    except Revert:
        return None
    if not out:
        return None
    try:
        return call.decode(out)
    except Exception as exc:
        raise RpcError(f"{call.signature} returned undecodable data 0x{out.hex()[:200]}") from exc


async def _read_records(s: _Session, resolver: str, name: str, *, extended: bool) -> list[Value]:
    node = ens.namehash(name)
    values: list[Value] = []
    got = await _record(s, resolver, ens.ADDR, [node], name=name, extended=extended)
    if got and not _is_zero(got[0]):
        values.append(Value("addr", "60", ens.checksum(got[0])))
    for coin in s.req.coin_types:
        if coin == 60:
            continue
        got = await _record(s, resolver, ens.ADDR_COIN, [node, coin], name=name, extended=extended)
        if got and got[0]:
            values.append(Value("addr", str(coin), "0x" + got[0].hex()))
    got = await _record(s, resolver, ens.CONTENTHASH, [node], name=name, extended=extended)
    if got and got[0]:
        raw: bytes = got[0]
        try:
            decoded = contenthash.decode(raw)
            values.append(Value("contenthash", decoded.protocol, decoded.text, "0x" + raw.hex()))
        except contenthash.ContenthashError as exc:
            values.append(Value("contenthash", "undecodable", str(exc), "0x" + raw.hex()))
    for key in s.req.text_keys:
        got = await _record(s, resolver, ens.TEXT, [node, key], name=name, extended=extended)
        if got and got[0]:
            values.append(Value("text", key, got[0]))
    return values


async def resolve_ens(req: Request) -> MethodResult:
    rpc = EthRpc(req.endpoint, policy=req.policy, timeout=req.timeout, headers=req.headers)
    chain_id = await rpc.chain_id()
    expected = req.options.get("chain_id")
    if expected is not None and int(expected) != chain_id:
        raise RpcError(f"wrong chain id: endpoint says {chain_id}, campaign expects {expected}")
    block = await rpc.block_number()
    s = _Session(rpc, req, block)
    registry = str(req.options.get("registry") or ens.REGISTRY_MAINNET)
    result = MethodResult(outcome=NOT_FOUND, chain_id=chain_id, block_number=block)
    ur = req.options.get("universal_resolver")
    if ur:
        values, resolver, answered = await _resolve_universal(s, str(ur), req.name)
        result.resolver_address = resolver
        result.detail = {"universal_resolver": ens.checksum(str(ur))}
        if not answered:
            result.detail["reason"] = "the universal resolver reverted every call"
            result.detail["rpc_calls"] = rpc.calls
            return result
    else:
        resolver, found_at = await _find_resolver(s, registry, req.name)
        if resolver is None:
            result.detail = {"registry": registry, "reason": "no resolver set"}
            return result
        result.resolver_address = resolver
        extended = await _supports(s, resolver, ens.IFACE_EXTENDED_RESOLVER)
        result.wildcard = found_at != req.name
        if result.wildcard and not extended:
            result.detail = {"registry": registry, "reason": f"only {found_at!r} has a resolver"}
            return result
        values = await _read_records(s, resolver, req.name, extended=extended)
        result.detail = {"registry": registry, "resolver_found_at": found_at, "ensip10": extended}
    result.values = values
    result.offchain = s.offchain
    if s.gateways:
        result.detail["gateways"] = s.gateways
    result.detail["rpc_calls"] = rpc.calls
    result.outcome = RESOLVED if values else NO_RECORDS
    return result


async def _resolve_universal(
    s: _Session, ur: str, name: str
) -> tuple[list[Value], str | None, bool]:
    """Records through a Universal Resolver: it does ENSIP-10 itself, we follow CCIP.

    Returns the values, the resolver the UR reports, and whether any call was answered
    (a UR reverts, e.g. ResolverNotFound, for names without a resolver).
    """
    node = ens.namehash(name)
    values: list[Value] = []
    encoded = ens.dns_encode(name)
    resolver: str | None = None
    answered = False

    async def one(call: ens.Call, args: list[Any]) -> tuple[Any, ...] | None:
        nonlocal resolver, answered
        try:
            out = await s.call(ur, ens.UR_RESOLVE.encode(encoded, call.encode(*args)))
        except Revert:
            return None
        try:
            inner, reported = ens.UR_RESOLVE.decode(out)
            answered = True
            resolver = ens.checksum(str(reported))
            return call.decode(inner) if inner else None
        except Exception as exc:
            raise RpcError(f"universal resolver returned garbage 0x{out.hex()[:200]}") from exc

    got = await one(ens.ADDR, [node])
    if got and not _is_zero(got[0]):
        values.append(Value("addr", "60", ens.checksum(got[0])))
    for coin in s.req.coin_types:
        if coin == 60:
            continue
        got = await one(ens.ADDR_COIN, [node, coin])
        if got and got[0]:
            values.append(Value("addr", str(coin), "0x" + got[0].hex()))
    got = await one(ens.CONTENTHASH, [node])
    if got and got[0]:
        try:
            d = contenthash.decode(got[0])
            values.append(Value("contenthash", d.protocol, d.text, "0x" + got[0].hex()))
        except contenthash.ContenthashError as exc:
            values.append(Value("contenthash", "undecodable", str(exc), "0x" + got[0].hex()))
    for key in s.req.text_keys:
        got = await one(ens.TEXT, [node, key])
        if got and got[0]:
            values.append(Value("text", key, got[0]))
    return values, resolver, answered
