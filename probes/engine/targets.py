"""Target lists, streamed: Tranco CSV (``rank,domain[,address]``) and plain lines. Reads files.

A ``lines`` list holds one name per line, optionally followed by the namespace it belongs
to (``jesse.cb.id  ens``) where its TLD cannot say (docs/campaigns.md, "Target lists").

Nothing here holds a list in memory: :func:`read_targets` yields one entry at a time, so
a campaign over 10^6 names plans in constant memory. :func:`validate` reads a list once
before a run starts, so a bad line stops the run (exit 2) before anything is written; it
reports up to :data:`MAX_REPORTED` bad lines at once, each with its line number.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from fragscope.probes.engine.campaign import CampaignError, TargetSource
from fragscope.probes.engine.labels import NAMESPACE_LIMIT, label_problem, shown

MAX_NAME = 253  # RFC 1035 section 2.3.4 (presentation form without the final dot)
_NOT_IN_NAME = re.compile(r"[\s,]")
_NAME_OK = re.compile(r"[^\s,#]{1,253}")
_NAMESPACE_OK = re.compile(r"[a-z0-9][a-z0-9-]*")
"""A namespace of probes/naming/data/namespaces.toml: lower-case letters, digits, hyphens."""
MAX_REPORTED = 20
"""Bad lines of a target list one validation reports (the rest are counted)."""


class TargetListErrors(CampaignError):
    """Bad lines of one target list; ``str()`` has one ``file:line: message`` line each."""

    def __init__(self, errors: Sequence[CampaignError], *, total: int) -> None:
        first = errors[0]
        super().__init__(first.file, first.line, first.key, first.message)
        self.errors = tuple(errors)
        self.total = total
        lines = [str(e) for e in errors]
        if total > len(errors):
            lines.append(f"{first.file}: {total - len(errors)} more bad lines not shown")
        self.args = ("\n".join(lines),)


class TargetEntry(NamedTuple):
    name: str
    rank: int | None
    address: str | None
    namespace: str | None = None
    """The namespace the list line names (``lines`` format: ``name namespace``), for a
    name its TLD cannot place, such as an ICANN name imported into ENS; None: inferred."""


def _parse_line(source: TargetSource, text: str) -> TargetEntry | str:
    """An entry, or an error message for this line."""
    namespace: str | None = None
    if source.format == "tranco":
        cols = [c.strip() for c in text.split(",")]
        if len(cols) not in (2, 3):
            return f"expected rank,domain[,address], got {len(cols)} columns"
        rank_text, name = cols[0], cols[1]
        try:
            rank: int | None = int(rank_text)
        except ValueError:
            return f"rank {shown(rank_text)} is not an integer"
        address = cols[2] if len(cols) == 3 and cols[2] else None
    else:
        cols = text.split()
        if len(cols) > 2:
            return f"expected a name and at most a namespace, got {len(cols)} columns"
        name, rank, address = cols[0], None, None
        if len(cols) == 2:
            namespace = cols[1]
            problem = label_problem(namespace, limit=NAMESPACE_LIMIT)
            if problem is not None or not _NAMESPACE_OK.fullmatch(namespace):
                return f"namespace {shown(namespace)} is not a namespace label"
    if not name or len(name) > MAX_NAME or _NOT_IN_NAME.search(name):
        return f"{shown(name)} is not a name"
    if address is not None:
        try:
            address = str(ipaddress.ip_address(address))
        except ValueError:
            return f"address {shown(address)} is not an IP address"
    return TargetEntry(name, rank, address, namespace)


def read_targets(source: TargetSource) -> Iterator[TargetEntry]:
    """Yield the list's entries in file order (up to ``source.limit``); raise
    :class:`CampaignError` at the first bad line."""
    for number, entry in numbered_entries(source):
        if isinstance(entry, str):
            raise CampaignError(source.path, number, "", entry)
        yield entry


def numbered_entries(source: TargetSource) -> Iterator[tuple[int, TargetEntry | str]]:
    """(line number, entry or what is wrong with the line), up to ``source.limit`` entries.

    The common line shapes (``rank,name`` and a bare name) take a fast path; everything
    else, including every malformed line, goes through :func:`_parse_line`.
    """
    limit = source.limit
    tranco = source.format == "tranco"
    name_ok = _NAME_OK.fullmatch
    count = 0
    with source.path.open(encoding="utf-8", newline="") as fh:
        for number, line in enumerate(fh, start=1):
            text = line.strip()
            if not text or text[0] == "#":
                continue
            entry: TargetEntry | None = None
            if tranco:
                rank_text, _, name = text.partition(",")
                if rank_text.isdigit() and name_ok(name):
                    entry = TargetEntry(name, int(rank_text), None)
            elif name_ok(text):
                entry = TargetEntry(text, None, None)
            if entry is None:
                parsed = _parse_line(source, text)
                if isinstance(parsed, str):
                    yield number, parsed
                    continue
                entry = parsed
            yield number, entry
            count += 1
            if limit is not None and count >= limit:
                return


def validate(source: TargetSource) -> int:
    """Check every line of the list; return the entry count.

    Raises :class:`TargetListErrors` naming up to :data:`MAX_REPORTED` bad lines (and
    counting the rest), so one run shows what to fix.
    """
    count = 0
    errors: list[CampaignError] = []
    bad = 0
    try:
        for number, entry in numbered_entries(source):
            if isinstance(entry, str):
                bad += 1
                if len(errors) < MAX_REPORTED:
                    errors.append(CampaignError(source.path, number, "", entry))
            else:
                count += 1
    except UnicodeDecodeError:
        raise CampaignError(source.path, None, "", "not UTF-8 text") from None
    if errors:
        raise TargetListErrors(errors, total=bad)
    return count
