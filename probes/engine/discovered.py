"""Resolvers a run finds at its start: dns.query's ``discovery`` endpoints expanded. Does I/O.

A campaign cannot name OpenNIC's Tier-2 resolvers: they come and go, so it names the
GeoIP API that lists the nearest ones (docs/naming.md, "OpenNIC";
probes/naming/methods/discovery.py). When dns.query lists such an endpoint (``options.method
= "discovery"``), ``fragscope run`` asks the API once, before the run row is written, and
dns.query measures the listed servers over Do53 (the first ``options.servers``, on
``options.dns_port``) as test resolvers of the endpoint's namespace, labelled
``LABEL@ADDRESS``. So N2 and N1 see an OpenNIC resolver's root view on a real run.

What was found is part of the run: ``runs.config["_discovered"]`` holds, per discovery
endpoint, the API, when it was asked, the servers it listed and those measured, or the
error. A resumed run (and a shard joining it) reuses that record, so its task keys do
not change. A failed discovery is a ``dns_observations`` row of purpose ``discovery``
with the failure (http_error, blocked_by_policy, ...), a warning, and no resolver: the
run goes on. Listed addresses go through the network policy like any endpoint: the API
cannot widen where a campaign may send (probes/engine/destinations.py). ``run --dry-run``
sends nothing: it says which endpoints' resolvers come from discovery
(:func:`dry_run_notes`) and plans without them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fragscope.db.vocab import Failure, Operation
from fragscope.db.writer import Row
from fragscope.probes import registry
from fragscope.probes.base import Endpoint, SystemClock, Task
from fragscope.probes.engine.campaign import Campaign, ProbeSettings
from fragscope.probes.engine.ledger import TaskLedger
from fragscope.probes.engine.row_encoding import ObservationEncoder, failure_observation
from fragscope.probes.engine.state import ProbeRuntime
from fragscope.probes.errors import MeasurementError
from fragscope.probes.naming.methods import discovery
from fragscope.probes.politeness import identity_headers
from fragscope.probes.safety import NetworkPolicy

PROBE = "dns.query"
"""The probe whose discovery endpoints are expanded into resolvers."""
METHOD = "discovery"
RUN_KEY = "_discovered"
"""Where ``runs.config`` records what each discovery endpoint gave."""
PURPOSE = "discovery"
"""``dns_observations.purpose`` of the row of a failed discovery."""


@dataclass(frozen=True, slots=True)
class Found:
    """What one discovery endpoint gave at run start."""

    label: str
    api: str
    asked_at: str
    """UTC time the API was asked (ISO 8601)."""
    listed: tuple[str, ...] = ()
    measured: tuple[str, ...] = ()
    """The listed servers dns.query asks (the first ``options.servers``)."""
    port: int = 53
    failure: str | None = None
    operation: str | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "api": self.api,
            "asked_at": self.asked_at,
            "listed": list(self.listed),
            "measured": list(self.measured),
            "port": self.port,
            "failure": self.failure,
            "operation": self.operation,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, label: str, data: Mapping[str, Any]) -> Found:
        return cls(
            label=label,
            api=str(data["api"]),
            asked_at=str(data["asked_at"]),
            listed=tuple(data.get("listed") or ()),
            measured=tuple(data.get("measured") or ()),
            port=int(data.get("port", 53)),
            failure=data.get("failure"),
            operation=data.get("operation"),
            error=data.get("error"),
        )


def _key(ep: Endpoint) -> str:
    return ep.label or ep.url


def _dns_settings(campaign: Campaign) -> ProbeSettings | None:
    return next((p for p in campaign.probes if p.name == PROBE), None)


def discovery_endpoints(campaign: Campaign) -> tuple[Endpoint, ...]:
    """The endpoints dns.query uses whose servers come from a directory API."""
    settings = _dns_settings(campaign)
    if settings is None:
        return ()
    return tuple(
        ep
        for ep in campaign.endpoints
        if ep.options.get("method") == METHOD
        and (settings.endpoints is None or _key(ep) in settings.endpoints)
    )


async def _ask(ep: Endpoint, *, policy: NetworkPolicy, campaign: Campaign) -> Found:
    asked_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    port = discovery.dns_port(ep.options)
    headers = identity_headers(campaign.politeness.user_agent, campaign.politeness.contact)
    try:
        listed, _reused = await discovery.fetch_server_list(
            ep.url, policy=policy, headers=headers, timeout=campaign.limits.deadline
        )
    except MeasurementError as exc:
        return Found(
            _key(ep),
            ep.url,
            asked_at,
            port=port,
            failure=str(exc.failure),
            operation=str(exc.operation) if exc.operation else None,
            error=exc.detail or str(exc.failure),
        )
    measured = discovery.servers_to_ask(listed, ep.options)
    return Found(_key(ep), ep.url, asked_at, listed, measured, port)


def discover(campaign: Campaign, *, policy: NetworkPolicy) -> dict[str, Found]:
    """Ask each discovery endpoint of dns.query for its servers (one request each)."""
    eps = discovery_endpoints(campaign)
    if not eps:
        return {}

    async def ask_all() -> list[Found]:
        return list(
            await asyncio.gather(*(_ask(ep, policy=policy, campaign=campaign) for ep in eps))
        )

    return {f.label: f for f in asyncio.run(ask_all())}


def recorded(config: Mapping[str, Any]) -> dict[str, Found]:
    """What a stored run's config says its discovery endpoints gave."""
    stored = config.get(RUN_KEY) or {}
    return {label: Found.from_json(label, data) for label, data in stored.items()}


def to_config(found: Mapping[str, Found]) -> dict[str, Any]:
    """``runs.config[RUN_KEY]``: the JSON record of ``found``."""
    return {label: f.as_json() for label, f in found.items()}


def resolver_endpoints(ep: Endpoint, found: Found) -> tuple[Endpoint, ...]:
    """The Do53 resolvers of ``found``, each an endpoint that says where it came from."""
    return tuple(
        Endpoint(
            url=discovery.server_url(address, found.port),
            operator=ep.operator,
            role=ep.role,
            namespace=ep.namespace,
            label=f"{_key(ep)}@{address}",
            rate=ep.rate,
            options=types.MappingProxyType(
                {"discovered_by": _key(ep), "api": found.api, "asked_at": found.asked_at}
            ),
            filtering=ep.filtering,
            validates_dnssec=ep.validates_dnssec,
        )
        for address in found.measured
    )


def expand(campaign: Campaign, found: Mapping[str, Found]) -> Campaign:
    """``campaign`` with dns.query's discovery endpoints replaced by the resolvers they
    gave (none for one that failed or was not asked); the other probes keep the
    endpoints they had."""
    eps = discovery_endpoints(campaign)
    if not eps:
        return campaign
    labels = {_key(ep) for ep in eps}
    added: list[Endpoint] = []
    for ep in eps:
        f = found.get(_key(ep))
        if f is not None:
            added.extend(resolver_endpoints(ep, f))
    before = tuple(_key(ep) for ep in campaign.endpoints)
    probes: list[ProbeSettings] = []
    for settings in campaign.probes:
        chosen = settings.endpoints if settings.endpoints is not None else before
        if settings.name == PROBE:
            chosen = tuple(k for k in chosen if k not in labels) + tuple(_key(ep) for ep in added)
        probes.append(dataclasses.replace(settings, endpoints=chosen))
    return dataclasses.replace(
        campaign, endpoints=campaign.endpoints + tuple(added), probes=tuple(probes)
    )


def warnings(found: Mapping[str, Found]) -> list[str]:
    """One line per failed discovery, for the operator."""
    return [
        f"discovery endpoint {f.label!r} ({f.api}) failed: {f.error}; dns.query asks none "
        "of its resolvers in this run"
        for f in found.values()
        if f.error is not None
    ]


def failure_rows(
    campaign: Campaign, found: Mapping[str, Found], *, run_id: str, vantage_id: str
) -> list[Row]:
    """The ``dns_observations`` row (and ``tasks_done`` row) of each failed discovery."""
    failed = [f for f in found.values() if f.error is not None]
    settings = _dns_settings(campaign)
    if not failed or settings is None:
        return []
    clock = SystemClock()
    instance = registry.get(PROBE)(settings.config, clock=clock)
    rt = ProbeRuntime(instance, deadline=campaign.limits.deadline, retries=0)
    encoder = ObservationEncoder(run_id=run_id, vantage_id=vantage_id, clock=clock)
    ledger = TaskLedger(run_id=run_id, shard_index=0, clock=clock)
    by_label = {_key(ep): ep for ep in discovery_endpoints(campaign)}
    rows: list[Row] = []
    for f in failed:
        ep = by_label.get(f.label)
        key = f"{PROBE}|{f.label}|{f.label}|{PURPOSE}|0"
        task = Task(key, PROBE, f.label, ep, {})
        obs = failure_observation(
            rt.instance.table,
            task,
            Failure(f.failure or Failure.UNKNOWN_FAILURE),
            operation=Operation(f.operation) if f.operation else None,
            detail=f"discovery at {f.asked_at}: {f.error}",
            t0=time.monotonic(),
            clock=clock,
        )
        obs.fields = {
            "purpose": PURPOSE,
            "resolver_operator": ep.operator if ep else None,
            "resolver_namespace": ep.namespace if ep else None,
            "resolver_role": str(ep.role) if ep else None,
        }
        encoder.observation(rt, task, attempt=0, obs=obs, rows=rows)
        rows.append(ledger.done(key, PROBE, attempts=1, failure=f.failure))
    return rows


def dry_run_notes(campaign: Campaign) -> list[str]:
    """What ``run --dry-run`` says instead of asking the APIs."""
    return [
        f"# endpoint {_key(ep)} ({ep.url}): dns.query's resolvers come from discovery at "
        f"run start: the first {discovery.server_count(ep.options)} servers the API lists, "
        f"over Do53 port {discovery.dns_port(ep.options)} (their tasks are not listed: "
        "nothing is sent)"
        for ep in discovery_endpoints(campaign)
    ]
