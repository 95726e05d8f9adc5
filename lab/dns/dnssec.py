"""DNSSEC keys and signing for the lab's zones with BIND's tools. Runs subprocesses, writes files.

dnssec-keygen makes one KSK and one ZSK (ECDSAP256SHA256, algorithm 13, RFC 6605) per zone;
dnssec-signzone signs with NSEC (RFC 4034) or NSEC3 without salt and with 0 extra
iterations (RFC 9276 section 3.1), or with a validity window that ended in the past to plant
an expired signature. The DS to publish in the parent comes from the dsset file.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

ALGORITHM = "ECDSAP256SHA256"
# An expired zone is signed with a window that closed long ago (RFC 4034 section 3.1.5).
EXPIRED_INCEPTION = "20200101000000"
EXPIRED_EXPIRATION = "20200201000000"
KEYS_ACTIVE_FROM = "20191201000000"


class SigningError(RuntimeError):
    """A BIND signing tool failed; the message has its command line and stderr."""


@dataclass(frozen=True)
class Signed:
    zone: str
    signed_file: Path
    ds: tuple[str, ...]  # DS rdata lines for the parent, e.g. "12345 13 2 ABCD..."
    ksk_dnskey: str  # the KSK's DNSKEY RR in presentation format (a trust anchor)


def _run(argv: list[str]) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise SigningError(f"{' '.join(argv)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout.strip()


def sign(
    zone: str, zonefile: Path, *, keys_dir: Path, denial: str = "nsec", expired: bool = False
) -> Signed:
    """Generate keys for ``zone`` and sign ``zonefile`` into ``zonefile + '.signed'``."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    keygen = ["dnssec-keygen", "-q", "-K", str(keys_dir), "-a", ALGORITHM]
    if expired:
        # Smart signing (-S) only uses keys active at the inception time: backdate them.
        keygen += ["-P", KEYS_ACTIVE_FROM, "-A", KEYS_ACTIVE_FROM]
    ksk = _run([*keygen, "-f", "KSK", zone])
    _run([*keygen, zone])
    out = zonefile.with_name(zonefile.name + ".signed")
    argv = ["dnssec-signzone", "-q", "-S", "-K", str(keys_dir), "-d", str(keys_dir)]
    argv += ["-o", zone, "-N", "keep", "-f", str(out)]
    if denial == "nsec3":
        argv += ["-3", "-", "-H", "0"]
    if expired:
        # -P: skip the post-signing check, which (rightly) rejects expired signatures.
        argv += ["-P", "-s", EXPIRED_INCEPTION, "-e", EXPIRED_EXPIRATION]
    _run([*argv, str(zonefile)])
    dsset = keys_dir / f"dsset-{zone}"
    ds = tuple(" ".join(line.split()[3:]) for line in dsset.read_text().splitlines() if line)
    key_text = (keys_dir / f"{ksk}.key").read_text()
    dnskey = next(line for line in key_text.splitlines() if line and not line.startswith(";"))
    return Signed(zone=zone, signed_file=out, ds=ds, ksk_dnskey=dnskey)


def bogus_ds(zone: str) -> str:
    """A DS that matches no key: the zone is unsigned, so validation must fail (bogus).

    Deterministic (SHA-256 of the name) so reruns plant the same record.
    """
    digest = hashlib.sha256(zone.encode()).hexdigest().upper()
    return f"12345 13 2 {digest}"
