"""Client-side identifiers: row ids, target ids and vantage ids. No I/O.

Row ids are 64-bit hashes so the fast write path can insert a parent and its children in
one batch without asking the database for ids, and a replayed task produces the same ids
(the insert then adds nothing).
"""

from __future__ import annotations

import hashlib
import uuid

# A fixed namespace for vantage UUID5s; changing it would split every vantage in two.
VANTAGE_NAMESPACE = uuid.UUID("6f1c8a52-3f5e-5d0e-9a57-2b1f0c7e4d11")


def stable_hash64(*parts: object) -> int:
    """A signed 64-bit integer from the parts (BLAKE2b), fit for a BIGINT primary key."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def row_id(run_id: str, task_key: str, attempt: int) -> int:
    """The id of an observation row."""
    return stable_hash64(run_id, task_key, attempt)


def child_id(parent_id: int, index: int) -> int:
    """The id of the index-th child row of a parent row."""
    return stable_hash64(parent_id, index)


def target_id(run_id: str, list_name: str, name: str) -> int:
    return stable_hash64("target", run_id, list_name, name)


def vantage_id(label: str, hostname: str) -> str:
    return str(uuid.uuid5(VANTAGE_NAMESPACE, f"{label}\x1f{hostname}"))
