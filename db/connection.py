"""Database connections: make_engine (a SQLAlchemy Engine for any URL, SQLite PRAGMAs on
every connection) and where the URL comes from. Does I/O.

The URL comes from ``--db``, else ``FRAGSCOPE_DB``, else ``./fragscope.sqlite``. A plain
path is accepted as a SQLite file.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

DEFAULT_DB = "fragscope.sqlite"
BUSY_TIMEOUT_MS = 30_000


def resolve_url(db: str | None = None) -> str:
    """Turn ``--db``/FRAGSCOPE_DB/default into a SQLAlchemy URL."""
    raw = db or os.environ.get("FRAGSCOPE_DB") or DEFAULT_DB
    if "://" not in raw:
        return f"sqlite:///{os.path.abspath(raw)}"
    if raw.startswith("postgresql://"):
        # psycopg 3 is the driver we install; SQLAlchemy would pick psycopg2 by default.
        return "postgresql+psycopg://" + raw.removeprefix("postgresql://")
    return raw


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> str | None:
    """The file behind a SQLite URL, or None for other backends and in-memory databases."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return os.path.abspath(u.database)


# WAL lets researchers read while a run writes; NORMAL is durable across application
# crashes in WAL mode (a power cut may lose the last commits, never corrupt). Observation
# rows land at random places in the hashed primary key's index: a bigger page cache (an
# upper bound, allocated as used) and checkpoints every ~40 MB of WAL instead of ~4 MB made
# the writer 1.3-1.4x faster in bench/writer.py, measured interleaved with the defaults
# (300,000 rows); journal_size_limit truncates the WAL again after a checkpoint. The cache
# is 16 MiB, not the 64 MiB first chosen: it is resident for the whole run, and with it a
# 1,000,000-target run peaked at 320 MB (issue 22, bench/engine.py: limit 150 MB); pages it
# no longer holds are still in the kernel's page cache, a read away. 16 KiB
# pages (set before the first table exists; a no-op on an existing database) halve the
# pages each commit writes to the WAL and cost 20-25 % less CPU per inserted row than
# 4 KiB ones (1,000,000 rows, transactions of 50,000); they also suit the analysis's scans.
SQLITE_PRAGMAS: tuple[str, ...] = (
    "page_size=16384",
    "journal_mode=WAL",
    "foreign_keys=ON",
    f"busy_timeout={BUSY_TIMEOUT_MS}",
    "synchronous=NORMAL",
    "cache_size=-16384",
    "wal_autocheckpoint=2500",
    "journal_size_limit=67108864",
)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    for pragma in SQLITE_PRAGMAS:
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def make_engine(db: str | None = None, **kwargs: Any) -> Engine:
    """Create an Engine for ``db`` (URL or path); SQLite connections get the PRAGMAs."""
    url = resolve_url(db)
    if is_sqlite(url):
        path = sqlite_path(url)
        if path:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)
