"""IP-to-ASN mapping from a pyasn-format (.dat, RouteViews-derived) file. Reads one file.

The format is pyasn's IPASN text: comment lines start with ';', data lines are
``prefix/len<TAB>asn``. The mapping's date comes from a ``; date: YYYY-MM-DD`` or pyasn's
``; Converted on`` header, else from a YYYYMMDD in the file name; it is recorded with every
value that used the mapping (issue 9).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

LAB_MAPPING = "lab-20261128.ipasn"
"""The lab's own mapping for its 10.99.0.0/16 and fd99::/16 addresses (analysis/data/)."""

_DATE_IN_NAME = re.compile(r"(20\d{2})(\d{2})(\d{2})")
_ISO_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


class MappingError(ValueError):
    """A malformed mapping file; the message names the file and line."""


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class AsnMap:
    """Longest-prefix match over the prefixes of one mapping file."""

    source: str
    date: str | None
    _by_len: dict[tuple[int, int], dict[int, int]] = field(default_factory=dict)
    prefixes: int = 0
    _order: list[tuple[int, int, dict[int, int]]] | None = None
    _memo: dict[str, int | None] = field(default_factory=dict)

    def add(self, network: Network, asn: int) -> None:
        key = (network.version, network.prefixlen)
        self._by_len.setdefault(key, {})[int(network.network_address)] = asn
        self.prefixes += 1
        self._order = None
        self._memo.clear()

    def lookup(self, address: str) -> int | None:
        """The origin ASN of an address, or None when unmapped or not an address."""
        if address in self._memo:
            return self._memo[address]
        if self._order is None:
            # Longest prefix first: the first hit is the most specific route.
            self._order = [
                (v, p, t) for (v, p), t in sorted(self._by_len.items(), key=lambda kv: -kv[0][1])
            ]
        try:
            ip = ipaddress.ip_address(address.strip("[]"))
        except ValueError:
            self._memo[address] = None
            return None
        value = int(ip)
        bits = ip.max_prefixlen
        found = None
        for version, plen, table in self._order:
            if version != ip.version:
                continue
            masked = value >> (bits - plen) << (bits - plen) if plen else 0
            found = table.get(masked)
            if found is not None:
                break
        self._memo[address] = found
        return found


def parse(text: str, *, source: str) -> AsnMap:
    """Parse pyasn IPASN text; bad lines raise MappingError naming source and line."""
    date: str | None = None
    mapping = AsnMap(source=source, date=None)
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(";"):
            lowered = line.lower()
            if date is None and ("date" in lowered or "converted on" in lowered):
                m = _ISO_DATE.search(line)
                if m:
                    date = m.group(1)
                elif "converted on" in lowered:
                    stamp = line.split(":", 1)[-1].strip()
                    try:
                        date = (
                            dt.datetime.strptime(stamp, "%a %b %d %H:%M:%S %Y").date().isoformat()
                        )
                    except ValueError:
                        date = stamp or None
            continue
        parts = line.split()
        if len(parts) != 2:
            raise MappingError(f"{source}:{lineno}: expected 'prefix/len<TAB>asn', got {raw!r}")
        try:
            network = ipaddress.ip_network(parts[0], strict=False)
            asn = int(parts[1])
        except ValueError as exc:
            raise MappingError(f"{source}:{lineno}: {exc}") from None
        if not 0 <= asn < 2**32:
            raise MappingError(f"{source}:{lineno}: ASN {asn} outside 0..2^32-1")
        mapping.add(network, asn)
    if date is None:
        m = _DATE_IN_NAME.search(Path(source).name)
        if m:
            date = f"{m.group(1)}-{m.group(2)}-{m.group(3)}"
    mapping.date = date
    return mapping


def load(path: str | Path) -> AsnMap:
    """Load a mapping file the user supplies."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"{p}: cannot read the mapping file ({exc.strerror})") from None
    return parse(text, source=str(p))


def load_lab() -> AsnMap:
    """The lab's mapping shipped in analysis/data/."""
    text = (
        resources.files("fragscope.analysis.data").joinpath(LAB_MAPPING).read_text(encoding="utf-8")
    )
    return parse(text, source=LAB_MAPPING)
