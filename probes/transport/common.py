"""Helpers shared by the transport probes: target address, SNI, deadlines. No I/O."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.errors import MeasurementError
from fragscope.probes.safety import NetworkPolicy

USER_AGENT = "fragscope/0.1 (Internet fragmentation research; +https://example.invalid/fragscope)"


def is_ip_literal(text: str) -> bool:
    return _parse_ip(text) is not None


@dataclass(frozen=True, slots=True)
class Destination:
    address: str
    port: int
    sni: str | None
    ip_version: int

    @property
    def endpoint(self) -> str:
        host = f"[{self.address}]" if self.ip_version == 6 else self.address
        return f"{host}:{self.port}"


@functools.lru_cache(maxsize=65536)
def _parse_ip(address: str) -> tuple[str, int] | None:
    # ipaddress parsing costs ~40 us; campaigns probe each address with several probes.
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return ip.compressed, ip.version


class PolicyCache:
    """Remembers a (frozen) NetworkPolicy's verdict per address, for the hot path."""

    def __init__(self, policy: NetworkPolicy) -> None:
        self.policy = policy
        self._verdicts: dict[str, bool] = {}

    def require(self, address: str, operation: Operation) -> None:
        allowed = self._verdicts.get(address)
        if allowed is None:
            allowed = self._verdicts[address] = self.policy.allows(address)
            if len(self._verdicts) > 65536:
                self._verdicts.clear()
        if not allowed:
            self.policy.require(address, operation)  # raises blocked_by_policy


def destination(target: str, params: Mapping[str, Any], default_port: int) -> Destination:
    """The (address, port, SNI) of a task: ``params["address"]`` or an IP-literal target.

    The follow-up model (issue 8): the engine resolves the target and hands each address
    in ``params["address"]``; the target stays the hostname and becomes the SNI.
    """
    address = str(params.get("address") or target)
    parsed = _parse_ip(address)
    if parsed is None:
        raise MeasurementError(
            Failure.INVALID_INPUT,
            Operation.CONNECT,
            f"address: {address!r} is not an IP literal (resolve first, or pass params.address)",
        )
    raw_port = params.get("port")
    if raw_port is None:
        raw_port = default_port
    try:
        port = int(raw_port)
    except (TypeError, ValueError):
        port = -1
    if not 0 < port < 65536:
        raise MeasurementError(
            Failure.INVALID_INPUT, Operation.CONNECT, f"port: {raw_port!r} is not 1..65535"
        )
    sni = params.get("sni")
    if sni is None and _parse_ip(target) is None:
        sni = target
    return Destination(parsed[0], port, sni, parsed[1])


class Deadline:
    """The task's overall deadline, shared by its steps (aioquic has none of its own)."""

    def __init__(self, start: float, total_s: float) -> None:
        self.end = start + total_s

    def budget(self, now: float, step_s: float) -> float:
        """Seconds the next step may take: its own limit, capped by what is left."""
        return max(0.0, min(step_s, self.end - now))


def fallback_fields(target: str, params: Mapping[str, Any], default_port: int) -> dict[str, Any]:
    """Address columns for a row whose task never got a valid destination (never raises)."""
    address = str(params.get("address") or target)[:64]
    try:
        port = int(params.get("port", default_port))
    except (TypeError, ValueError):
        port = default_port
    return {"address": address, "port": port, "ip_version": 6 if ":" in address else 4}
