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


def _hash64(text: str) -> int:
    """The signed 64-bit BLAKE2b of ``text``: every id below is this of its parts' join."""
    return _from_bytes(_blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def stable_hash64(*parts: object) -> int:
    """A signed 64-bit integer from the parts (BLAKE2b), fit for a BIGINT primary key."""
    return _hash64("\x1f".join(map(str, parts)))


# The fast forms: f"{x}" is str(x) for str and int, so each equals stable_hash64 of its
# parts without the join over str() of each part (the engine calls them once per row).
def row_id(run_id: str, task_key: str, attempt: int) -> int:
    """The id of an observation row: ``stable_hash64(run_id, task_key, attempt)``."""
    return _hash64(f"{run_id}\x1f{task_key}\x1f{attempt}")


def child_id(parent_id: int, index: int) -> int:
    """The id of the index-th child row of a parent row: ``stable_hash64(parent_id, index)``."""
    return _hash64(f"{parent_id}\x1f{index}")


def target_id(run_id: str, list_name: str, name: str) -> int:
    """The id of a target row: ``stable_hash64("target", run_id, list_name, name)``."""
    return _hash64(f"target\x1f{run_id}\x1f{list_name}\x1f{name}")


def vantage_id(label: str, hostname: str) -> str:
    return str(uuid.uuid5(VANTAGE_NAMESPACE, f"{label}\x1f{hostname}"))
