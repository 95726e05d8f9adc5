"""A minimal Ethereum JSON-RPC client over urllib (does network I/O).

Only what the lab's deploy code and the tests need: plain calls, eth_call with revert data
kept (EIP-3668 OffchainLookup travels in it), and transactions from the node's unlocked
accounts (ganache), which are mined before eth_sendTransaction returns.
"""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


class RpcError(Exception):
    """The node answered with a JSON-RPC error, garbage, or not at all."""

    def __init__(self, method: str, message: str, *, code: int | None = None) -> None:
        super().__init__(f"{method}: {message}" + (f" (code {code})" if code is not None else ""))
        self.method = method
        self.code = code


class CallReverted(RpcError):
    """eth_call reverted; ``data`` holds the revert payload (selector + ABI-encoded args)."""

    def __init__(self, method: str, message: str, *, data: bytes, code: int | None = None) -> None:
        super().__init__(method, message, code=code)
        self.data = data


@dataclass
class JsonRpc:
    """One JSON-RPC endpoint; ``timeout`` is per HTTP request in seconds."""

    url: str
    timeout: float = 10.0

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)

    def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        request = urllib.request.Request(
            self.url, json.dumps(body).encode(), {"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply = json.loads(response.read())
        except (OSError, ValueError) as exc:  # URLError is an OSError; bad JSON a ValueError
            raise RpcError(method, f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(reply, dict):
            raise RpcError(method, f"reply is not a JSON object: {reply!r:.200}")
        if "error" in reply:
            error = reply["error"] or {}
            message = str(error.get("message", error))
            code = error.get("code")
            data = _revert_data(error.get("data"))
            if data is not None:
                raise CallReverted(method, message, data=data, code=code)
            raise RpcError(method, message, code=code)
        return reply.get("result")

    def eth_call(self, to: str, data: bytes, *, block: str = "latest") -> bytes:
        result = self.call("eth_call", {"to": to, "data": "0x" + data.hex()}, block)
        return bytes.fromhex(_strip0x(result))

    def transact(self, sender: str, data: bytes, *, to: str | None = None) -> dict[str, Any]:
        """Send a transaction and return its receipt; raise RpcError if it reverted."""
        tx: dict[str, Any] = {"from": sender, "data": "0x" + data.hex(), "gas": hex(8_000_000)}
        if to is not None:
            tx["to"] = to
        tx_hash = self.call("eth_sendTransaction", tx)
        receipt = self.call("eth_getTransactionReceipt", tx_hash)
        if receipt is None:
            raise RpcError("eth_getTransactionReceipt", f"no receipt for {tx_hash} (not mined)")
        if int(receipt["status"], 16) != 1:
            raise RpcError("eth_sendTransaction", f"transaction {tx_hash} reverted")
        return dict(receipt)


def _strip0x(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise RpcError("eth_call", f"result is not a 0x hex string: {value!r:.200}")
    return value[2:]


def _revert_data(data: Any) -> bytes | None:
    # ganache 7 puts the revert payload in error.data.result (and error.data as a string on
    # some paths); geth puts it in error.data directly.
    if isinstance(data, dict):
        data = data.get("result", data.get("data"))
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    return None
