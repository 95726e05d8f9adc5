"""Per-namespace name normalisation: what a name must look like before anything is sent.

No I/O. ``ens`` and ``uns`` use ENSIP-15 (ens-normalize); ``idna`` uses IDNA 2008 through
dnspython; ``namecoin`` requires ``<label>.bit``; ``onion`` requires an RFC 7686 / Tor v3
address (56 base32 characters). Invalid names raise :class:`InvalidName` with the reason.
"""

from __future__ import annotations

import re

import dns.name

from fragscope.probes.naming.ens import InvalidName
from fragscope.probes.naming.ens import normalize as ens_normalize

_ONION_V3 = re.compile(r"^(?:[a-z0-9-]+\.)*[a-z2-7]{55}d\.onion$")

_LDH = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")

__all__ = ["InvalidName", "normalize"]


def _idna(name: str) -> str:
    if not name or name != name.strip() or "\x00" in name:
        raise InvalidName(f"name {name!r}: empty, NUL or surrounded by whitespace")
    try:
        parsed = dns.name.from_text(name.rstrip("."), idna_codec=dns.name.IDNA_2008_Practical)
    except Exception as exc:  # dnspython raises a family of NameError/IDNA exceptions
        raise InvalidName(f"name {name!r}: {type(exc).__name__}: {exc}") from exc
    text = parsed.to_text(omit_final_dot=True).lower()
    # Host names (RFC 1123 section 2.1 LDH rule), with underscores for service labels.
    for label in text.split("."):
        if not _LDH.match(label):
            raise InvalidName(f"name {name!r}: label {label!r} is not letters, digits, hyphens")
    return text


def normalize(name: str, rule: str) -> str:
    """The name normalised under ``rule`` (a namespace's ``normalization``)."""
    if rule in ("ens", "uns"):
        return ens_normalize(name)
    if rule == "idna":
        return _idna(name)
    if rule == "namecoin":
        normalized = _idna(name)
        label, _, tld = normalized.rpartition(".")
        if tld != "bit" or not label or "." in label:
            raise InvalidName(f"name {name!r}: Namecoin names are <label>.bit (IFA-0001)")
        return normalized
    if rule == "onion":
        lowered = name.lower().rstrip(".")
        if not _ONION_V3.match(lowered):
            raise InvalidName(f"name {name!r}: not a Tor v3 onion address (RFC 7686)")
        return lowered
    if rule == "none":
        if not name or len(name) > 1024:
            raise InvalidName("empty or over-long name")
        return name
    raise InvalidName(f"unknown normalisation rule {rule!r}")
