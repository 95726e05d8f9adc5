"""The probe registry: dotted name -> probe class. No I/O.

Probe modules call :func:`register` at import; :func:`load_builtin_probes` imports the
modules fragscope ships so the CLI and the engine see all of them.
"""

from __future__ import annotations

import importlib
from typing import Any

_PROBES: dict[str, type[Any]] = {}

# Modules that register probes on import; each probe issue appends its module here.
BUILTIN_PROBE_MODULES: tuple[str, ...] = (
    "probes.null",
    "probes.dns.query",
    "probes.dns.iterative",
    "probes.transport.tls",
    "probes.transport.quic",
    "probes.transport.vn",
    "probes.transport.path",
    "probes.naming.probe",
)


def register(cls: type[Any]) -> type[Any]:
    """Class decorator: register a probe under ``cls.name``."""
    name = cls.name
    if name in _PROBES and _PROBES[name] is not cls:
        raise ValueError(f"probe {name!r} registered twice")
    _PROBES[name] = cls
    return cls


def load_builtin_probes() -> None:
    for module in BUILTIN_PROBE_MODULES:
        importlib.import_module(module)


def get(name: str) -> type[Any]:
    load_builtin_probes()
    try:
        return _PROBES[name]
    except KeyError:
        raise KeyError(f"unknown probe {name!r}; known: {', '.join(sorted(_PROBES))}") from None


def all_probes() -> dict[str, type[Any]]:
    load_builtin_probes()
    return dict(sorted(_PROBES.items()))
