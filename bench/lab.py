"""Benchmark: wall time of `lab up` and `lab down` against the 20 s target. Does I/O (root).

Run with ``python -m bench.lab``. The peer measured in the same run is the lab's own
preparation step alone (PKI, zones, DNSSEC signing, configs: no daemons), so the ratio shows
how much of `up` is waiting for daemons rather than generating files.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

TARGET_UP_S = 20.0


def main() -> int:
    from lab.commands import missing_prerequisites
    from lab.pki import make_pki
    from lab.world import Lab

    problems = missing_prerequisites()
    if problems:
        print(f"bench.lab: skipped ({'; '.join(problems)})")
        return 0
    with tempfile.TemporaryDirectory(prefix="fragscope-bench-lab-") as tmp:
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

        lab = Lab(Path(tmp) / "run")
        up_s = lab.up()
        rows = lab.status()
        t0 = time.monotonic()
        lab.down()
        down_s = time.monotonic() - t0
    healthy = sum(r.health == "ok" for r in rows)
    print(
        f"lab up {up_s:.2f} s (target < {TARGET_UP_S:.0f} s, ratio {up_s / TARGET_UP_S:.2f}); "
        f"preparation alone {prep_s:.2f} s (up/prep {up_s / prep_s:.1f}x); "
        f"down {down_s:.2f} s; {healthy}/{len(rows)} listeners healthy"
    )
    return 0 if up_s < TARGET_UP_S and healthy == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
