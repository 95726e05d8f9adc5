"""Benchmark: wall time of `lab up` and `lab down` against the targets. Does I/O (root).

Targets: the whole lab (part 1's DNS world + part 2's web hosts, chain and vantages) up in
under 45 s; the DNS world alone (``--only icann alt hns manip``) in under 20 s.

Run with ``python -m bench.lab``. The peer measured in the same run is the lab's own
preparation step alone (PKI, zones, DNSSEC signing, configs: no daemons), so the ratio shows
how much of `up` is waiting for daemons rather than generating files.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

TARGET_UP_S = 45.0  # the whole lab (issue 5)
TARGET_DNS_UP_S = 20.0  # the DNS world alone (issue 4)
DNS_GROUPS = ["icann", "alt", "hns", "manip"]


def table(rows: list) -> str:  # type: ignore[type-arg]
    cells = [("group", "service", "software", "address", "port", "protocol", "health")]
    cells += [
        (r.group, r.service, r.software, r.address, str(r.port), r.protocol, r.health) for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells
    )


def main() -> int:
    from fragscope.lab.commands import missing_prerequisites
    from fragscope.lab.core.lock import lab_lock
    from fragscope.lab.core.pki import make_pki
    from fragscope.lab.world import Lab

    problems = missing_prerequisites()
    if problems:
        print(f"bench.lab: skipped ({'; '.join(problems)})")
        return 0
    # The lab is machine-wide (lab.core.lock): wait for a test session's or demo's lab to end.
    with lab_lock(None), tempfile.TemporaryDirectory(prefix="fragscope-bench-lab-") as tmp:
        # Peer: generate everything without starting anything.
        prep = Lab(Path(tmp) / "prep")
        t0 = time.monotonic()
        prep._wipe()
        t = prep.truth
        make_pki(
            prep.paths.pki, dns_names=list(t.cert_dns_names), ip_addresses=list(t.cert_ip_addresses)
        )
        prep._write_zones({}, defer_knot_parents=True)
        prep._write_configs()
        prep_s = time.monotonic() - t0

        dns_lab = Lab(Path(tmp) / "dns")
        dns_up_s = dns_lab.up(DNS_GROUPS)
        dns_lab.down()

        lab = Lab(Path(tmp) / "run")
        up_s = lab.up()
        rows = lab.status()
        t0 = time.monotonic()
        lab.down()
        down_s = time.monotonic() - t0
    healthy = sum(r.health == "ok" for r in rows)
    print(table(rows))
    print(
        f"lab up {up_s:.2f} s (target < {TARGET_UP_S:.0f} s, ratio {up_s / TARGET_UP_S:.2f}); "
        f"DNS world alone {dns_up_s:.2f} s (target < {TARGET_DNS_UP_S:.0f} s); "
        f"whole/DNS-only {up_s / dns_up_s:.2f}x; "
        f"preparation alone {prep_s:.2f} s (up/prep {up_s / prep_s:.1f}x); "
        f"down {down_s:.2f} s; {healthy}/{len(rows)} listeners healthy"
    )
    ok = up_s < TARGET_UP_S and dns_up_s < TARGET_DNS_UP_S and healthy == len(rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
