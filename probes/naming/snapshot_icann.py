"""Regenerate data/tlds/icann.txt from the ``publicsuffixlist`` package's bundled PSL.

Reads one local file (no network): the ICANN section of the Public Suffix List that the
installed ``publicsuffixlist`` wheel ships. Its top-level labels are the TLDs of the IANA
root zone as of the PSL snapshot (the PSL's ICANN section lists every delegated TLD).
Run ``python -m fragscope.probes.naming.snapshot_icann`` after upgrading the package (a dev extra).
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

from fragscope.probes.naming.namespaces import DATA_DIR

NOT_IN_ROOT_ZONE = frozenset({"onion"})


def icann_tlds(psl_text: str) -> list[str]:
    labels: set[str] = set()
    in_icann = False
    for line in psl_text.splitlines():
        line = line.strip()
        if line.startswith("// ===BEGIN ICANN DOMAINS==="):
            in_icann = True
        elif line.startswith("// ===END ICANN DOMAINS==="):
            in_icann = False
        elif in_icann and line and not line.startswith("//"):
            tld = line.lstrip("!*.").rsplit(".", 1)[-1]
            labels.add(tld.encode("idna").decode("ascii") if not tld.isascii() else tld)
    # The PSL lists RFC 7686 "onion" in its ICANN section although it is not in the root
    # zone (it is a special-use name); the snapshot is of the root zone, so drop it.
    return sorted(labels - NOT_IN_ROOT_ZONE)


def main() -> int:
    import publicsuffixlist

    version = importlib.metadata.version("publicsuffixlist")
    # The package version's last part is the PSL snapshot date (YYYYMMDD).
    stamp = version.rsplit(".", 1)[-1]
    date = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}" if len(stamp) == 8 else "unknown"
    psl = Path(publicsuffixlist.__file__).with_name("public_suffix_list.dat")
    tlds = icann_tlds(psl.read_text(encoding="utf-8"))
    out = DATA_DIR / "tlds" / "icann.txt"
    header = (
        f"# source: Public Suffix List ICANN section, top-level labels (A-labels) minus "
        f"{', '.join(sorted(NOT_IN_ROOT_ZONE))}, as bundled "
        f"in PyPI publicsuffixlist {version}\n# date: {date}\n"
    )
    out.write_text(header + "\n".join(tlds) + "\n", encoding="utf-8")
    print(f"{out}: {len(tlds)} TLDs (PSL {date})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
