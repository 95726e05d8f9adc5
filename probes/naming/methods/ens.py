"""ENS resolution by raw eth_call (EIP-137, ENSIP-10, EIP-1577, EIP-3668, ENSIP-21/23). Does I/O.

Two methods, two entry points (docs/naming.md, "ENS entry points"):

- ``eth-rpc`` asks the ENSIP-23 Universal Resolver (UR), as ENS's clients do today: the
  endpoint's ``universal_resolver`` option, else ENS's proxy on mainnet
  (``ens.UNIVERSAL_RESOLVER_MAINNET``). The UR finds the resolver and speaks ENSIP-10 on
  chain; its errors are decoded per ENSIP-23 (ResolverNotFound/ResolverNotContract: the
  name has no resolver, ``not_found``; UnsupportedResolverProfile: no such record;
  HttpError, or a ResolverError after a gateway answered: ``eth_offchain_lookup_error``).
  When the request asks for it (``Request.compare_registry_walk``), the registry walk
  below runs too, at the same block, and the row records whether both answers agree.
- ``eth-rpc-registry`` walks the registry itself (the pre-UR client algorithm):

The walk, with the spec section each step follows:
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
   A lookup listing ``x-batch-gateway:true`` (the UR's) is answered by a local ENSIP-21
   batch gateway: each inner request is fetched per EIP-3668 and failures are encoded as
   ENSIP-21 says (HttpError(status, message), else Error(string)).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from eth_abi.abi import decode as abi_decode
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
    summary,
)

CCIP_MAX_DEPTH = 4
"""EIP-3668 lets lookups nest (ENSIP-17 does); bound it so a hostile contract cannot loop."""

BATCH_MAX_REQUESTS = 16
"""ENSIP-21 "Security Considerations": a batch gateway should curtail how many requests it
makes; a UR batches one lookup per call, so more than this is hostile."""


class OffchainError(MeasurementError):
    """The lookup failed; ``status`` is the gateway's HTTP status when it answered one."""

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(Failure.ETH_OFFCHAIN_LOOKUP_ERROR, Operation.HTTP_REQUEST, detail)
        self.status = status


class NoUniversalResolver(RpcError):
    """The chain has no known Universal Resolver and the endpoint names none."""


class _Session:
    """One resolution: the RPC, the pinned block, and what CCIP did."""

    def __init__(self, rpc: EthRpc, req: Request, chain_id: int, block: int) -> None:
        self.rpc = rpc
        self.req = req
        self.chain_id = chain_id
        self.block = block
        self.offchain = False
        self.lookups = 0
        """OffchainLookups followed so far (a UR error after one is a gateway failure)."""
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
            self.lookups += 1
            if ens.LOCAL_BATCH_GATEWAY in lookup.urls:
                # ENSIP-21: "the client should always use the local gateway and ignore
                # the other options".
                response = await self._local_batch_gateway(lookup.call_data, depth=0)
            else:
                response = await self._fetch(lookup.sender, lookup.urls, lookup.call_data)
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

    async def _local_batch_gateway(self, call_data: bytes, *, depth: int) -> bytes:
        """ENSIP-21 "Specification": answer ``query(Request[])`` here, each request by
        EIP-3668, in sequence (politeness); a failed request is ``failures[i] = true`` with
        HttpError(status, message) when a gateway answered an HTTP error, else Error(string)."""
        if call_data[:4] != ens.BATCH_QUERY_SELECTOR:
            raise OffchainError(
                f"{ens.LOCAL_BATCH_GATEWAY} lookup whose calldata is not query(Request[]): "
                f"0x{call_data[:4].hex()}"
            )
        try:
            (requests,) = abi_decode([ens.BATCH_REQUEST_TYPE], call_data[4:])
        except Exception as exc:  # eth-abi's family of decoding errors
            raise OffchainError(f"undecodable batch gateway query: {exc}") from exc
        if len(requests) > BATCH_MAX_REQUESTS:
            raise OffchainError(f"batch gateway query of {len(requests)} requests")
        failures: list[bool] = []
        responses: list[bytes] = []
        for sender, urls, data in requests:
            try:
                if ens.LOCAL_BATCH_GATEWAY in urls:
                    if depth >= CCIP_MAX_DEPTH:
                        raise OffchainError(f"batch gateway queries nested over {depth}")
                    responses.append(await self._local_batch_gateway(data, depth=depth + 1))
                else:
                    responses.append(await self._fetch(str(sender), tuple(urls), data))
                failures.append(False)
            except OffchainError as exc:
                failures.append(True)
                responses.append(
                    ens.encode_http_error(exc.status, exc.detail)
                    if exc.status
                    else ens.encode_error_string(exc.detail)
                )
        return abi_encode(ens.BATCH_RESPONSE_TYPES, [failures, responses])

    async def _fetch(self, sender: str, urls: tuple[str, ...], call_data: bytes) -> bytes:
        """Ask the gateways in order; 4xx stops, 5xx or failure tries the next (EIP-3668)."""
        if not urls:
            raise OffchainError("OffchainLookup lists no gateway URL")
        errors = []
        status: int | None = None
        sender = sender.lower()
        data_hex = "0x" + call_data.hex()
        for template in urls:
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
                raise OffchainError(
                    f"{url}: gateway answered HTTP {resp.status}", status=resp.status
                )
            if resp.status != 200:
                errors.append(f"{url}: HTTP {resp.status}")
                status = resp.status
                continue
            try:
                doc = json.loads(resp.body)
                value = doc["data"]
                if not (isinstance(value, str) and value.startswith("0x")):
                    raise ValueError("data is not 0x-hex")
                return bytes.fromhex(value[2:])
            except (ValueError, KeyError, TypeError) as exc:
                errors.append(f"{url}: bad gateway response ({exc}): {resp.body[:120]!r}")
        raise OffchainError("; ".join(errors)[:1000], status=status)


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


Reader = Callable[[ens.Call, list[Any]], Awaitable[tuple[Any, ...] | None]]
"""Reads one record (a call and its arguments); None when the name does not have it."""


async def _read_records(s: _Session, resolver: str, name: str, *, extended: bool) -> list[Value]:
    async def one(call: ens.Call, args: list[Any]) -> tuple[Any, ...] | None:
        return await _record(s, resolver, call, args, name=name, extended=extended)

    return await _records(s, one, ens.namehash(name))


async def _records(s: _Session, one: Reader, node: bytes) -> list[Value]:
    """addr (ETH), addr per ENSIP-9 coin type, contenthash (EIP-1577), text (ENSIP-5)."""
    values: list[Value] = []
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
        raw: bytes = got[0]
        try:
            decoded = contenthash.decode(raw)
            values.append(Value("contenthash", decoded.protocol, decoded.text, "0x" + raw.hex()))
        except contenthash.ContenthashError as exc:
            values.append(Value("contenthash", "undecodable", str(exc), "0x" + raw.hex()))
    for key in s.req.text_keys:
        got = await one(ens.TEXT, [node, key])
        if got and got[0]:
            values.append(Value("text", key, got[0]))
    return values


async def _open(req: Request) -> _Session:
    """The session: chain id checked against ``options.chain_id``, block pinned."""
    rpc = EthRpc(req.endpoint, policy=req.policy, timeout=req.timeout, headers=req.headers)
    chain_id = await rpc.chain_id()
    expected = req.options.get("chain_id")
    if expected is not None and int(expected) != chain_id:
        raise RpcError(f"wrong chain id: endpoint says {chain_id}, campaign expects {expected}")
    return _Session(rpc, req, chain_id, await rpc.block_number())


def _finish(s: _Session, result: MethodResult) -> MethodResult:
    result.chain_id = s.chain_id
    result.block_number = s.block
    result.offchain = s.offchain
    if s.gateways:
        result.detail["gateways"] = s.gateways
    result.detail["rpc_calls"] = s.rpc.calls
    return result


def universal_resolver_for(options: Any, chain_id: int) -> str:
    """The UR to ask: the endpoint's ``universal_resolver``, else ENS's on mainnet."""
    ur = options.get("universal_resolver")
    if ur:
        return ens.checksum(str(ur))
    if chain_id == 1:
        return ens.UNIVERSAL_RESOLVER_MAINNET
    raise NoUniversalResolver(
        f"no Universal Resolver known for chain {chain_id}: set the endpoint's "
        "options.universal_resolver, or use method eth-rpc-registry"
    )


async def resolve_ens(req: Request) -> MethodResult:
    """``eth-rpc``: through the Universal Resolver (ENSIP-23), optionally compared with
    the registry walk at the same block."""
    s = await _open(req)
    ur = universal_resolver_for(req.options, s.chain_id)
    result = _finish(s, await _resolve_universal(s, ur, req.name))
    if req.compare_registry_walk:
        walk = _Session(s.rpc, req, s.chain_id, s.block)
        try:
            other = _finish(walk, await _walk_registry(walk, req.name))
            result.registry_walk_agrees = same_answer(result, other)
            result.detail["registry_walk"] = {
                "outcome": other.outcome,
                "values": summary(other.values),
                "resolver": other.resolver_address,
            }
        except MeasurementError as exc:
            # The UR answered and the walk did not: they disagree (a UR-only name).
            result.registry_walk_agrees = False
            result.detail["registry_walk"] = {"failure": str(exc.failure), "detail": exc.detail}
        result.detail["rpc_calls"] = s.rpc.calls
    return result


async def resolve_ens_registry(req: Request) -> MethodResult:
    """``eth-rpc-registry``: the client-side registry walk (ENSIP-10), no UR."""
    s = await _open(req)
    return _finish(s, await _walk_registry(s, req.name))


def same_answer(a: MethodResult, b: MethodResult) -> bool:
    """Both entry points gave the same outcome and the same values (order aside)."""
    key = [(v.kind, v.key, v.value) for v in a.values]
    other = [(v.kind, v.key, v.value) for v in b.values]
    return a.outcome == b.outcome and sorted(key) == sorted(other)


async def _walk_registry(s: _Session, name: str) -> MethodResult:
    registry = str(s.req.options.get("registry") or ens.REGISTRY_MAINNET)
    result = MethodResult(outcome=NOT_FOUND)
    resolver, found_at = await _find_resolver(s, registry, name)
    if resolver is None:
        result.detail = {"registry": registry, "reason": "no resolver set"}
        return result
    result.resolver_address = resolver
    extended = await _supports(s, resolver, ens.IFACE_EXTENDED_RESOLVER)
    result.wildcard = found_at != name
    if result.wildcard and not extended:
        result.detail = {"registry": registry, "reason": f"only {found_at!r} has a resolver"}
        return result
    result.values = await _read_records(s, resolver, name, extended=extended)
    result.detail = {"registry": registry, "resolver_found_at": found_at, "ensip10": extended}
    result.outcome = RESOLVED if result.values else NO_RECORDS
    return result


class _NoResolver(Exception):
    """ENSIP-23 ResolverNotFound / ResolverNotContract: the name has no usable resolver."""


def _ur_revert(s: _Session, rev: Revert, lookups_before: int, reverts: list[str]) -> None:
    """Classify a UR revert per ENSIP-23 "Resolution Errors" and "Resolver Errors".

    Returns (the record is absent, the revert noted in ``reverts``) or raises: _NoResolver
    for a name without a resolver, OffchainError for a gateway failure (HttpError; any
    other revert once a gateway was asked. A UR callback that reverts, e.g. ResolverError
    when the resolver refused the gateway's signature or binding, is already an
    OffchainError from _Session.call, as on the registry walk)."""
    data, sel = rev.data, rev.data[:4]
    if sel in (ens.UR_RESOLVER_NOT_FOUND, ens.UR_RESOLVER_NOT_CONTRACT):
        name = "ResolverNotFound" if sel == ens.UR_RESOLVER_NOT_FOUND else "ResolverNotContract"
        raise _NoResolver(name)
    if sel == ens.HTTP_ERROR or s.lookups > lookups_before:
        raise OffchainError(f"universal resolver: {ens.revert_reason(data)}") from rev
    if sel != ens.UR_UNSUPPORTED_PROFILE:
        reverts.append(ens.revert_reason(data))


async def _resolve_universal(s: _Session, ur: str, name: str) -> MethodResult:
    """Records through a Universal Resolver: it does ENSIP-10 itself, we follow CCIP."""
    node = ens.namehash(name)
    encoded = ens.dns_encode(name)
    result = MethodResult(outcome=NOT_FOUND, detail={"universal_resolver": ur})
    reverts: list[str] = []
    answered = False

    async def one(call: ens.Call, args: list[Any]) -> tuple[Any, ...] | None:
        nonlocal answered
        before = s.lookups
        try:
            out = await s.call(ur, ens.UR_RESOLVE.encode(encoded, call.encode(*args)))
        except Revert as rev:
            _ur_revert(s, rev, before, reverts)
            return None
        try:
            inner, reported = ens.UR_RESOLVE.decode(out)
            answered = True
            result.resolver_address = ens.checksum(str(reported))
            return call.decode(inner) if inner else None
        except Exception as exc:
            raise RpcError(f"universal resolver returned garbage 0x{out.hex()[:200]}") from exc

    try:
        result.values = await _records(s, one, node)
    except _NoResolver as exc:
        result.detail["reason"] = f"{exc} (ENSIP-23)"
        return result
    if reverts:
        result.detail["reverts"] = reverts[:10]
        if not answered:
            # Not one ENSIP-23 answer or resolution error: a broken or non-UR contract.
            raise RpcError(f"the universal resolver reverted every call: {reverts[0]}"[:500])
    # Every call UnsupportedResolverProfile: the resolver exists and holds none of them.
    result.outcome = RESOLVED if result.values else NO_RECORDS
    return result
