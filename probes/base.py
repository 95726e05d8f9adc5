"""The probe contract: tasks in, observations out, failures as data. No I/O.

A probe is a class registered under a dotted name (``dns.query``, ``transport.quic``...)
with a ``version`` stored on every row, a typed config dataclass whose fields carry help
text (``field(metadata={"help": ...})``), and ``async measure(task) -> Observation``. It
never raises for network failures: it returns an Observation with ``failure`` set. The
engine fills the envelope (run, vantage, task key, attempt, probe, version) and turns the
Observation into rows for the writer.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from fragscope.db.vocab import Failure, Operation, Role


class Clock(Protocol):
    """Injected time: wall clock for timestamps, monotonic for durations."""

    def now(self) -> dt.datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()


FILTERING: dict[str, str] = {
    "none": "answers every name as its authorities do (no blocking policy)",
    "malware": "blocks names its threat feeds list (malware, phishing, botnets)",
    "family": "blocks malware and adult content",
    "ads": "blocks advertising and tracking names",
}
"""An endpoint's ``filtering``: what its operator documents it blocks
(docs/campaigns.md, "Endpoint properties")."""


@dataclass(frozen=True, slots=True)
class Documented:
    """When and where the endpoint's operator last documented it (a page checked that day)."""

    date: dt.date
    url: str


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a probe sends its traffic: a resolver, a host, an RPC node (one URL)."""

    url: str
    operator: str | None = None
    role: Role = Role.TEST
    namespace: str = "icann"
    label: str | None = None
    rate: float | None = None
    """Queries per second allowed to this endpoint (token bucket); None = campaign default."""
    options: Mapping[str, Any] = field(default_factory=dict)
    last_documented: Documented | None = None
    """The operator's own page that documents this endpoint, and the day it was checked
    (``fragscope campaign check`` warns when it is older than 12 months or absent)."""
    filtering: str | None = None
    """What the operator documents the resolver blocks (:data:`FILTERING`); None = not
    declared. A control must not filter (``campaign check``, rule control-filtered)."""
    validates_dnssec: bool | None = None
    """Whether the operator documents DNSSEC validation; None = not declared. N6 leaves
    out a resolver documented as not validating (docs/indicators.md)."""


@dataclass(frozen=True, slots=True)
class Task:
    """One unit of work: a probe, a target, maybe an endpoint, and the probe's params.

    ``key`` is deterministic (same campaign and targets -> same keys), which is what makes
    resume, sharding and idempotent inserts work (docs/architecture.md §7).
    """

    key: str
    probe: str
    target: str
    endpoint: Endpoint | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    repetition: int = 0
    parent_key: str | None = None
    deadline_s: float = 10.0


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A task a result spawns (e.g. probe TCP and QUIC on each resolved address).

    The engine derives the child key from the parent's key and ``key_suffix``, so a
    follow-up is as deterministic as its parent.
    """

    probe: str
    target: str
    key_suffix: str
    endpoint: Endpoint | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Observation:
    """One attempt's result, before the envelope is filled in.

    ``fields`` are the probe's own columns of ``table``; ``children`` are rows of child
    tables as ``(table, values)``; the engine adds ``id`` and ``observation_id`` to each.
    """

    table: str
    target: str
    endpoint: str | None
    started_at: dt.datetime
    duration_ms: float | None = None
    failure: Failure | None = None
    failed_operation: Operation | None = None
    failure_detail: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    children: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)
    retryable: bool = False
    """True when another attempt might succeed (timeouts); the engine decides."""

    @property
    def ok(self) -> bool:
        return self.failure is None

    def envelope(self) -> dict[str, Any]:
        """The envelope columns the observation itself fills (the engine adds ids, run,
        vantage, task key, attempt and probe), in the envelope's order."""
        return {
            "target": self.target,
            "endpoint": self.endpoint,
            "started_at": self.started_at,
            "duration_ms": self.duration_ms,
            "failure": self.failure,
            "failed_operation": self.failed_operation,
            "failure_detail": self.failure_detail,
        }


ROUND_POSITION = "round_position"
"""Task param the planner adds to the tasks of a probe that sets ``shuffled_in_round =
True``: the task's 0-based place in the run's seeded order of that probe's tasks
(probes/engine/planner.py), for the probe to record."""


@dataclass(frozen=True, slots=True)
class TaskParams:
    """What a probe wants measured for one (target, endpoint): a key suffix and params."""

    key_suffix: str
    params: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Probe(Protocol):
    """What every registered probe provides."""

    name: ClassVar[str]
    version: ClassVar[int]
    table: ClassVar[str]
    config_class: ClassVar[type[Any]]
    uses_endpoints: ClassVar[bool]
    """True when the campaign's endpoint panel is crossed with the targets.

    A probe that routes names by namespace also sets ``routes_by_namespace = True`` and
    accepts ``tasks_for(target, endpoint, namespace=...)``: the planner then hands it the
    namespace a target list names for a line (probes/engine/targets.py). A probe whose
    tasks must not always run in list order sets ``shuffled_in_round = True``: the
    planner then runs them in a seeded random order (param ``ROUND_POSITION``)."""

    def tasks_for(self, target: str, endpoint: Endpoint | None) -> Iterable[TaskParams]:
        """The tasks for one target (and endpoint); usually one, with an empty suffix."""
        ...

    async def measure(self, task: Task) -> Observation:
        """Measure once. Network failures are returned as failures, never raised."""
        ...
