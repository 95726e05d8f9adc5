"""The PostgreSQL run lock is a lease: a holder that stops answering loses it, session or not.

A frozen process (SIGSTOP) is what a partitioned machine looks like to the database: its
session stays open, nothing comes from it. An advisory lock would stay held as long as
that session; the lease lapses ``--lease`` seconds after its last renewal, and the next
run of the same shard takes it and finishes the run (docs/operations.md, "Shared
databases").
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.fixtures.engine import null_campaign, popen_cli, run_cli

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

LEASE_S = 2.0


def test_a_frozen_holder_loses_its_lease(pg_url: str, tmp_path: Path) -> None:
    url = pg_url
    campaign = null_campaign(
        tmp_path,
        targets=400,
        delay_s=0.05,
        fail_every=0,
        follow_ups=0,
        concurrency=4,
        name="lease-test",
    )
    first = popen_cli(
        "run",
        "--campaign",
        str(campaign),
        "--db",
        url,
        "--auto-migrate",
        "--log-json",
        "--lease",
        str(LEASE_S),
    )
    try:
        run_id = _wait_for_run_started(first)
        _wait_for_tasks(url, run_id, at_least=10)
        os.kill(first.pid, signal.SIGSTOP)  # session open, nothing renews the lease
        started = time.monotonic()
        second = run_cli(
            "run",
            "--campaign",
            str(campaign),
            "--db",
            url,
            "--run-id",
            run_id,
            "--lock-wait",
            "30",
            "--lease",
            str(LEASE_S),
            timeout=120,
        )
        waited = time.monotonic() - started
        assert second.returncode == 0, second.stderr
        # It waited for the lease to lapse (at most LEASE_S after the last renewal), not
        # for the frozen holder's session to close (it never did).
        assert waited < LEASE_S + 30
        assert first.poll() is None
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    engine = create_engine(url)
    with engine.connect() as conn:
        keys = [r[0] for r in conn.execute(text("SELECT task_key FROM tasks_done"))]
        status = conn.execute(text("SELECT status FROM runs WHERE id = :r"), {"r": run_id})
    engine.dispose()
    assert len(keys) == len(set(keys)) == 400
    assert status.scalar_one() == "finished"


def _wait_for_run_started(proc: object) -> str:
    import subprocess

    assert isinstance(proc, subprocess.Popen)
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        event = json.loads(line)
        if event.get("event") == "run_started":
            return str(event["run_id"])
    raise AssertionError("the first run never started")


def _wait_for_tasks(url: str, run_id: str, *, at_least: int) -> None:
    engine = create_engine(url)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                n = conn.execute(
                    text("SELECT COUNT(*) FROM tasks_done WHERE run_id = :r"), {"r": run_id}
                ).scalar_one()
            if n >= at_least:
                return
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise AssertionError(f"fewer than {at_least} tasks stored in 60 s")
