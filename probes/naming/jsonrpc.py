"""An Ethereum JSON-RPC client (eth_call, eth_chainId, eth_blockNumber). Does I/O.

Every way a node can be wrong -- HTTP errors, JSON-RPC ``error`` objects, reverts,
non-JSON, a ``result`` that is not hex -- becomes ``eth_rpc_error`` with the detail, or
:class:`Revert` carrying the revert data, which the ENS code needs for EIP-3668.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping
from typing import Any

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.errors import MeasurementError
from fragscope.probes.naming import http
from fragscope.probes.safety import NetworkPolicy

_HEX = re.compile(r"^0x[0-9a-fA-F]*$")


class RpcError(MeasurementError):
    def __init__(self, detail: str) -> None:
        super().__init__(Failure.ETH_RPC_ERROR, Operation.ETH_CALL, detail)


class Revert(RpcError):
    """eth_call reverted; ``data`` is the revert payload (may be empty)."""

    def __init__(self, data: bytes, message: str = "") -> None:
        super().__init__(f"execution reverted: {message or '0x' + data.hex()}"[:500])
        self.data = data


def _hex_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, str) or not _HEX.match(value) or len(value) % 2:
        raise RpcError(f"{what} is not 0x-hex bytes: {str(value)[:200]!r}")
    return bytes.fromhex(value[2:])


def _quantity(value: object, what: str) -> int:
    """A JSON-RPC QUANTITY: 0x-hex without leading zeros (odd length allowed)."""
    if not isinstance(value, str) or not _HEX.match(value) or len(value) < 3:
        raise RpcError(f"{what} is not a 0x-hex quantity: {str(value)[:200]!r}")
    return int(value, 16)


def _revert_data(error: dict[str, Any]) -> bytes | None:
    """The revert payload inside a JSON-RPC error, in the shapes geth and ganache use."""
    data = error.get("data")
    if isinstance(data, dict):  # ganache 7 style {"data": {"result": "0x..."}} or nested
        data = data.get("data", data.get("result"))
    if isinstance(data, str) and _HEX.match(data) and len(data) % 2 == 0:
        return bytes.fromhex(data[2:])
    message = str(error.get("message", ""))
    if "revert" in message.lower():
        return b""
    return None


class EthRpc:
    """A JSON-RPC endpoint; ``calls`` counts requests made (for the row's detail)."""

    def __init__(
        self,
        url: str,
        *,
        policy: NetworkPolicy,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url
        self.policy = policy
        self.timeout = timeout
        self.headers = {**(headers or {}), "Content-Type": "application/json"}
        """The campaign's User-Agent and From (probes/politeness.py), and the body's type."""
        self.calls = 0
        self._ids = itertools.count(1)

    async def call(self, method: str, params: list[Any]) -> Any:
        self.calls += 1
        req_id = next(self._ids)
        payload = json.dumps({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params})
        try:
            resp = await http.request(
                "POST",
                self.url,
                policy=self.policy,
                body=payload.encode(),
                headers=self.headers,
                timeout=self.timeout,
            )
        except MeasurementError as exc:
            if exc.failure == Failure.HTTP_ERROR:
                raise RpcError(f"{method}: {exc.detail}") from exc
            raise
        if resp.status != 200:
            raise RpcError(f"{method}: HTTP {resp.status} {resp.reason}: {resp.body[:200]!r}")
        try:
            doc = json.loads(resp.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RpcError(f"{method}: response is not JSON: {resp.body[:200]!r}") from exc
        if not isinstance(doc, dict):
            raise RpcError(f"{method}: response is not a JSON object: {str(doc)[:200]}")
        if doc.get("id") != req_id:
            raise RpcError(f"{method}: response id {doc.get('id')!r} != request id {req_id}")
        error = doc.get("error")
        if error is not None:
            if not isinstance(error, dict):
                raise RpcError(f"{method}: malformed error {str(error)[:200]}")
            if method == "eth_call":
                data = _revert_data(error)
                if data is not None:
                    raise Revert(data, str(error.get("message", ""))[:200])
            raise RpcError(
                f"{method}: JSON-RPC error {error.get('code')}: {str(error.get('message'))[:300]}"
            )
        if "result" not in doc:
            raise RpcError(f"{method}: response has neither result nor error")
        return doc["result"]

    async def chain_id(self) -> int:
        return _quantity(await self.call("eth_chainId", []), "eth_chainId")

    async def block_number(self) -> int:
        return _quantity(await self.call("eth_blockNumber", []), "eth_blockNumber")

    async def eth_call(self, to: str, data: bytes, *, block: int | str = "latest") -> bytes:
        tag = hex(block) if isinstance(block, int) else block
        result = await self.call("eth_call", [{"to": to, "data": "0x" + data.hex()}, tag])
        return _hex_bytes(result, "eth_call result")
