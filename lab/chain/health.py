"""Health checks of the chain: ganache's chain id over JSON-RPC, the CCIP-read gateway's
and the gateway bridges' JSON 404. Network I/O (lab addresses only).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from fragscope.lab.core.health import Result, Target, lab_target


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


@dataclass(frozen=True)
class RpcCheck:
    """JSON-RPC ``eth_chainId`` over HTTP answers ``chain_id``."""

    chain_id: int

    def describe(self) -> str:
        return f"eth_chainId -> {self.chain_id}"

    def run(self, target: Target) -> Result:
        address, port, timeout = lab_target(target)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
        req = urllib.request.Request(
            f"http://{_host(address)}:{port}",
            body.encode(),
            {"content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                answer = json.loads(resp.read())
        except (OSError, ValueError) as exc:
            return Result(False, f"{type(exc).__name__}: {exc}")
        got = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(got, str) or int(got, 16) != self.chain_id:
            return Result(False, f"eth_chainId answered {got!r}, want {self.chain_id}")
        return Result(True, "ok")


@dataclass(frozen=True)
class GatewayCheck:
    """The CCIP-read gateway (it serves /{sender}/{data}) and the gateway bridges (they serve
    /{name}) answer ``GET /`` with their JSON 404."""

    def describe(self) -> str:
        return "GET / -> 404 JSON {message}"

    def run(self, target: Target) -> Result:
        address, port, timeout = lab_target(target)
        try:
            with urllib.request.urlopen(f"http://{_host(address)}:{port}/", timeout=timeout):
                return Result(False, "GET / answered 2xx, want 404")
        except urllib.error.HTTPError as err:
            try:
                body = json.loads(err.read())
            except ValueError:
                return Result(False, f"HTTP {err.code} without JSON")
            if err.code == 404 and isinstance(body, dict) and "message" in body:
                return Result(True, "ok")
            return Result(False, f"HTTP {err.code} {body!r:.60}")
        except OSError as exc:
            return Result(False, f"{type(exc).__name__}: {exc}")
