"""Client-side identifiers: row ids, target ids and vantage ids. No I/O.

Row ids are 64-bit hashes so the fast write path can insert a parent and its children in
one batch without asking the database for ids, and a replayed task produces the same ids
(the insert then adds nothing).

Every id is :func:`stable_hash64` of its parts. :func:`row_id`, :func:`child_id` and
:func:`target_id` compute the same value in a fast form (one f-string and one BLAKE2b
call, no join over ``str()`` of each part): the engine calls them once per stored row, so
they are the only place the formulas live.
"""

from __future__ import annotations

import hashlib
import uuid

# A fixed namespace for vantage UUID5s; changing it would split every vantage in two.
VANTAGE_NAMESPACE = uuid.UUID("6f1c8a52-3f5e-5d0e-9a57-2b1f0c7e4d11")

_blake2b = hashlib.blake2b
_from_bytes = int.from_bytes


def stable_hash64(*parts: object) -> int:
    """A signed 64-bit integer from the parts (BLAKE2b), fit for a BIGINT primary key."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def row_id(run_id: str, task_key: str, attempt: int) -> int:
    """The id of an observation row: ``stable_hash64(run_id, task_key, attempt)``."""
    # f"{x}" is str(x) for str and int, so this is the same hash as stable_hash64's.
    return _from_bytes(
        _blake2b(f"{run_id}\x1f{task_key}\x1f{attempt}".encode(), digest_size=8).digest(),
        "big",
        signed=True,
    )


def child_id(parent_id: int, index: int) -> int:
    """The id of the index-th child row of a parent row: ``stable_hash64(parent_id, index)``."""
    return _from_bytes(
        _blake2b(f"{parent_id}\x1f{index}".encode(), digest_size=8).digest(), "big", signed=True
    )


def target_id(run_id: str, list_name: str, name: str) -> int:
    """The id of a target row: ``stable_hash64("target", run_id, list_name, name)``."""
    return _from_bytes(
        _blake2b(f"target\x1f{run_id}\x1f{list_name}\x1f{name}".encode(), digest_size=8).digest(),
        "big",
        signed=True,
    )


def vantage_id(label: str, hostname: str) -> str:
    return str(uuid.uuid5(VANTAGE_NAMESPACE, f"{label}\x1f{hostname}"))
