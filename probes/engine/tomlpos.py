"""Line numbers for keys of a TOML document (tomllib reports none). No I/O.

A small line scanner, not a TOML parser: it follows ``[table]`` and ``[[array]]``
headers and ``key =`` lines, which is enough to point an error at the line of the key
that holds a bad value. Keys inside inline tables fall back to the line of the nearest
ancestor that has one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_.\- ]+?))\s*=""")
_STRINGS = re.compile(r""""[^"]*"|'[^']*'""")
_TRIPLE = ('"' * 3, "'" * 3)

PathPart = str | int


def _split_dotted(text: str) -> list[str]:
    """``probes."engine.null"`` -> ["probes", "engine.null"] (quotes protect dots)."""
    parts: list[str] = []
    buf = ""
    quote = ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
            else:
                buf += ch
        elif ch in "\"'":
            quote = ch
        elif ch == ".":
            parts.append(buf.strip())
            buf = ""
        else:
            buf += ch
    parts.append(buf.strip())
    return parts


def _bracket_balance(text: str) -> int:
    # Brackets inside strings are rare in campaign files; a comment ends the line.
    code = _STRINGS.sub("", text).split("#", 1)[0]
    return code.count("[") - code.count("]")


def key_lines(source: str) -> dict[tuple[PathPart, ...], int]:
    """Map every key path (table names, array indexes, keys) to its 1-based line."""
    lines: dict[tuple[PathPart, ...], int] = {}
    array_counts: dict[tuple[PathPart, ...], int] = {}
    current: tuple[PathPart, ...] = ()
    in_multiline = ""
    depth = 0  # open brackets of a multi-line array value
    for number, line in enumerate(source.splitlines(), start=1):
        if in_multiline:
            if in_multiline in line:
                in_multiline = ""
            continue
        if depth > 0:
            depth += _bracket_balance(line)
            continue
        header = _HEADER.match(line)
        if header:
            names = _split_dotted(header[2])
            path: list[PathPart] = []
            # Earlier array-of-tables segments refer to their latest element.
            for name in names[:-1]:
                path.append(name)
                idx = array_counts.get(tuple(path))
                if idx is not None:
                    path.append(idx - 1)
            path.append(names[-1])
            if header[1] == "[[":
                base = tuple(path)
                array_counts[base] = array_counts.get(base, 0) + 1
                path.append(array_counts[base] - 1)
            current = tuple(path)
            lines.setdefault(current, number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault(current + tuple(_split_dotted(key[1])), number)
            rest = line[key.end() :]
            for marker in _TRIPLE:
                if rest.count(marker) == 1:
                    in_multiline = marker
            if not in_multiline:
                depth = max(0, _bracket_balance(rest))
    return lines


def line_of(lines: dict[tuple[PathPart, ...], int], path: Sequence[PathPart]) -> int | None:
    """The line of ``path``, else of its nearest ancestor with a line, else None."""
    p = tuple(path)
    while p:
        if p in lines:
            return lines[p]
        p = p[:-1]
    return None
