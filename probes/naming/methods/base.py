"""What every access method takes and returns. No I/O.

A method gets a :class:`Request` (the normalised name, the endpoint URL and options, the
network policy) and returns a :class:`MethodResult`, or raises ``MeasurementError`` when
the measurement itself failed. "The name does not exist" is a result (outcome
``not_found``), not a failure: the endpoint answered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fragscope.probes.safety import NetworkPolicy

RESOLVED = "resolved"
NO_RECORDS = "no_records"
NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class Value:
    """One resolved value: kind (addr, contenthash, text, a, ...), key, text, raw hex."""

    kind: str
    key: str | None
    value: str
    raw: str | None = None


@dataclass(slots=True)
class MethodResult:
    outcome: str
    values: list[Value] = field(default_factory=list)
    chain_id: int | None = None
    block_number: int | None = None
    resolver_address: str | None = None
    wildcard: bool | None = None
    offchain: bool | None = None
    registry_walk_agrees: bool | None = None
    """ENS through the Universal Resolver: whether the registry walk agreed (None: not
    compared)."""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Request:
    name: str
    """The name as normalised for its namespace."""
    namespace: str
    endpoint: str
    options: Mapping[str, Any]
    """Endpoint options from the campaign (registry, chain_id, proxy_reader, ...)."""
    policy: NetworkPolicy
    timeout: float = 10.0
    text_keys: tuple[str, ...] = ()
    coin_types: tuple[int, ...] = ()
    uns_keys: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    """User-Agent and From of the campaign (probes/politeness.py), on every HTTP request."""
    compare_registry_walk: bool = False
    """ENS ``eth-rpc``: also walk the registry at the same block and record agreement."""


MethodFn = Callable[[Request], Awaitable[MethodResult]]


def transport_url(url: str) -> str:
    """The URL a method speaks to: the engine's ``eth+http(s)://`` JSON-RPC schemes
    (probes/endpoints.py) are plain HTTP(S) on the wire."""
    for scheme in ("eth+http://", "eth+https://"):
        if url.startswith(scheme):
            return url[len("eth+") :]
    return url


def summary(values: list[Value]) -> dict[str, Any]:
    """A compact JSON summary of values: kind -> [value] or kind -> {key: value}."""
    out: dict[str, Any] = {}
    for v in values:
        if v.key is None:
            out.setdefault(v.kind, []).append(v.value)
        else:
            out.setdefault(v.kind, {})[v.key] = v.value
    return out
