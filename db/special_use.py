"""The special-use top-level labels: the one list that probes and analysis read. No I/O.

The single-label entries of the IANA Special-Use Domain Names registry (RFC 6761 section
6: test, localhost, invalid, example; RFC 6762 section 3: local; RFC 7686: onion; RFC
9476: alt). Multi-label entries such as home.arpa (RFC 8375) are under the ordinary arpa
TLD, so they are not here: every user compares a name's last label (TLD collisions, the
DNS canaries' TLDs, N8's suffix rule).

Each label says what the RFCs ask of resolvers for names under it, and so which users take
it: ``canary`` labels get random names in the DNS canary set (an honest public resolver
answers them NXDOMAIN), ``never_resolves`` labels make N8 count every name under them (no
resolver anywhere may answer them), not only the canaries.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SpecialUseLabel:
    label: str
    rfc: str
    canary: bool
    never_resolves: bool


SPECIAL_USE: tuple[SpecialUseLabel, ...] = (
    # RFC 7686 section 2: caching servers MUST generate NXDOMAIN for .onion.
    SpecialUseLabel("onion", "RFC 7686", canary=True, never_resolves=True),
    # RFC 6761 section 6.4: .invalid is guaranteed never to exist.
    SpecialUseLabel("invalid", "RFC 6761 section 6.4", canary=True, never_resolves=True),
    # RFC 6761 section 6.2: resolvers SHOULD answer .test negatively by default, but
    # private test networks may serve it (the lab's zones are .test): canaries only.
    SpecialUseLabel("test", "RFC 6761 section 6.2", canary=True, never_resolves=False),
    # RFC 9476 section 2: .alt is for non-DNS namespaces and never in the DNS root.
    SpecialUseLabel("alt", "RFC 9476", canary=True, never_resolves=True),
    # RFC 6761 section 6.5: resolvers SHOULD NOT treat .example specially.
    SpecialUseLabel("example", "RFC 6761 section 6.5", canary=False, never_resolves=False),
    # RFC 6762 section 3: .local is multicast DNS, answered on the link, not by resolvers.
    SpecialUseLabel("local", "RFC 6762 section 3", canary=False, never_resolves=False),
    # RFC 6761 section 6.3: resolvers SHOULD answer localhost with the loopback address.
    SpecialUseLabel("localhost", "RFC 6761 section 6.3", canary=False, never_resolves=False),
)
"""The labels; canary labels first, in the order the canary generator draws them."""

SOURCE = (
    "IANA Special-Use Domain Names registry, single-label entries: RFC 6761 section 6 "
    "(test, localhost, invalid, example), RFC 6762 section 3 (local), RFC 7686 (onion), "
    "RFC 9476 (alt)"
)
DATE = "2026-11-28"  # when the registry was last checked against this list

LABELS: frozenset[str] = frozenset(s.label for s in SPECIAL_USE)
CANARY_LABELS: tuple[str, ...] = tuple(s.label for s in SPECIAL_USE if s.canary)
NEVER_RESOLVING: tuple[str, ...] = tuple(s.label for s in SPECIAL_USE if s.never_resolves)
