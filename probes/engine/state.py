"""The engine's small types: sink protocol, per-probe counts, results, endpoint JSON. No I/O."""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fragscope.db.vocab import Failure, Role
from fragscope.db.writer import Row
from fragscope.probes.base import Endpoint
from fragscope.probes.engine.chains import Chain, chains_from


class Sink(Protocol):
    """Where rows go: the AsyncWriter in one process, a pipe to the parent with --workers."""

    async def put(self, rows: Sequence[Row]) -> None: ...


@dataclass
class ProbeStats:
    tasks: int = 0
    ok: int = 0
    attempts: int = 0
    failures: collections.Counter[str] = field(default_factory=collections.Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tasks": self.tasks,
            "ok": self.ok,
            "attempts": self.attempts,
            "failures": dict(sorted(self.failures.items())),
        }


@dataclass
class EngineResult:
    stats: dict[str, ProbeStats]
    stopped: str | None
    """None when the plan ran out; "max_duration" or "signal" when a stop came."""
    complete: bool = True
    """Every planned task (and follow-up) finished: a stop that came after the last task
    started leaves a complete run, which is finished, not partial or interrupted."""

    @property
    def tasks(self) -> int:
        return sum(s.tasks for s in self.stats.values())

    @property
    def unknown_failures(self) -> int:
        return sum(s.failures.get(Failure.UNKNOWN_FAILURE.value, 0) for s in self.stats.values())


class ProbeRuntime:
    """A probe instance with what the engine needs per task, looked up once."""

    __slots__ = (
        "batch_size",
        "chains",
        "deadline",
        "instance",
        "name",
        "plain_fields",
        "retries",
        "stats",
        "version",
    )

    def __init__(self, instance: Any, *, deadline: float, retries: int) -> None:
        cls = type(instance)
        self.instance = instance
        self.name: str = cls.name
        self.version: int = cls.version
        self.deadline = deadline
        self.retries = retries
        size = getattr(cls, "batch_size", 0)
        self.batch_size: int = size if size and hasattr(instance, "measure_many") else 0
        self.stats = ProbeStats()
        # The probe promises Enum-free fields and child rows: the row builders skip the
        # per-value Enum scan (probes.engine.rows).
        self.plain_fields: bool = bool(getattr(cls, "plain_fields", False))
        # The follow-up chains this probe's results feed (probes.engine.chains).
        self.chains: tuple[Chain, ...] = chains_from(cls.name)


def endpoint_json(endpoint: Endpoint | None) -> dict[str, Any] | None:
    if endpoint is None:
        return None
    return {
        "url": endpoint.url,
        "operator": endpoint.operator,
        "role": str(endpoint.role),
        "namespace": endpoint.namespace,
        "label": endpoint.label,
        "rate": endpoint.rate,
        "options": dict(endpoint.options),
    }


def endpoint_from_json(data: dict[str, Any] | None) -> Endpoint | None:
    if data is None:
        return None
    return Endpoint(
        url=data["url"],
        operator=data.get("operator"),
        role=Role(data.get("role", "test")),
        namespace=data.get("namespace", "icann"),
        label=data.get("label"),
        rate=data.get("rate"),
        options=data.get("options") or {},
    )
