"""``fragscope db anonymize``: a database copy without egress addresses. Reads and writes files.

An egress address is an address the measurement left from, as the world saw it: the
vantage's own, or a resolver's when it asked on the vantage's behalf. They are in
``vantages.egress_addresses``, in ``dns_observations.whoami_address``, in the whoami
responses themselves (their ``dns_answers`` and ``raw_wire``: an A record, a TXT such as
Google's ``edns0-client-subnet 198.51.100.0/24``), and wherever another column repeats
one (a failure detail, a naming value, another raw reply). Dropping the columns is not
enough (docs/ethics.md, "Sharing a database").

So the copy is scrubbed in three passes: the addresses are collected (those columns,
and every address or prefix in the whoami answers); the whoami columns are cleared and
their raw replies dropped; then every text and JSON column of every table has each
occurrence replaced by ``[egress]``, and every blob that holds one -- as text or in
network byte order (RFC 1035 section 3.4.1, RFC 3596 section 2.2) -- is set to NULL, since
a DNS message cannot be edited in place. ``VACUUM`` then rewrites the file, so no freed
page keeps the old bytes. The source database is only read.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REDACTED = "[egress]"
_CANDIDATE = re.compile(r"[0-9A-Fa-f:.]{2,45}(?:/\d{1,3})?")
_TEXT_TYPES = ("CHAR", "TEXT", "CLOB", "JSON", "VARCHAR")


class AnonymizeError(Exception):
    """The copy cannot be made (the output exists, the source is not SQLite): exit 2."""


@dataclass(frozen=True, slots=True)
class AnonymizeReport:
    addresses: int
    """Distinct egress addresses found."""
    changed: dict[str, int]
    """``table.column`` -> rows changed."""


def addresses_in(text: str) -> set[str]:
    """The IP addresses (and the network address of prefixes) written in ``text``."""
    out: set[str] = set()
    for token in _CANDIDATE.findall(text):
        address = token.split("/", 1)[0]
        with contextlib.suppress(ValueError):
            out.add(str(ipaddress.ip_address(address)))
    return out


def anonymize_copy(source: Path, out: Path) -> AnonymizeReport:
    """Copy ``source`` to ``out`` (which must not exist) and scrub the copy."""
    if out.exists():
        raise AnonymizeError(f"{out} exists: anonymize writes a new file, it never overwrites")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(out)
        try:
            src.backup(dst)
            report = scrub(dst)
            dst.execute("VACUUM")
        finally:
            dst.close()
    finally:
        src.close()
    return report


def _columns(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """(table, column, declared type) of every user table."""
    tables = [
        r[0]
        for r in conn.execute(
            "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'"
        )
    ]
    out = []
    for table in tables:
        for _, column, decl, *_ in conn.execute(f'pragma table_info("{table}")'):
            out.append((table, column, str(decl).upper()))
    return out


def collect(conn: sqlite3.Connection) -> set[str]:
    """Every egress address the database records (see the module docstring)."""
    found: set[str] = set()
    for (value,) in conn.execute("select egress_addresses from vantages"):
        with contextlib.suppress(TypeError, ValueError):
            found.update(addresses_in(" ".join(str(a) for a in json.loads(value or "[]"))))
    for (value,) in conn.execute(
        "select whoami_address from dns_observations where whoami_address is not null"
    ):
        found.update(addresses_in(str(value)))
    for (value,) in conn.execute(
        "select a.value from dns_answers a join dns_observations o on a.observation_id = o.id "
        "where o.purpose = 'whoami'"
    ):
        found.update(addresses_in(str(value)))
    return found


def _packed(address: str) -> bytes:
    return ipaddress.ip_address(address).packed


def scrub(conn: sqlite3.Connection) -> AnonymizeReport:
    """Remove every egress address from ``conn`` (a copy); one transaction."""
    found = collect(conn)
    changed: Counter[str] = Counter()
    with conn:
        cur = conn.execute(
            "update vantages set egress_addresses = '[]' where egress_addresses != '[]'"
        )
        changed["vantages.egress_addresses"] += cur.rowcount
        cur = conn.execute(
            "update dns_observations set whoami_address = null, raw_wire = null "
            "where purpose = 'whoami' and (whoami_address is not null or raw_wire is not null)"
        )
        changed["dns_observations.whoami_address"] += cur.rowcount
        # Longest first: 10.99.1.10 must not be cut as 10.99.1.1 followed by "0".
        ordered = sorted(found, key=len, reverse=True)
        for table, column, decl in _columns(conn):
            if "BLOB" in decl:
                for address in ordered:
                    cur = conn.execute(
                        f'update "{table}" set "{column}" = null '
                        f'where instr("{column}", ?) > 0 or instr("{column}", ?) > 0',
                        (_packed(address), address.encode()),
                    )
                    changed[f"{table}.{column}"] += cur.rowcount
            elif any(t in decl for t in _TEXT_TYPES):
                for address in ordered:
                    rows = conn.execute(
                        f'select rowid, "{column}" from "{table}" where instr("{column}", ?) > 0',
                        (address,),
                    ).fetchall()
                    for rowid, value in rows:
                        conn.execute(
                            f'update "{table}" set "{column}" = ? where rowid = ?',
                            (_redact(str(value), address), rowid),
                        )
                    changed[f"{table}.{column}"] += len(rows)
    return AnonymizeReport(len(found), {k: v for k, v in sorted(changed.items()) if v})


def _redact(text: str, address: str) -> str:
    """``text`` with ``address`` replaced where it stands alone (not inside a longer one)."""
    pattern = rf"(?<![0-9A-Fa-f:.]){re.escape(address)}(?![0-9A-Fa-f:]|\.\d)"
    return re.sub(pattern, REDACTED, text)
