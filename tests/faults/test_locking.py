"""Locking (issue 18, fault-injection suite): a database whose write lock another
connection holds makes `run` wait for --lock-wait, then exit 2 with one line and nothing
written; released in time, the run goes on."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from fragscope.db import migrate
from fragscope.db.connection import make_engine
from tests.fixtures.engine import null_campaign, popen_cli, query, run_cli

pytestmark = pytest.mark.slow


def test_a_database_locked_by_another_writer_waits_then_exits_2(tmp_path: Path) -> None:
    campaign = null_campaign(tmp_path, targets=20)
    db = tmp_path / "db.sqlite"
    engine = make_engine(str(db))
    migrate.upgrade(engine)
    engine.dispose()
    args = ["run", "--campaign", str(campaign), "--db", str(db)]
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a real write transaction, held open
    try:
        started = time.monotonic()
        refused = run_cli(*args, "--lock-wait", "1.5")
        elapsed = time.monotonic() - started
        assert refused.returncode == 2, refused.stderr
        assert "locked by another writer" in refused.stderr and "--lock-wait" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1  # one line, no traceback
        assert 1.5 <= elapsed < 30  # it waited, and not for SQLite's busy timeout
        waiter = popen_cli(*args, "--lock-wait", "120")
        time.sleep(1.0)
        assert waiter.poll() is None, "the waiter should wait for the writer"
    finally:
        other.execute("ROLLBACK")
        other.close()
    _out, err = waiter.communicate(timeout=120)
    assert waiter.returncode == 0, err
    # The refused run wrote nothing; the waiter's run is the only one.
    assert query(db, "SELECT COUNT(*), MIN(status) FROM runs")[0] == (1, "finished")
