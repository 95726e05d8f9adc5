"""The run lock: one process per (database, campaign, vantage, shard). Does I/O.

Overlapping cron runs of the same work must not measure twice: the second waits up to
``--lock-wait`` seconds, then gives up (exit 2). Other vantages and shards hold other
locks and proceed. SQLite: an fcntl lock on a file next to the database (released by the
kernel when the process dies, even by kill -9). PostgreSQL: a session advisory lock on a
connection held for the run.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text

from fragscope.db.connection import sqlite_path
from fragscope.db.ids import stable_hash64

POLL_S = 0.1


class LockHeld(Exception):
    """Another process runs the same work; the message names the lock."""


def lock_name(campaign: str, *, vantage: str, shard: str) -> str:
    return f"{campaign}\x1f{vantage}\x1f{shard}"


def lock_file_for(db_file: str, name: str) -> str:
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{db_file}.run-{digest}.lock"


@contextmanager
def run_lock(
    engine: Engine, *, campaign: str, vantage: str, shard: str, wait: float
) -> Iterator[str]:
    """Hold the lock for the body; raise :class:`LockHeld` after ``wait`` seconds."""
    name = lock_name(campaign, vantage=vantage, shard=shard)
    described = f"campaign {campaign!r}, vantage {vantage!r}, shard {shard}"
    db_file = sqlite_path(engine.url.render_as_string(hide_password=False))
    if engine.dialect.name == "postgresql":
        with _pg_lock(engine, name, described=described, wait=wait):
            yield described
    elif db_file is not None:
        with _file_lock(lock_file_for(db_file, name), described=described, wait=wait):
            yield described
    else:
        yield described  # an in-memory database is private to this process


@contextmanager
def _file_lock(path: str, *, described: str, wait: float) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockHeld(
                        f"another fragscope run holds the lock for {described} ({path}); "
                        f"waited {wait:g} s (--lock-wait)"
                    ) from None
                time.sleep(POLL_S)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing releases the flock


@contextmanager
def _pg_lock(engine: Engine, name: str, *, described: str, wait: float) -> Iterator[None]:
    key = stable_hash64("run-lock", name)
    conn = engine.connect()
    try:
        deadline = time.monotonic() + wait
        while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            conn.rollback()
            if time.monotonic() >= deadline:
                raise LockHeld(
                    f"another fragscope run holds the advisory lock for {described}; "
                    f"waited {wait:g} s (--lock-wait)"
                )
            time.sleep(POLL_S)
        conn.commit()
        yield
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        conn.commit()
    finally:
        conn.close()
