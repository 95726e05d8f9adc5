"""Labels a campaign or the command line gives (campaign, vantage, round, list names ...),
and how a value appears in an error message. No I/O.

A label ends up in a database column, a lock name, a task key and the terminal. So it
must fit its column (PostgreSQL refuses a longer value mid-run, where SQLite would keep
it) and carry no control or format characters (a newline or an ESC byte would forge
lines and colours in every report that prints it).
"""

from __future__ import annotations

import unicodedata

from fragscope.db.models.core import Run, Target, Vantage
from fragscope.db.models.dns import DnsObservation


def _length(column: object) -> int:
    length = getattr(getattr(column, "type", None), "length", None)
    assert isinstance(length, int), column
    return length


DEFAULT_LIMIT = 128
"""Labels that no column of their own bounds (an endpoint label lives in task keys)."""
TEXT_LIMIT = 512
"""Free-form one-line settings sent on the wire (User-Agent, contact)."""

CAMPAIGN_LIMIT = _length(Run.__table__.c.campaign)
ROUND_LIMIT = _length(Run.__table__.c.round)
VANTAGE_LIMIT = _length(Vantage.__table__.c.label)
LIST_LIMIT = _length(Target.__table__.c.list)
NAMESPACE_LIMIT = _length(Target.__table__.c.namespace)
OPERATOR_LIMIT = _length(DnsObservation.__table__.c.resolver_operator)

# Unicode general categories: Cc control (C0, DEL, C1: newline, ESC), Cf format (bidi
# overrides, zero-width characters), Cs surrogates, Zl/Zp line and paragraph separators.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

SHOWN = 60
"""Characters of a bad value an error message shows; the rest is counted, not echoed."""


def shown(value: str) -> str:
    """``value`` quoted for an error message, cut to :data:`SHOWN` characters."""
    if len(value) <= SHOWN:
        return repr(value)
    return f"{value[:SHOWN]!r}... ({len(value)} characters)"


def label_problem(value: str, *, limit: int) -> str | None:
    """What is wrong with ``value`` as a label of at most ``limit`` characters, or None."""
    if not value.strip():
        return "must not be empty"
    if len(value) > limit:
        return f"{shown(value)} is longer than {limit} characters"
    for ch in value:
        if unicodedata.category(ch) in _FORBIDDEN_CATEGORIES:
            return f"{shown(value)} contains the control character U+{ord(ch):04X}"
    return None
