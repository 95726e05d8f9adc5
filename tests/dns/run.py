"""Helpers to run the DNS probes in tests without the engine."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from fragscope.db.vocab import Role
from fragscope.probes.base import Endpoint, Observation, Task
from fragscope.probes.dns.query import DnsQueryConfig, DnsQueryProbe
from fragscope.probes.safety import NetworkPolicy


def task(
    target: str,
    url: str,
    qtype: str = "A",
    *,
    role: Role = Role.TEST,
    key: str | None = None,
    options: dict[str, object] | None = None,
    **params: object,
) -> Task:
    return Task(
        key=key or f"{target}/{url}/{qtype}",
        probe="dns.query",
        target=target,
        endpoint=Endpoint(url=url, role=role, operator="test-op", options=options or {}),
        params={"qtype": qtype, **params},
    )


def run_query(
    tasks: Sequence[Task], config: DnsQueryConfig | None = None, *, follow: bool = True
) -> list[Observation]:
    """Measure the tasks (batch path), then their follow-ups (TC -> TCP), like the engine."""

    async def go() -> list[Observation]:
        probe = DnsQueryProbe(config, policy=NetworkPolicy.from_env())
        try:
            out = await probe.measure_many(list(tasks))
            if follow:
                extra = []
                for t, obs in zip(tasks, out, strict=True):
                    for f in obs.follow_ups:
                        extra.append(
                            Task(
                                key=f"{t.key}/{f.key_suffix}",
                                probe=f.probe,
                                target=f.target,
                                endpoint=f.endpoint,
                                params=f.params,
                            )
                        )
                if extra:
                    out += await probe.measure_many(extra)
            return out
        finally:
            await probe.close()

    return asyncio.run(go())
