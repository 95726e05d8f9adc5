"""Benchmark of the naming probe's ENS path against its own JSON-RPC floor. Does I/O.

Starts a local ganache (127.0.0.1) with the ENS contracts of the test fixtures, then in
the same run measures (a) sequential `naming.resolve` of alice.eth (all records) and
(b) bare eth_call round trips through the same JSON-RPC client, the peer. The figure is
the overhead ratio  (time per resolution / eth_calls per resolution) / time per bare
eth_call: the cost of namehash, ENSIP-15, ABI coding and bookkeeping on top of the
node's own answer time. Target: <= 1.5. Also printed: ENSIP-15 + namehash per second
against keccak alone (pure CPU, informational).
"""

from __future__ import annotations

import asyncio
import sys
import time

TARGET_RATIO = 1.5
N_RESOLVE = 60


def _pure_rates() -> tuple[float, float]:
    from eth_hash.auto import keccak

    from fragscope.probes.naming import ens

    names = [f"name{i}.eth" for i in range(2000)]
    t = time.perf_counter()
    for n in names:
        ens.namehash(ens.normalize(n))
    full = len(names) / (time.perf_counter() - t)
    t = time.perf_counter()
    for n in names:
        keccak(keccak(n.encode()))
    bare = len(names) / (time.perf_counter() - t)
    return full, bare


async def _measure(url: str, registry: str) -> tuple[float, float, int]:
    from fragscope.probes.base import Endpoint, Task
    from fragscope.probes.naming import ens
    from fragscope.probes.naming.jsonrpc import EthRpc
    from fragscope.probes.naming.probe import NamingConfig, NamingProbe
    from fragscope.probes.safety import NetworkPolicy

    policy = NetworkPolicy(allowed=None)
    probe = NamingProbe(NamingConfig(text_keys=("url", "description")), policy=policy)
    ep = Endpoint(url=url, namespace="ens", options={"method": "eth-rpc", "registry": registry})
    task = Task(key="b", probe=probe.name, target="alice.eth", endpoint=ep)
    obs = await probe.measure(task)  # warm-up; also gives the calls per resolution
    if obs.failure:
        raise RuntimeError(f"resolution failed: {obs.failure}: {obs.failure_detail}")
    calls = int(obs.fields["detail"]["rpc_calls"])
    t = time.perf_counter()
    for _ in range(N_RESOLVE):
        await probe.measure(task)
    per_resolution = (time.perf_counter() - t) / N_RESOLVE
    rpc = EthRpc(url, policy=policy)
    data = ens.RESOLVER.encode(ens.namehash("alice.eth"))
    n_bare = N_RESOLVE * calls
    t = time.perf_counter()
    for _ in range(n_bare):
        await rpc.eth_call(registry, data)
    per_call = (time.perf_counter() - t) / n_bare
    return per_resolution, per_call, calls


def main() -> int:
    from tests.fixtures.naming import deploy_ens_world, ensure_npm, npm_dir, start_ganache

    full, bare = _pure_rates()
    print(
        f"naming: ENSIP-15+namehash {full:,.0f}/s vs keccak alone {bare:,.0f}/s "
        f"(ratio {bare / full:.1f}x, informational)"
    )
    try:
        base = ensure_npm(npm_dir())
    except BaseException as exc:  # pytest.skip outside pytest: no npm here
        print(f"naming: SKIPPED chain benchmark ({exc})")
        return 0
    with start_ganache(base) as chain:
        world = deploy_ens_world(chain)
        per_res, per_call, calls = asyncio.run(_measure(chain.url, world.registry))
    ratio = (per_res / calls) / per_call
    print(
        f"naming: alice.eth resolution {per_res * 1000:.1f} ms ({calls} eth_calls, "
        f"{1 / per_res:.1f}/s); bare eth_call {per_call * 1000:.2f} ms; "
        f"overhead ratio {ratio:.2f} (target <= {TARGET_RATIO})"
    )
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
