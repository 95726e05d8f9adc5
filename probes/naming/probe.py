"""``naming.resolve``: one name, one access method, one endpoint -> one naming row.

The I/O happens in the access methods (probes/naming/methods/); this module picks the
namespace and method, normalises the name, runs the method within the task's deadline and
turns the result -- or the failure -- into an Observation of ``naming_observations`` with
``naming_values`` children. Invalid names become ``invalid_input`` rows; nothing raises.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from fragscope.db.vocab import Failure, Operation
from fragscope.probes import config_rules as rules
from fragscope.probes.base import Clock, Endpoint, Observation, SystemClock, Task, TaskParams
from fragscope.probes.errors import MeasurementError, classify
from fragscope.probes.naming import http
from fragscope.probes.naming.methods import METHODS
from fragscope.probes.naming.methods.base import (
    MethodResult,
    Request,
    Value,
    summary,
    transport_url,
)
from fragscope.probes.naming.methods.uns import DEFAULT_KEYS as UNS_DEFAULT_KEYS
from fragscope.probes.naming.namespaces import Registry, shipped_registry
from fragscope.probes.naming.normalize import InvalidName, normalize
from fragscope.probes.politeness import contact_field, identity_headers, user_agent_field
from fragscope.probes.registry import register
from fragscope.probes.safety import ALLOW_ALL, NetworkPolicy

TABLE = "naming_observations"
VALUES_TABLE = "naming_values"
ENGINE_MARGIN_S = 0.25
"""A resolution ends this long before the task's deadline. The engine cancels a task at
its deadline and stores a bare failure row, without the naming fields (namespace, name and
method NULL). The probe's own timeout row, which has them, comes first."""


@dataclass(frozen=True, slots=True)
class NamingConfig:
    text_keys: tuple[str, ...] = field(
        default=("url", "avatar", "description", "email", "com.github", "com.twitter"),
        metadata={"help": "ENS text record keys read for every name (ENSIP-5)"},
    )
    coin_types: tuple[int, ...] = field(
        default=(0,),
        metadata={
            "help": "SLIP-44 coin types read with addr(bytes32,uint256) (ENSIP-9); "
            "ETH (60) is always read with addr(bytes32)",
            **rules.COUNT,
        },
    )
    uns_keys: tuple[str, ...] = field(
        default=UNS_DEFAULT_KEYS, metadata={"help": "UNS record keys read with getMany"}
    )
    ens_registry_walk: bool = field(
        default=True,
        metadata={
            "help": "ENS eth-rpc rows: also walk the registry (method eth-rpc-registry) at "
            "the same block and record in registry_walk_agrees whether it gave the "
            "Universal Resolver's answer (more eth_calls per name)"
        },
    )
    timeout_s: float = field(
        default=10.0,
        metadata={"help": "seconds for each network request of a resolution", **rules.SECONDS},
    )
    user_agent: str = user_agent_field()
    contact: str | None = contact_field()


def method_for(namespace: str, registry: Registry, requested: str | None) -> str:
    """The requested method, else the namespace's first; raises ValueError if none."""
    if requested:
        if requested not in METHODS:
            raise ValueError(f"unknown method {requested!r}; known: {', '.join(METHODS)}")
        return requested
    methods = registry[namespace].methods
    if not methods:
        raise ValueError(f"namespace {namespace!r} has no access method fragscope implements")
    return methods[0]


@register
class NamingProbe:
    """Resolve alternative names (ENS, UNS, alt roots, Handshake, Namecoin, gateways).

    Task params (all optional): ``namespace`` (else inferred from the TLD), ``method``
    (else the endpoint's ``options.method``, else the namespace's first method). An
    endpoint serves the namespaces in ``options.namespaces`` (``["*"]`` = every name,
    which is how a colliding TLD is asked of both an ICANN and an alternative resolver),
    else its ``namespace``.
    """

    name: ClassVar[str] = "naming.resolve"
    version: ClassVar[int] = 1
    table: ClassVar[str] = TABLE
    config_class: ClassVar[type[NamingConfig]] = NamingConfig
    uses_endpoints: ClassVar[bool] = True
    routes_by_namespace: ClassVar[bool] = True
    """A target list's explicit namespace reaches :meth:`tasks_for` (the planner)."""

    def __init__(
        self,
        config: NamingConfig | None = None,
        *,
        clock: Clock | None = None,
        policy: NetworkPolicy = ALLOW_ALL,
        registry: Registry | None = None,
    ) -> None:
        self.config = config or NamingConfig()
        self.clock = clock or SystemClock()
        self.policy = policy
        self.registry = registry or shipped_registry()

    def namespace_of(self, target: str) -> str:
        ns = self.registry.for_name(target)
        return ns.name if ns else "icann"

    def tasks_for(
        self, target: str, endpoint: Endpoint | None, *, namespace: str | None = None
    ) -> Iterable[TaskParams]:
        """One task when ``endpoint`` serves the target's namespace: ``namespace`` when the
        target list names it (an ICANN name imported into ENS, jesse.cb.id), else the
        namespace of its TLD."""
        if endpoint is None:
            return ()
        served = endpoint.options.get("namespaces") or [endpoint.namespace]
        ns = namespace or self.namespace_of(target)
        if "*" in served or ns in served:
            return (TaskParams("", {"namespace": ns}),)
        return ()

    async def measure(self, task: Task) -> Observation:
        started = self.clock.now()
        t0 = self.clock.monotonic()
        endpoint = task.endpoint
        obs = Observation(
            table=TABLE,
            target=task.target,
            endpoint=endpoint.url if endpoint else None,
            started_at=started,
        )
        namespace = str(task.params.get("namespace") or self.namespace_of(task.target))
        requested = task.params.get("method") or (
            endpoint.options.get("method") if endpoint else None
        )
        obs.fields = {
            "namespace": namespace,
            "name": task.target,
            "method": str(requested or ""),
            # Whose root or chain answers (N3, N4): not the name's namespace, which a
            # catch-all endpoint (namespaces = ["*"]) also asks for other names.
            "endpoint_namespace": endpoint.namespace if endpoint else None,
            "endpoint_operator": endpoint.operator if endpoint else None,
            # On the wire URL: an eth+http(s) host name is looked up like any other.
            "depends_on_icann_dns": (
                http.depends_on_icann_dns(transport_url(endpoint.url)) if endpoint else None
            ),
            "n_values": 0,
        }
        try:
            try:
                ns = self.registry[namespace]
                method = method_for(namespace, self.registry, requested)
                obs.fields["method"] = method
                normalized = normalize(task.target, ns.normalization)
            except (InvalidName, KeyError, ValueError) as exc:
                raise MeasurementError(
                    Failure.INVALID_INPUT, Operation.RESOLVE, str(exc).strip("'\"")
                ) from exc
            obs.fields["name_normalized"] = normalized
            if endpoint is None:
                raise MeasurementError(Failure.INVALID_INPUT, Operation.RESOLVE, "no endpoint")
            req = Request(
                name=normalized,
                namespace=namespace,
                endpoint=transport_url(endpoint.url),
                options=endpoint.options,
                policy=self.policy,
                timeout=self.config.timeout_s,
                text_keys=self.config.text_keys,
                coin_types=self.config.coin_types,
                uns_keys=self.config.uns_keys,
                headers=identity_headers(self.config.user_agent, self.config.contact),
                compare_registry_walk=self.config.ens_registry_walk,
            )
            t1 = self.clock.monotonic()
            budget = task.deadline_s - min(ENGINE_MARGIN_S, task.deadline_s / 4) - (t1 - t0)
            result = await asyncio.wait_for(METHODS[method](req), max(budget, 0.0))
            obs.fields["latency_ms"] = (self.clock.monotonic() - t1) * 1000
            self._fill(obs, result)
        except MeasurementError as exc:
            obs.failure, obs.failed_operation, obs.failure_detail = (
                exc.failure,
                exc.operation,
                exc.detail or None,
            )
            obs.retryable = exc.failure == Failure.GENERIC_TIMEOUT_ERROR
        except Exception as exc:  # a bug or an unforeseen server: a row, never a crash
            c = classify(exc, Operation.RESOLVE)
            obs.failure, obs.failed_operation, obs.failure_detail = (
                c.failure,
                c.operation,
                c.detail,
            )
            obs.retryable = c.failure == Failure.GENERIC_TIMEOUT_ERROR
        if obs.failure_detail and "\x00" in obs.failure_detail:
            obs.failure_detail = obs.failure_detail.replace("\x00", NUL_STANDIN)
        if "\x00" in task.target:
            obs.fields["name"] = task.target.replace("\x00", NUL_STANDIN)
        obs.duration_ms = (self.clock.monotonic() - t0) * 1000
        return obs

    @staticmethod
    def _fill(obs: Observation, result: MethodResult) -> None:
        obs.fields.update(
            outcome=result.outcome,
            n_values=len(result.values),
            values_summary=summary(
                [Value(v.kind, v.key, v.value.replace("\x00", NUL_STANDIN)) for v in result.values]
            ),
            chain_id=result.chain_id,
            block_number=result.block_number,
            resolver_address=result.resolver_address,
            wildcard=result.wildcard,
            offchain=result.offchain,
            registry_walk_agrees=result.registry_walk_agrees,
            detail=result.detail or None,
        )
        obs.children = [(VALUES_TABLE, _value_row(v)) for v in result.values]


NUL_STANDIN = "\ufffd"
"""PostgreSQL text cannot hold NUL (SQLite can): NUL becomes U+FFFD in text columns."""


def _value_row(v: Value) -> dict[str, Any]:
    """A naming_values row; a value holding NUL keeps its exact bytes in ``raw``."""
    value, raw = v.value, v.raw
    if "\x00" in value:
        raw = raw or "0x" + value.encode("utf-8", "surrogatepass").hex()
        value = value.replace("\x00", NUL_STANDIN)
    return {"kind": v.kind, "key": v.key, "value": value, "raw": raw}


def row_dict(obs: Observation) -> dict[str, Any]:
    """A flat, JSON-friendly view of an observation (for `fragscope probe name`)."""
    out: dict[str, Any] = {
        "target": obs.target,
        "endpoint": obs.endpoint,
        "started_at": obs.started_at.isoformat(),
        "duration_ms": round(obs.duration_ms or 0.0, 3),
        "failure": str(obs.failure) if obs.failure else None,
        "failed_operation": str(obs.failed_operation) if obs.failed_operation else None,
        "failure_detail": obs.failure_detail,
    }
    out.update(obs.fields)
    out["values"] = [c[1] for c in obs.children]
    return out
