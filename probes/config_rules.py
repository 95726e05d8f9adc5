"""Rules for the values of probe config fields, declared in the fields' metadata. No I/O.

A probe's config dataclass states what a field accepts next to its help text, and the
campaign loader (probes/engine/campaign.py) checks every value against it, so a bad
value stops the run at load time (exit 2, ``file:line: key: message``) instead of
failing every task. The metadata keys:

- ``minimum`` / ``maximum``: inclusive bounds; ``above``: an exclusive lower bound (a
  timeout must be ``above=0``). For a tuple of numbers the bounds hold for each item.
- ``check``: a function of the value returning ``None`` or what is wrong with it.
- ``file``: the value is a path that must exist when the campaign loads; the loader
  resolves it (docs/campaigns.md, "Paths") and hands the probe the absolute path.

Every number must be finite anyway (TOML allows ``nan`` and ``inf``): the loader checks
that for every field, declared or not.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

MINIMUM = "minimum"
MAXIMUM = "maximum"
ABOVE = "above"
CHECK = "check"
FILE = "file"

PORT: Mapping[str, int] = {MINIMUM: 1, MAXIMUM: 65535}
"""A TCP or UDP port number (RFC 793, RFC 768: 16 bits; 0 is not a destination)."""
SECONDS: Mapping[str, int] = {ABOVE: 0}
"""A duration that must be positive: a timeout of 0 or less could never be met."""
COUNT: Mapping[str, int] = {MINIMUM: 0}
"""A count that may be zero."""

Check = Callable[[Any], str | None]


def one_of(*choices: str) -> Mapping[str, Check]:
    """Metadata that limits a string field to ``choices`` (compared case-insensitively)."""

    def check(value: Any) -> str | None:
        if str(value).lower() in choices:
            return None
        return f"{value!r} is not one of {', '.join(choices)}"

    return {CHECK: check}


def is_file_field(f: dataclasses.Field[Any]) -> bool:
    return bool(f.metadata.get(FILE))


def is_finite(value: Any) -> bool:
    """False for NaN and the infinities, at any depth of a tuple or list."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, tuple | list):
        return all(is_finite(v) for v in value)
    return True


def violation(f: dataclasses.Field[Any], value: Any) -> str | None:
    """What is wrong with ``value`` for field ``f`` by its declared rules, or None."""
    if not is_finite(value):
        return f"must be a finite number, got {value!r}"
    meta = f.metadata
    numbers = value if isinstance(value, tuple | list) else (value,)
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, int | float):
            continue
        if ABOVE in meta and number <= meta[ABOVE]:
            return f"must be > {meta[ABOVE]}, got {number}"
        if MINIMUM in meta and number < meta[MINIMUM]:
            return f"must be >= {meta[MINIMUM]}, got {number}"
        if MAXIMUM in meta and number > meta[MAXIMUM]:
            return f"must be <= {meta[MAXIMUM]}, got {number}"
    check: Check | None = meta.get(CHECK)
    if check is not None and value is not None:
        return check(value)
    return None
