"""``python -m tests.engine_crash run ...``: the CLI with a kill -9 inside the N-th writer commit.

FRAGSCOPE_TEST_KILL_AT_COMMIT=N: when the writer thread commits for the N-th time, the
process SIGKILLs itself after the batch's INSERTs ran and before COMMIT reached SQLite,
which is the worst moment for the ledger (a crash test of resume, never product code).
"""

from __future__ import annotations

import os
import signal
import threading

from sqlalchemy import event

import fragscope.db.connection as db_connection

KILL_AT = int(os.environ.get("FRAGSCOPE_TEST_KILL_AT_COMMIT", "0"))
_count = 0
_original = db_connection.make_engine


def _on_commit(_conn: object) -> None:
    global _count
    if not threading.current_thread().name.startswith("fragscope-writer"):
        return
    _count += 1
    if _count == KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)


def _make_engine(*args: object, **kwargs: object) -> object:
    engine = _original(*args, **kwargs)  # type: ignore[arg-type]
    event.listen(engine, "commit", _on_commit)
    return engine


db_connection.make_engine = _make_engine  # type: ignore[assignment]

if __name__ == "__main__":
    from fragscope import cli

    cli.main()
