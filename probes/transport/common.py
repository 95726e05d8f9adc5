"""Helpers shared by the transport probes: target address, SNI, deadlines. No I/O."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from db.vocab import Failure, Operation
from probes.errors import MeasurementError

USER_AGENT = "fragscope/0.1 (Internet fragmentation research; +https://example.invalid/fragscope)"


def is_ip_literal(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


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


def destination(target: str, params: Mapping[str, Any], default_port: int) -> Destination:
    """The (address, port, SNI) of a task: ``params["address"]`` or an IP-literal target.

    The follow-up model (issue 8): the engine resolves the target and hands each address
    in ``params["address"]``; the target stays the hostname and becomes the SNI.
    """
    address = str(params.get("address") or target)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise MeasurementError(
            Failure.INVALID_INPUT,
            Operation.CONNECT,
            f"address: {address!r} is not an IP literal (resolve first, or pass params.address)",
        ) from None
    port = int(params.get("port") or default_port)
    if not 0 < port < 65536:
        raise MeasurementError(Failure.INVALID_INPUT, Operation.CONNECT, f"port: {port}")
    sni = params.get("sni")
    if sni is None and not is_ip_literal(target):
        sni = target
    return Destination(ip.compressed, port, sni, ip.version)


class Deadline:
    """The task's overall deadline, shared by its steps (aioquic has none of its own)."""

    def __init__(self, start: float, total_s: float) -> None:
        self.end = start + total_s

    def budget(self, now: float, step_s: float) -> float:
        """Seconds the next step may take: its own limit, capped by what is left."""
        return max(0.0, min(step_s, self.end - now))
