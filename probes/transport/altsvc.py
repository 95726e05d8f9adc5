"""Alt-Svc header parser and formatter (RFC 7838 section 3). No I/O.

A server advertises HTTP/3 by ``Alt-Svc: h3=":443"; ma=86400``; the probe stores each
alternative as a row so analysis can tell "advertised" from "served".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, unquote

DEFAULT_MAX_AGE = 86400
"""RFC 7838 section 3.1: ``ma`` defaults to 24 hours."""

# RFC 7230 section 3.2.6: tchar.
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class AltSvcError(ValueError):
    """A malformed Alt-Svc value; the message names the position and what was expected."""


@dataclass(frozen=True, slots=True)
class AltSvcEntry:
    alpn: str
    """The ALPN protocol id, percent-decoded (RFC 7838 section 3)."""
    host: str
    """The alternative host; empty means the origin's host."""
    port: int
    max_age: int = DEFAULT_MAX_AGE
    persist: bool = False
    params: tuple[tuple[str, str], ...] = field(default=())
    """Every parameter in order, ``ma`` and ``persist`` included."""


@dataclass(frozen=True, slots=True)
class AltSvc:
    clear: bool
    entries: tuple[AltSvcEntry, ...]

    @property
    def alpns(self) -> tuple[str, ...]:
        return tuple(e.alpn for e in self.entries)


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def error(self, expected: str) -> AltSvcError:
        got = repr(self.s[self.i]) if self.i < len(self.s) else "end of value"
        return AltSvcError(f"Alt-Svc position {self.i}: expected {expected}, got {got}")

    def ows(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def expect(self, ch: str) -> None:
        if self.peek() != ch:
            raise self.error(repr(ch))
        self.i += 1

    def token(self, what: str) -> str:
        start = self.i
        while self.i < len(self.s) and self.s[self.i] in _TCHAR:
            self.i += 1
        if self.i == start:
            raise self.error(what)
        return self.s[start : self.i]

    def quoted(self, what: str) -> str:
        # RFC 7230 section 3.2.6: quoted-string with quoted-pair escapes.
        if self.peek() != '"':
            raise self.error(f"a quoted {what}")
        self.i += 1
        out: list[str] = []
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch == '"':
                self.i += 1
                return "".join(out)
            if ch == "\\":
                if self.i + 1 >= len(self.s):
                    break
                out.append(self.s[self.i + 1])
                self.i += 2
                continue
            out.append(ch)
            self.i += 1
        raise AltSvcError(f"Alt-Svc position {self.i}: unterminated quoted {what}")


def _authority(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise AltSvcError(f"Alt-Svc alt-authority {text!r}: expected [host]:port")
    return host, int(port)


def parse_alt_svc(value: str | list[str]) -> AltSvc:
    """Parse one Alt-Svc field value (or several lines, combined as RFC 7230 section 3.2.2)."""
    text = ", ".join(value) if isinstance(value, list) else value
    sc = _Scanner(text.strip())
    if sc.s == "clear":
        return AltSvc(clear=True, entries=())
    entries: list[AltSvcEntry] = []
    while True:
        sc.ows()
        raw_alpn = sc.token("a protocol-id")
        try:
            alpn = unquote(raw_alpn, errors="strict")
        except UnicodeDecodeError:
            raise AltSvcError(f"Alt-Svc protocol-id {raw_alpn!r}: bad percent-encoding") from None
        sc.expect("=")
        host, port = _authority(sc.quoted("alt-authority"))
        params: list[tuple[str, str]] = []
        max_age, persist = DEFAULT_MAX_AGE, False
        while True:
            sc.ows()
            if sc.peek() != ";":
                break
            sc.i += 1
            sc.ows()
            name = sc.token("a parameter name").lower()
            sc.expect("=")
            val = sc.quoted("parameter") if sc.peek() == '"' else sc.token("a parameter value")
            params.append((name, val))
            if name == "ma":
                if not val.isdigit():
                    raise AltSvcError(f"Alt-Svc ma={val!r}: expected delta-seconds")
                max_age = int(val)
            elif name == "persist":
                persist = val == "1"  # RFC 7838 section 3.1: any other value is ignored
        entries.append(AltSvcEntry(alpn, host, port, max_age, persist, tuple(params)))
        sc.ows()
        if not sc.peek():
            return AltSvc(clear=False, entries=tuple(entries))
        sc.expect(",")


def format_alt_svc(svc: AltSvc) -> str:
    """The field value for ``svc`` (the inverse of :func:`parse_alt_svc`)."""
    if svc.clear:
        return "clear"
    parts = []
    for e in svc.entries:
        alpn = quote(e.alpn, safe="!#$&'*+-.^_`|~")
        authority = f"{e.host}:{e.port}".replace("\\", "\\\\").replace('"', '\\"')
        out = f'{alpn}="{authority}"'
        for name, val in e.params:
            if val and all(c in _TCHAR for c in val):
                out += f"; {name}={val}"
            else:
                out += '; {}="{}"'.format(name, val.replace("\\", "\\\\").replace('"', '\\"'))
        parts.append(out)
    return ", ".join(parts)
