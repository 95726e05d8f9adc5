"""The probe registry: dotted name -> probe class. No I/O.

Probe modules call :func:`register` at import; :func:`load_builtin_probes` imports the
modules fragscope ships so the CLI and the engine see all of them. :func:`get` imports
them one at a time until the name is registered: a DNS campaign then does not import the
naming probe's Ethereum stack (~0.9 s of every ``fragscope run``, bench/dns.py).
"""

from __future__ import annotations

import importlib
from typing import Any

_PROBES: dict[str, type[Any]] = {}

# Modules that register probes on import; each probe issue appends its module here.
BUILTIN_PROBE_MODULES: tuple[str, ...] = (
    "fragscope.probes.null",
    "fragscope.probes.dns.query",
    "fragscope.probes.dns.iterative",
    "fragscope.probes.transport.tls",
    "fragscope.probes.transport.quic",
    "fragscope.probes.transport.vn",
    "fragscope.probes.transport.sni",
    "fragscope.probes.transport.ech",
    "fragscope.probes.transport.path",
    "fragscope.probes.naming.probe",
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
    cls = _PROBES.get(name)
    if cls is not None:
        return cls
    for module in BUILTIN_PROBE_MODULES:
        importlib.import_module(module)
        cls = _PROBES.get(name)
        if cls is not None:
            return cls
    raise KeyError(f"unknown probe {name!r}; known: {', '.join(sorted(_PROBES))}")


def find(name: str) -> type[Any] | None:
    """The probe registered as ``name`` (importing built-in modules as needed), or None."""
    try:
        return get(name)
    except KeyError:
        return None


def all_probes() -> dict[str, type[Any]]:
    load_builtin_probes()
    return dict(sorted(_PROBES.items()))
