"""The public naming endpoints known from the sources in docs/sources.md, as data. File I/O only.

For the real-Internet campaign: the engine or the campaign writer turns the entries into
Endpoints; nothing here contacts them.
"""

from __future__ import annotations

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
