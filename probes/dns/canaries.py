"""Canary target sets the DNS indicators need, generated per run. No I/O.

A run's canaries are derived from its UUID, so the same run regenerates the same names
and different runs (or vantages in one round sharing a run id) are comparable:

- ``random_sld``: never-delegated random labels under existing TLDs (NXDOMAIN integrity:
  a resolver answering them is rewriting);
- ``random_tld``: random labels as TLDs (root-view integrity, alternative roots);
- ``dnssec_broken`` / ``dnssec_signed``: names with deliberately broken DNSSEC and signed
  names (a validating resolver must SERVFAIL the first and set AD on the second);
- ``special_use``: names under special-use TLDs that must never resolve on the public
  DNS (RFC 6761 .invalid and .test, RFC 7686 .onion, RFC 9476 .alt);
- ``tld``: the TLD set asked for SOA and NS (a dated sample of the ICANN root plus the
  alternative namespaces' TLDs).

The engine stores each as a target with role ``canary`` and the set name as its list.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fragscope.db import special_use
from fragscope.db.vocab import Role
from fragscope.probes.dns.names import normalize

# A dated sample of ICANN root TLDs (from the root zone as of 2026-11): legacy gTLDs,
# ccTLDs of every region, new gTLDs and an IDN ccTLD.
ICANN_TLD_SAMPLE_DATE = "2026-11"
ICANN_TLD_SAMPLE: tuple[str, ...] = (
    "com", "net", "org", "arpa", "edu", "gov", "int",
    "de", "uk", "fr", "nl", "ru", "cn", "jp", "kr", "in", "br", "ar", "za", "ng", "ke",
    "au", "nz", "ca", "us", "io", "xyz", "app", "dev", "online", "xn--p1ai",
)  # fmt: skip

# OpenNIC TLDs (opennic.org, 2026): an alternative root's own namespace.
OPENNIC_TLDS: tuple[str, ...] = (
    "bbs", "chan", "cyb", "dyn", "geek", "gopher", "indy", "libre", "neo", "null", "o",
    "oss", "oz", "parody", "pirate",
)  # fmt: skip

# Special-use TLDs whose random names an honest public resolver answers NXDOMAIN.
SPECIAL_USE_TLDS: tuple[str, ...] = special_use.CANARY_LABELS

DEFAULT_BROKEN = ("dnssec-failed.org", "brokendnssec.net")
DEFAULT_SIGNED = ("ietf.org", "isc.org")

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_ONION = "abcdefghijklmnopqrstuvwxyz234567"


@dataclass(frozen=True, slots=True)
class Canary:
    name: str
    list_name: str
    qtypes: tuple[str, ...]
    expect: str
    """What an honest resolver returns: nxdomain, servfail, secure, insecure, answer."""
    namespace: str = "icann"
    role: Role = Role.CANARY


@dataclass(frozen=True, slots=True)
class CanaryConfig:
    tlds: tuple[str, ...] = field(
        default=ICANN_TLD_SAMPLE, metadata={"help": "TLDs for random_sld and the tld set"}
    )
    alt_tlds: Mapping[str, Sequence[str]] = field(
        default_factory=lambda: {"opennic": OPENNIC_TLDS},
        metadata={"help": "namespace -> its TLDs, added to the tld set"},
    )
    per_tld: int = field(default=1, metadata={"help": "random never-delegated names per TLD"})
    random_tlds: int = field(default=5, metadata={"help": "random labels asked as TLDs"})
    broken: tuple[str, ...] = field(
        default=DEFAULT_BROKEN, metadata={"help": "names with deliberately broken DNSSEC"}
    )
    signed: tuple[str, ...] = field(
        default=DEFAULT_SIGNED, metadata={"help": "names with valid DNSSEC signatures"}
    )
    special_use: int = field(default=1, metadata={"help": "random names per special-use TLD"})


def _label(rng: random.Random, length: int = 20) -> str:
    # Starts with a fixed, recognisable prefix so operators can see these are canaries;
    # 20 random characters make a collision with a delegated name practically impossible.
    return "fsc" + "".join(rng.choice(_ALPHABET) for _ in range(length - 3))


def canaries(run_id: str, config: CanaryConfig | None = None) -> list[Canary]:
    """The canary set of one run (deterministic in ``run_id``)."""
    cfg = config or CanaryConfig()
    rng = random.Random(uuid.UUID(run_id).int)
    out: list[Canary] = []
    for tld in cfg.tlds:
        for _ in range(cfg.per_tld):
            out.append(Canary(f"{_label(rng)}.{tld}", "random_sld", ("A", "AAAA"), "nxdomain"))
    existing = set(cfg.tlds) | {t for ts in cfg.alt_tlds.values() for t in ts}
    made = 0
    while made < cfg.random_tlds:
        tld = _label(rng, 12)
        if tld in existing:
            continue
        out.append(Canary(tld, "random_tld", ("A", "SOA"), "nxdomain"))
        made += 1
    out += [Canary(n, "dnssec_broken", ("A",), "servfail") for n in cfg.broken]
    out += [Canary(n, "dnssec_signed", ("A", "DNSKEY"), "secure") for n in cfg.signed]
    for tld in SPECIAL_USE_TLDS:
        for _ in range(cfg.special_use):
            if tld == "onion":
                label = "".join(rng.choice(_ONION) for _ in range(56))  # v3 onion length
            else:
                label = _label(rng)
            out.append(Canary(f"{label}.{tld}", "special_use", ("A",), "nxdomain"))
    out += [Canary(t, "tld", ("SOA", "NS"), "answer") for t in cfg.tlds]
    for namespace, tlds in cfg.alt_tlds.items():
        out += [Canary(t, "tld", ("SOA", "NS"), "answer", namespace=namespace) for t in tlds]
    for canary in out:
        normalize(canary.name)  # every canary is a sendable name (raises otherwise)
    return out
