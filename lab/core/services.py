"""The lab's services as data: what runs, where it listens, how its health is checked. No I/O.

Every component turns its truth section into Service records; lab.world starts them in the
lab namespace (lab.core.process), waits for every listener's check and stops them by PID.
Any daemon that runs in the foreground and can be checked with a real query fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fragscope.lab.core.health import Check

# The package must be importable inside the namespace, installed or not: lab daemons
# written in Python (DoQ, web hosts, the CCIP-read gateway) run with this PYTHONPATH (the
# repository root, where fragscope/ links every package folder).
PYTHONPATH = {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}


@dataclass(frozen=True)
class Listener:
    """One address/port/protocol of a service and the query that proves it works."""

    address: str
    port: int
    protocol: str  # udp | tcp | tls | https | quic | http
    check: Check | None = None


@dataclass(frozen=True)
class Service:
    """A daemon of the lab: started with ``argv`` inside the lab namespace."""

    name: str
    group: str
    software: str
    argv: tuple[str, ...]
    listeners: tuple[Listener, ...]
    log: Path
    pidfile: Path | None = None  # the daemon's own pidfile (ours is the run's pids.json)
    phase: int = 1  # phase 0 runs first: its data (Knot's DS) is needed to sign the root
    env: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return self.listeners[0].address

    @property
    def port(self) -> int:
        return self.listeners[0].port

    @property
    def protocol(self) -> str:
        return self.listeners[0].protocol
