"""What every section of the lab's truth shares: its one error type and field helpers. No I/O.

lab.truth composes the sections (lab.dns.schema, lab.web.schema, lab.chain.schema,
lab.vantages.facts); each parses its part of the planted facts with these helpers and
raises :class:`TruthError`, whose message names the offending entry and field.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any


class TruthError(ValueError):
    """The truth is inconsistent or malformed; the message names the offending entry and field."""


def absolute(name: str) -> str:
    """``name`` as an absolute, lower-case DNS name ("." for the root)."""
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


def is_subdomain(name: str, zone: str) -> bool:
    """True when ``name`` is ``zone`` or below it (both absolute)."""
    return zone == "." or name == zone or name.endswith("." + zone)


def get_field(table: dict[str, Any], key: str, where: str) -> Any:
    try:
        return table[key]
    except KeyError:
        raise TruthError(f"{where}: missing field {key!r}") from None


def check_ip(value: str, where: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise TruthError(f"{where}: {value!r} is not an IP address") from None
    return value


def check_asn(value: object, where: str) -> int:
    """An AS number: an integer in 1..2^32-1 (RFC 6793; 0 is reserved, RFC 7607)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**32:
        raise TruthError(f"{where}: {value!r} is not an AS number (1..4294967295)")
    return value


def companion_file(rel: str, source: Path, package_dir: Path, where: str) -> Path:
    """``rel`` next to the truth file ``source``, else in ``package_dir`` (a copied truth.toml
    still finds the packaged per-component files)."""
    for base in (source.parent, package_dir):
        if (base / rel).is_file():
            return (base / rel).resolve()
    raise TruthError(f"{where}: {rel!r} found neither next to {source} nor in {package_dir}")
