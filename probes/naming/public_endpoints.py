"""The public naming endpoints known from the sources in docs/sources.md, and OpenNIC's
Tier-1 servers, as data. File I/O only.

For the real-Internet campaign: the engine or the campaign writer turns the entries into
Endpoints; nothing here contacts them.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass
from typing import Any

from fragscope.probes.naming.namespaces import DATA_DIR, RegistryError

REQUIRED = ("url", "method", "namespaces", "operator", "source", "last_known_working", "status")


@dataclass(frozen=True, slots=True)
class PublicEndpoint:
    url: str
    method: str
    namespaces: tuple[str, ...]
    operator: str
    depends_on_icann_dns: bool
    source: tuple[str, ...]
    last_known_working: str
    status: str
    options: dict[str, Any]


def load_public_endpoints() -> list[PublicEndpoint]:
    path = DATA_DIR / "public_endpoints.toml"
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    out = []
    for i, entry in enumerate(doc.get("endpoint", []), 1):
        missing = [k for k in REQUIRED if k not in entry]
        if missing:
            raise RegistryError(f"{path}: endpoint #{i}: missing {', '.join(missing)}")
        out.append(
            PublicEndpoint(
                url=entry["url"],
                method=entry["method"],
                namespaces=tuple(entry["namespaces"]),
                operator=entry["operator"],
                depends_on_icann_dns=bool(entry.get("depends_on_icann_dns", True)),
                source=tuple(entry["source"]),
                last_known_working=str(entry["last_known_working"]),
                status=entry["status"],
                options=dict(entry.get("options", {})),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Tier1Server:
    """One OpenNIC Tier-1 (root) server: its ``name`` where a source gives it."""

    ipv4: str
    name: str | None = None


def load_opennic_tier1() -> list[Tier1Server]:
    """data/opennic-tier1.toml (its header gives the sources, the date and the status)."""
    path = DATA_DIR / "opennic-tier1.toml"
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    out = []
    for i, entry in enumerate(doc.get("server", []), 1):
        try:
            address = ipaddress.IPv4Address(entry["ipv4"])
        except (KeyError, ValueError) as exc:
            raise RegistryError(f"{path}: server #{i}: ipv4: {exc}") from None
        out.append(Tier1Server(ipv4=str(address), name=entry.get("name")))
    return out
