"""Probes registered only by the engine's tests: UDP echo, crash, sleep, batch. UDP I/O on loopback.

``test.udp_echo`` sends one datagram to its endpoint (or the task's pinned ``address``)
and waits for the echo: the rate-limit and network-policy tests count its packets at a
real listener. The others misbehave on purpose.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.base import Clock, Endpoint, Observation, SystemClock, Task, TaskParams
from fragscope.probes.endpoints import parse_endpoint_url
from fragscope.probes.errors import MeasurementError, classify
from fragscope.probes.registry import register
from fragscope.probes.safety import ALLOW_ALL, NetworkPolicy


@dataclass(frozen=True, slots=True)
class EchoConfig:
    timeout_s: float = field(default=2.0, metadata={"help": "seconds to wait for the echo"})


class _Base:
    version: ClassVar[int] = 1
    table: ClassVar[str] = "null_observations"
    uses_endpoints: ClassVar[bool] = False

    def __init__(
        self,
        config: object = None,
        *,
        clock: Clock | None = None,
        policy: NetworkPolicy = ALLOW_ALL,
    ) -> None:
        self.config = config or self.config_class()  # type: ignore[attr-defined]
        self.clock = clock or SystemClock()
        self.policy = policy

    def tasks_for(self, target: str, endpoint: Endpoint | None) -> Iterable[TaskParams]:
        return (TaskParams(""),)

    def _obs(self, task: Task) -> Observation:
        return Observation(
            table=self.table,
            target=task.target,
            endpoint=task.endpoint.url if task.endpoint else None,
            started_at=self.clock.now(),
        )


@register
class UdpEchoProbe(_Base):
    name: ClassVar[str] = "test.udp_echo"
    config_class: ClassVar[type] = EchoConfig
    uses_endpoints: ClassVar[bool] = True

    async def measure(self, task: Task) -> Observation:
        obs = self._obs(task)
        assert task.endpoint is not None
        url = parse_endpoint_url(task.endpoint.url)
        address = task.params.get("address") or url.host
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            self.policy.require(address, Operation.CONNECT)
            await loop.sock_sendto(sock, task.key.encode(), (address, url.port))
            async with asyncio.timeout(self.config.timeout_s):
                await loop.sock_recvfrom(sock, 2048)
        except (MeasurementError, OSError, TimeoutError) as exc:
            c = classify(exc, Operation.CONNECT)
            obs.failure, obs.failed_operation, obs.failure_detail = c.failure, c.operation, c.detail
        finally:
            sock.close()
        return obs


@dataclass(frozen=True, slots=True)
class CrashConfig:
    mode: str = field(default="raise", metadata={"help": "raise | badfield | badchild"})


@register
class CrashProbe(_Base):
    """Raises (or returns rows the schema refuses) for targets containing 'crash'."""

    name: ClassVar[str] = "test.crash"
    config_class: ClassVar[type] = CrashConfig

    async def measure(self, task: Task) -> Observation:
        obs = self._obs(task)
        if "crash" in task.target:
            if self.config.mode == "raise":
                raise RuntimeError(f"planted bug for {task.target}")
            obs.fields["no_such_column"] = 1
        return obs


@dataclass(frozen=True, slots=True)
class SleepConfig:
    sleep_s: float = field(default=5.0, metadata={"help": "seconds to sleep"})


@register
class SleepProbe(_Base):
    """Sleeps past any short deadline: the engine must record generic_timeout_error."""

    name: ClassVar[str] = "test.sleep"
    config_class: ClassVar[type] = SleepConfig

    async def measure(self, task: Task) -> Observation:
        await asyncio.sleep(self.config.sleep_s)
        return self._obs(task)


@dataclass(frozen=True, slots=True)
class BatchConfig:
    fail_target: str = field(default="", metadata={"help": "this target times out (retryable)"})


@register
class BatchProbe(_Base):
    """Measures in batches (measure_many); records the batch sizes it saw."""

    name: ClassVar[str] = "test.batch"
    config_class: ClassVar[type] = BatchConfig
    batch_size: ClassVar[int] = 8
    uses_endpoints: ClassVar[bool] = True
    seen: ClassVar[list[int]] = []

    async def measure(self, task: Task) -> Observation:
        return (await self.measure_many([task]))[0]

    async def measure_many(self, tasks: Sequence[Task]) -> list[Observation]:
        type(self).seen.append(len(tasks))
        await asyncio.sleep(0)
        out = []
        for task in tasks:
            obs = self._obs(task)
            if task.target == self.config.fail_target:
                obs.failure = Failure.GENERIC_TIMEOUT_ERROR
                obs.retryable = True
            out.append(obs)
        return out


@register
class BadPlanProbe(_Base):
    """Its tasks_for raises for targets containing 'crash' (a planning bug)."""

    name: ClassVar[str] = "test.badplan"
    config_class: ClassVar[type] = CrashConfig

    def tasks_for(self, target: str, endpoint: Endpoint | None) -> Iterable[TaskParams]:
        if "crash" in target:
            raise ValueError(f"cannot plan {target}")
        return (TaskParams(""),)

    async def measure(self, task: Task) -> Observation:
        return self._obs(task)


@register
class RefusedRowProbe(_Base):
    """Writes path_observations rows; for targets containing 'refuse' a ``test`` value
    the table's CHECK constraint refuses: a real storage error, raised by the database."""

    name: ClassVar[str] = "test.refused_row"
    config_class: ClassVar[type] = CrashConfig
    table: ClassVar[str] = "path_observations"

    async def measure(self, task: Task) -> Observation:
        obs = self._obs(task)
        obs.fields.update(
            test="bogus" if "refuse" in task.target else "udp443",
            address="127.0.0.1",
            port=443,
            ip_version=4,
        )
        return obs


@register
class WideBatchProbe(BatchProbe):
    """test.batch with dns.query's batch size (64): the engine's volume tests."""

    name: ClassVar[str] = "test.batch64"
    batch_size: ClassVar[int] = 64
