"""What every health check of the lab shares: where it connects and what it found. No I/O.

A component's checks (lab.dns.health: DNS queries; lab.web.health: TLS and QUIC handshakes;
lab.chain.health: JSON-RPC and the gateway) each pass only on a correct answer, so
"healthy" means the daemon serves the planted data, not just that a port is open. They
contact only lab addresses (lab.core.guard).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fragscope.lab.core.guard import require_lab_address


@dataclass(frozen=True)
class Result:
    ok: bool
    detail: str


@dataclass(frozen=True)
class Target:
    """Where a check connects and how: one listener of a service, seen from the host."""

    address: str
    port: int
    protocol: str
    ca_file: str | None = None
    tls_hostname: str | None = None
    timeout: float = 2.0


class Check(Protocol):
    """What a Listener's health check provides (each component's health module has some)."""

    def describe(self) -> str: ...

    def run(self, target: Target) -> Result: ...


def lab_target(target: Target) -> tuple[str, int, float]:
    """``target``'s address, port and timeout; refuses (ValueError) any non-lab address."""
    return require_lab_address(target.address), target.port, target.timeout
