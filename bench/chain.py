"""Benchmark of the lab chain (starts ganache and the gateway on 127.0.0.1, deploys; I/O).

Prints one JSON object: ganache start, solcjs compile (cold and cached), deploy, the whole
chain-up time (cold = including a first compile) against its 20 s budget, and two ratios
against peers measured in the same run: an ENS lookup (2 eth_calls) per web3_clientVersion
round trip, and a full EIP-3668 resolution (revert + gateway GET + callback) per on-chain
ENS lookup.
Exit status 1 when the chain is not up and deployed within the budget.
usage: python -m bench.chain
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from eth_abi.abi import decode, encode

from fragscope.lab.chain import deploy_all, load_plan, start_chain, start_gateway
from fragscope.lab.chain.abi import dns_encode, namehash, selector
from fragscope.lab.chain.artifacts import compile_contracts
from fragscope.lab.chain.rpc import CallReverted, JsonRpc
from fragscope.lab.core.ports import free_port

BUDGET_SECONDS = 20.0
ROUNDS = 200


def _rate(fn: Callable[[], object], rounds: int) -> float:
    t0 = time.perf_counter()
    for _ in range(rounds):
        fn()
    return rounds / (time.perf_counter() - t0)


def main() -> int:
    truth = load_plan()
    run_dir = Path(tempfile.mkdtemp(prefix="fragscope-bench-chain-"))
    result: dict[str, float | int | str | bool] = {}
    build = run_dir / "build"
    t0 = time.perf_counter()
    compile_contracts(build)  # cold: a fresh build directory
    compile_cold = time.perf_counter() - t0
    t_up = time.perf_counter()
    chain = start_chain("127.0.0.1", free_port(), run_dir)
    gateway = start_gateway("127.0.0.1", 0, truth=truth)
    try:
        facts = deploy_all(chain.url, run_dir, gateway.url, truth=truth, build_dir=build)
        up = time.perf_counter() - t_up
        result["ganache_start_s"] = round(chain.start_seconds, 3)
        result["compile_cold_s"] = round(compile_cold, 3)
        result["compile_cached_s"] = facts.compile_seconds
        result["deploy_s"] = facts.deploy_seconds
        result["transactions"] = facts.transactions
        result["chain_up_cached_s"] = round(up, 3)
        result["chain_up_cold_s"] = round(up + compile_cold, 3)
        result["budget_s"] = BUDGET_SECONDS

        rpc = JsonRpc(chain.url)
        registry = facts.addresses["ens_registry"]
        node = namehash("alice.eth")

        def ens_lookup() -> bytes:
            resolver = (
                "0x" + rpc.eth_call(registry, selector("resolver(bytes32)") + node)[-20:].hex()
            )
            return rpc.eth_call(resolver, selector("addr(bytes32)") + node)

        def ccip_lookup() -> bytes:
            name = "alice.offchain.eth"
            inner = selector("addr(bytes32)") + namehash(name)
            offchain = facts.addresses["offchain_resolver"]
            try:
                rpc.eth_call(
                    offchain,
                    selector("resolve(bytes,bytes)")
                    + encode(["bytes", "bytes"], [dns_encode(name), inner]),
                )
            except CallReverted as err:
                sender, urls, call_data, callback, extra = decode(
                    ["address", "string[]", "bytes", "bytes4", "bytes"], err.data[4:]
                )
            url = urls[0].replace("{sender}", sender).replace("{data}", "0x" + call_data.hex())
            with urllib.request.urlopen(url, timeout=5) as resp:
                response = bytes.fromhex(json.loads(resp.read())["data"][2:])
            return rpc.eth_call(sender, callback + encode(["bytes", "bytes"], [response, extra]))

        ping_rate = _rate(lambda: rpc.call("web3_clientVersion"), ROUNDS)
        ens_rate = _rate(ens_lookup, ROUNDS)
        ccip_rate = _rate(ccip_lookup, ROUNDS // 4)
        result["rpc_ping_per_s"] = round(ping_rate, 1)
        result["ens_lookups_per_s"] = round(ens_rate, 1)
        result["ccip_lookups_per_s"] = round(ccip_rate, 1)
        result["ens_lookup_vs_ping"] = round(ping_rate / ens_rate, 2)
        result["ccip_lookup_vs_ens_lookup"] = round(ens_rate / ccip_rate, 2)
        result["ok"] = up + compile_cold < BUDGET_SECONDS
    finally:
        gateway.stop()
        chain.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
    print(json.dumps(result, indent=1))
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
