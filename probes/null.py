"""``engine.null``: a probe that measures nothing, for the engine's tests and benchmark.

No I/O. It returns a successful envelope-only observation (or, with ``fail_every``, a
deterministic timeout) so engine throughput, resume and sharding can be tested without
the network. With ``follow_ups`` each planned task spawns follow-up tasks, which the
engine's resume and sharding tests need.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from fragscope.db.vocab import Failure, Operation
from fragscope.probes import config_rules as rules
from fragscope.probes.base import (
    Clock,
    Endpoint,
    FollowUp,
    Observation,
    SystemClock,
    Task,
    TaskParams,
)
from fragscope.probes.registry import register
from fragscope.probes.safety import ALLOW_ALL, NetworkPolicy


@dataclass(frozen=True, slots=True)
class NullConfig:
    delay_s: float = field(
        default=0.0, metadata={"help": "seconds each task sleeps", **rules.COUNT}
    )
    fail_every: int = field(
        default=0,
        metadata={
            "help": "every N-th target (by CRC32) fails with a timeout; 0 = never",
            **rules.COUNT,
        },
    )
    follow_ups: int = field(
        default=0,
        metadata={
            "help": "follow-up tasks each planned (not follow-up) task spawns",
            **rules.COUNT,
        },
    )

    def __post_init__(self) -> None:
        if self.delay_s < 0 or self.fail_every < 0 or self.follow_ups < 0:
            raise ValueError("delay_s, fail_every and follow_ups must be >= 0")


@register
class NullProbe:
    name: ClassVar[str] = "engine.null"
    version: ClassVar[int] = 1
    table: ClassVar[str] = "null_observations"
    config_class: ClassVar[type[NullConfig]] = NullConfig
    uses_endpoints: ClassVar[bool] = False

    def __init__(
        self,
        config: NullConfig | None = None,
        *,
        clock: Clock | None = None,
        policy: NetworkPolicy = ALLOW_ALL,
    ) -> None:
        self.config = config or NullConfig()
        self.clock = clock or SystemClock()
        self.policy = policy

    def tasks_for(self, target: str, endpoint: Endpoint | None) -> Iterable[TaskParams]:
        return (TaskParams(""),)

    async def measure(self, task: Task) -> Observation:
        started = self.clock.now()
        t0 = self.clock.monotonic()
        if self.config.delay_s:
            await asyncio.sleep(self.config.delay_s)
        obs = Observation(
            table=self.table,
            target=task.target,
            endpoint=task.endpoint.url if task.endpoint else None,
            started_at=started,
        )
        every = self.config.fail_every
        if every and zlib.crc32(task.target.encode()) % every == 0:
            obs.failure = Failure.GENERIC_TIMEOUT_ERROR
            obs.failed_operation = Operation.CONNECT
            obs.failure_detail = "engine.null: planted failure"
            obs.retryable = True
        elif task.parent_key is None and self.config.follow_ups:
            obs.follow_ups = [
                FollowUp(probe=self.name, target=task.target, key_suffix=f"f{i}")
                for i in range(self.config.follow_ups)
            ]
        obs.duration_ms = (self.clock.monotonic() - t0) * 1000
        return obs
