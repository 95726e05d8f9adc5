"""What the transport probes share around their measurement. No I/O.

Construction (config, clock, network policy), one task per target, the start of an
observation, its destination (address, port, SNI) checked against the policy, its
failure columns and its end (address columns even when the destination was invalid, and
the duration). Each probe keeps its own steps and its own idea of what is retryable.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.base import Clock, Endpoint, Observation, SystemClock, Task, TaskParams
from fragscope.probes.errors import Classified, classify
from fragscope.probes.safety import ALLOW_ALL, NetworkPolicy
from fragscope.probes.transport.common import Destination, PolicyCache, destination, fallback_fields

# What an ICMP error on a connected UDP socket means (RFC 1122 section 4.1.3.3: the
# kernel reports it as the errno of the next socket call).
ICMP_FAILURES = {
    errno.ECONNREFUSED: Failure.CONNECTION_REFUSED,
    errno.EHOSTUNREACH: Failure.HOST_UNREACHABLE,
    errno.ENETUNREACH: Failure.NETWORK_UNREACHABLE,
    errno.EACCES: Failure.HOST_UNREACHABLE,
}


class PortConfig(Protocol):
    @property
    def port(self) -> int: ...


ConfigT = TypeVar("ConfigT", bound=PortConfig)


class TransportProbe(Generic[ConfigT]):
    """Base of transport.tls, transport.quic, transport.quic_vn and path.udp443."""

    table: ClassVar[str]
    config_class: ClassVar[type[Any]]
    uses_endpoints: ClassVar[bool] = False

    def __init__(
        self,
        config: ConfigT | None = None,
        *,
        clock: Clock | None = None,
        policy: NetworkPolicy = ALLOW_ALL,
    ) -> None:
        self.config: ConfigT = config or self.config_class()
        self.clock = clock or SystemClock()
        self.policy = policy
        self._policy = PolicyCache(policy)
        self.prepare()

    def prepare(self) -> None:
        """Build what every measurement reuses (bad settings raise here, before traffic)."""

    def tasks_for(self, target: str, endpoint: Endpoint | None) -> Iterable[TaskParams]:
        return (TaskParams(""),)

    def start(self, task: Task) -> tuple[Observation, float]:
        """A new observation of ``task`` and the monotonic time it started."""
        started = self.clock.now()
        t0 = self.clock.monotonic()
        return Observation(
            table=self.table, target=task.target, endpoint=None, started_at=started
        ), t0

    def aim(
        self, task: Task, obs: Observation, operation: Operation, *, sni: bool = False
    ) -> Destination:
        """``task``'s destination, recorded in ``obs`` (with the SNI if ``sni``).

        Raises MeasurementError when the destination is invalid or the policy forbids it.
        """
        dest = destination(task.target, task.params, self.config.port)
        obs.endpoint = dest.endpoint
        obs.fields.update(address=dest.address, port=dest.port, ip_version=dest.ip_version)
        if sni:
            obs.fields["sni"] = dest.sni
        self._policy.require(dest.address, operation)
        return dest

    def fail(self, obs: Observation, exc: BaseException, operation: Operation) -> Classified:
        """Record ``exc`` as ``obs``'s failure (docs/architecture.md §3: failures are data)."""
        c = classify(exc, operation)
        obs.failure, obs.failed_operation, obs.failure_detail = (
            c.failure,
            c.operation or operation,
            c.detail,
        )
        return c

    def finish(self, task: Task, obs: Observation, t0: float) -> Observation:
        """Fill the address columns a failed destination left empty; set the duration."""
        for name, value in fallback_fields(task.target, task.params, self.config.port).items():
            obs.fields.setdefault(name, value)
        obs.duration_ms = (self.clock.monotonic() - t0) * 1000
        return obs
