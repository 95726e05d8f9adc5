"""Rounds on the job queue (jobs/): submit, a worker per vantage, status, SIGTERM drain.

Real PostgreSQL (the suite's server), real ``fragscope`` processes, the null probe (no
network): what is tested is the queue, the workers and the resume ledger.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.fixtures.engine import null_campaign, popen_cli, run_cli

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

HEARTBEAT = "0.5"
LEASE = "3"


def status_rows(url: str, round_: str) -> list[dict[str, str]]:
    done = run_cli("round", "status", round_, "--db", url, "--stall-after", "1.5")
    assert done.returncode == 0, done.stderr
    header, *lines = done.stdout.splitlines()
    return [dict(zip(header.split("\t"), line.split("\t"), strict=True)) for line in lines]


def jobs(url: str) -> list[tuple[str, int, str, int]]:
    """(vantage, shard, job state, tasks stored) of every shard job, straight from the
    tables: cheaper to poll than ``round status``, which plans the campaign."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT j.args->>'vantage', (j.args->>'shard')::int, j.status::text, "
                    "(SELECT COUNT(*) FROM tasks_done t WHERE t.run_id = j.args->>'run_id' "
                    "AND t.shard = (j.args->>'shard')::int) "
                    "FROM procrastinate_jobs j ORDER BY 1, 2"
                )
            ).all()
    finally:
        engine.dispose()
    return [(v, s, state, int(n)) for v, s, state, n in rows]


def wait_for(check: object, *, timeout: float, what: str) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:g} s")


def worker(url: str, vantage: str) -> subprocess.Popen[str]:
    return popen_cli(
        "worker",
        "--vantage",
        vantage,
        "--db",
        url,
        "--heartbeat",
        HEARTBEAT,
        "--lease",
        LEASE,
        "--log-json",
    )


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    _out, err = proc.communicate()
    print(err[-5000:])  # shown when the test fails


def test_workers_take_their_vantage_and_drain_on_sigterm(pg_url: str, tmp_path: Path) -> None:
    url = pg_url
    campaign = null_campaign(
        tmp_path,
        targets=120,
        delay_s=0.1,
        fail_every=5,
        follow_ups=0,
        concurrency=2,
        name="round-test",
    )
    assert run_cli("db", "upgrade", "--db", url).returncode == 0
    submitted = run_cli(
        "round",
        "submit",
        "--campaign",
        str(campaign),
        "--round",
        "R1",
        "--vantage",
        "ams",
        "--vantage",
        "sin",
        "--shards",
        "2",
        "--db",
        url,
    )
    assert submitted.returncode == 0, submitted.stderr
    assert "4 jobs submitted" in submitted.stdout
    rows = status_rows(url, "R1")
    assert [(r["vantage"], r["shard"], r["job"]) for r in rows] == [
        ("ams", "0/2", "todo"),
        ("ams", "1/2", "todo"),
        ("sin", "0/2", "todo"),
        ("sin", "1/2", "todo"),
    ]
    # Each vantage's shards cover its plan exactly once; nothing stored yet, all stale.
    assert sum(int(r["planned"]) for r in rows if r["vantage"] == "ams") == 120
    assert all(r["stale"] == r["planned"] and r["stored"] == "0" for r in rows)

    ams = worker(url, "ams")
    try:
        wait_for(
            lambda: all(j[2] == "succeeded" for j in jobs(url)[:2]),
            timeout=60,
            what="the ams shards",
        )
        rows = status_rows(url, "R1")
        assert [r["job"] for r in rows[2:]] == ["todo", "todo"]  # not its vantage
        assert all(r["stored"] == r["planned"] and r["stale"] == "0" for r in rows[:2])
        assert sum(int(r["failed"]) for r in rows[:2]) == 24  # fail_every = 5
        # SIGTERM while idle: exit 0.
        ams.send_signal(signal.SIGTERM)
        assert ams.wait(timeout=30) == 0
    finally:
        stop(ams)

    sin = worker(url, "sin")
    try:
        wait_for(
            lambda: any(j[2] == "doing" and j[3] > 5 for j in jobs(url)[2:]),
            timeout=60,
            what="the first sin tasks",
        )
        sin.send_signal(signal.SIGTERM)  # mid-shard: the shard drains, the job goes back
        assert sin.wait(timeout=30) == 0
        _out, err = sin.communicate()
        assert '"status": "interrupted"' in err
        rows = status_rows(url, "R1")
        assert any(r["job"] == "todo" and int(r["stale"]) > 0 for r in rows[2:]), rows
    finally:
        stop(sin)
    sin = worker(url, "sin")
    try:
        wait_for(
            lambda: all(j[2] == "succeeded" for j in jobs(url)),
            timeout=90,
            what="the sin shards after the restart",
        )
    finally:
        stop(sin)
    engine = create_engine(url)
    with engine.connect() as conn:
        per_run = conn.execute(
            text(
                "SELECT r.id, COUNT(*), COUNT(DISTINCT t.task_key), MIN(r.status) "
                "FROM tasks_done t JOIN runs r ON r.id = t.run_id GROUP BY r.id"
            )
        ).all()
    engine.dispose()
    assert sorted(n for _run, n, _distinct, _status in per_run) == [120, 120]
    assert all(n == distinct for _run, n, distinct, _status in per_run)


def test_round_schedule_submits_a_round_each_tick(pg_url: str, tmp_path: Path) -> None:
    # procrastinate's cron takes a sixth field, seconds: a tick every 2 s for the test.
    campaign = null_campaign(tmp_path, targets=10, name="schedule-test")
    assert run_cli("db", "upgrade", "--db", pg_url).returncode == 0
    scheduler = popen_cli(
        "round",
        "schedule",
        "--campaign",
        str(campaign),
        "--cron",
        "* * * * * */2",
        "--vantage",
        "ams",
        "--vantage",
        "sin",
        "--shards",
        "3",
        "--db",
        pg_url,
    )
    try:
        wait_for(lambda: len(jobs_of_week(pg_url)) >= 6, timeout=60, what="a scheduled round")
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(timeout=30) == 0
    finally:
        stop(scheduler)
    submitted = jobs_of_week(pg_url)
    assert {(v, s) for v, s in submitted} == {(v, s) for v in ("ams", "sin") for s in range(3)}


def jobs_of_week(url: str) -> list[tuple[str, int]]:
    """Shard jobs of the round named after this ISO week (the scheduler's label)."""
    import datetime as dt

    week = dt.datetime.now(dt.UTC).strftime("%G-W%V")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar()
            if exists is None:
                return []
            rows = conn.execute(
                text(
                    "SELECT args->>'vantage', (args->>'shard')::int FROM procrastinate_jobs "
                    "WHERE task_name = 'fragscope.shard' AND args->>'round' = :week"
                ),
                {"week": week},
            ).all()
    finally:
        engine.dispose()
    return [(str(v), int(s)) for v, s in rows]
