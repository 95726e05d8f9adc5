"""Where a lab run keeps its files: the layout of the run directory. No I/O (paths only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunPaths:
    """Where everything lives under a run directory."""

    root: Path

    @property
    def zones(self) -> Path:
        return self.root / "zones"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids.json"

    @property
    def root_anchor(self) -> Path:
        return self.keys / "root.anchor"

    @property
    def vantages(self) -> Path:
        """Where the vantages' relay PID files and logs go."""
        return self.root / "vantages"

    @property
    def web(self) -> Path:
        """The web hosts' configuration and state."""
        return self.root / "web"

    def state(self, service: str) -> Path:
        return self.root / "state" / service

    def log(self, service: str) -> Path:
        return self.logs / f"{service}.log"
