"""Runs end to end: plan == stored, resume after kill -9, shards, lock, limits, signals, logging.

The CLI runs in subprocesses where a real process boundary matters (kill -9, locks, env -i,
--workers); elsewhere in-process through probes.engine.runs.execute.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from fragscope.probes.engine.console import Reporter
from fragscope.probes.engine.prepared_run import RunOptions
from fragscope.probes.engine.runs import execute
from tests.fixtures.engine import (
    REPO,
    done_keys,
    null_campaign,
    popen_cli,
    query,
    run_cli,
    wait_for_rows,
)

pytestmark = pytest.mark.slow


def _run(campaign: Path, db: Path, **kw: object) -> int:
    opts = RunOptions(campaign=campaign, db=str(db), auto_migrate=True, **kw)  # type: ignore[arg-type]
    return execute(opts, reporter=Reporter())


def _reference(tmp_path: Path, campaign: Path) -> set[str]:
    """The task keys of one uninterrupted run: the plan, follow-ups included."""
    db = tmp_path / "reference.sqlite"
    assert _run(campaign, db) == 0
    keys = done_keys(db)
    assert len(keys) == len(set(keys))
    return set(keys)


def _assert_consistent(db: Path, expected: set[str]) -> None:
    keys = done_keys(db)
    assert len(keys) == len(set(keys)), "a task finished twice"
    assert set(keys) == expected
    # Every observation has its ledger row and every ledger row its observations.
    orphans = query(
        db,
        "SELECT COUNT(*) FROM null_observations o WHERE NOT EXISTS "
        "(SELECT 1 FROM tasks_done d WHERE d.run_id = o.run_id AND d.task_key = o.task_key)",
    )[0][0]
    assert orphans == 0
    missing = query(
        db,
        "SELECT COUNT(*) FROM tasks_done d WHERE d.attempts != (SELECT COUNT(*) FROM "
        "null_observations o WHERE o.run_id = d.run_id AND o.task_key = d.task_key)",
    )[0][0]
    assert missing == 0


def test_run_stores_exactly_the_plan(tmp_path: Path) -> None:
    campaign = null_campaign(tmp_path, targets=200, fail_every=5, follow_ups=2, retries=2)
    db = tmp_path / "db.sqlite"
    assert _run(campaign, db) == 0
    keys = set(done_keys(db))
    roots = {k for k in keys if ">" not in k}
    assert len(roots) == 200
    assert all(k.startswith("engine.null|t") and k.endswith("||0") for k in roots)
    # Failing targets (CRC32 rule) were retried twice and spawned no follow-ups.
    failed = {r[0] for r in query(db, "SELECT task_key FROM tasks_done WHERE failure IS NOT NULL")}
    assert failed and all(
        r[0] == 3 for r in query(db, "SELECT attempts FROM tasks_done WHERE failure IS NOT NULL")
    )
    attempts = Counter(r[0] for r in query(db, "SELECT attempt FROM null_observations"))
    assert attempts[1] == attempts[2] == len(failed)
    assert keys - roots == {f"{k}>f{i}" for k in roots - failed for i in range(2)}
    assert query(db, "SELECT COUNT(*) FROM targets")[0][0] == 200
    status, code, counts = query(db, "SELECT status, exit_code, counts FROM runs")[0]
    assert (status, code) == ("finished", 0)
    assert json.loads(str(counts))["engine.null"]["tasks"] == len(keys)
    _assert_consistent(db, keys)


def test_kill_9_at_three_points_then_resume(tmp_path: Path) -> None:
    campaign = null_campaign(
        tmp_path, targets=2500, delay_s=0.01, fail_every=9, follow_ups=1, concurrency=8
    )
    (tmp_path / "ref").mkdir()
    expected = _reference(
        tmp_path, null_campaign(tmp_path / "ref", targets=2500, fail_every=9, follow_ups=1)
    )
    db = tmp_path / "db.sqlite"
    args = ["run", "--campaign", str(campaign), "--db", str(db), "--auto-migrate"]
    # 1: inside the first writer commit (INSERTs done, COMMIT not yet).
    r = run_cli(*args, env={"FRAGSCOPE_TEST_KILL_AT_COMMIT": "1"}, module="tests.engine_crash")
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert done_keys(db) == []
    run_id = str(query(db, "SELECT id FROM runs")[0][0])
    # 2: inside the third writer commit of the resumed run.
    r = run_cli(
        *args, "--resume", env={"FRAGSCOPE_TEST_KILL_AT_COMMIT": "3"}, module="tests.engine_crash"
    )
    assert r.returncode == -signal.SIGKILL, r.stderr
    after_2 = len(done_keys(db))
    assert 0 < after_2 < len(expected)
    # 3: from outside, at an arbitrary moment while tasks run.
    proc = popen_cli(*args, "--resume", run_id)
    wait_for_rows(db, more_than=after_2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after_3 = len(done_keys(db))
    assert after_2 < after_3 < len(expected)
    assert query(db, "SELECT status FROM runs")[0][0] == "running"
    _assert_consistent(db, set(done_keys(db)))
    # Finish.
    r = run_cli(*args, "--resume")
    assert r.returncode == 0, r.stderr
    assert query(db, "SELECT COUNT(*), MIN(status) FROM runs")[0] == (1, "finished")
    _assert_consistent(db, expected)


def test_shards_cover_the_plan_exactly_once(tmp_path: Path) -> None:
    campaign = null_campaign(tmp_path, targets=300, follow_ups=1)
    expected = _reference(tmp_path, campaign)
    run_id = str(uuid.uuid4())
    db0, db1 = tmp_path / "s0.sqlite", tmp_path / "s1.sqlite"
    assert _run(campaign, db0, run_id=run_id, shard="0/2") == 0
    assert _run(campaign, db1, run_id=run_id, shard="1/2") == 0
    k0, k1 = set(done_keys(db0)), set(done_keys(db1))
    assert k0 and k1 and not k0 & k1
    assert k0 | k1 == expected
    # Follow-ups stay in their parent's shard.
    assert all(k.split(">")[0] in k0 for k in k0)
    # Both shards in one database share the run.
    db = tmp_path / "both.sqlite"
    assert _run(campaign, db, run_id=run_id, shard="1/2") == 0
    assert _run(campaign, db, run_id=run_id, shard="0/2") == 0
    assert query(db, "SELECT COUNT(*) FROM runs")[0][0] == 1
    _assert_consistent(db, expected)


def test_max_duration_gives_partial_and_exit_1_then_resume_finishes(tmp_path: Path) -> None:
    campaign = null_campaign(tmp_path, targets=400, delay_s=0.05, concurrency=4, follow_ups=0)
    db = tmp_path / "db.sqlite"
    assert _run(campaign, db, max_duration=0.5) == 1
    status, code = query(db, "SELECT status, exit_code FROM runs")[0]
    assert (status, code) == ("partial", 1)
    partial = set(done_keys(db))
    assert 0 < len(partial) < 400
    fast = null_campaign(tmp_path, targets=400, follow_ups=0)  # same plan, no delay
    assert _run(fast, db, resume="latest") == 0
    assert query(db, "SELECT status FROM runs")[0][0] == "finished"
    assert len(set(done_keys(db))) == 400


def test_lock_second_run_exits_2_other_shard_proceeds_waiter_waits(tmp_path: Path) -> None:
    from fragscope.db import migrate
    from fragscope.db.connection import make_engine
    from fragscope.probes.engine.lock import run_lock

    campaign = null_campaign(tmp_path, targets=100, follow_ups=0)
    db = tmp_path / "db.sqlite"
    engine = make_engine(str(db))
    migrate.upgrade(engine)
    base = ["run", "--campaign", str(campaign), "--db", str(db)]
    # Another process's run of shard 0/2 holds the lock (the same lock `run` takes).
    holder = run_lock(engine, campaign="engine-test", vantage="clean", shard="0/2", wait=0)
    holder.__enter__()
    try:
        second = run_cli(*base, "--shard", "0/2", "--lock-wait", "0.2")
        assert second.returncode == 2
        assert "holds the lock" in second.stderr and "--lock-wait" in second.stderr
        assert query(db, "SELECT COUNT(*) FROM runs")[0][0] == 0  # it wrote nothing
        other = run_cli(*base, "--shard", "1/2")
        assert other.returncode == 0, other.stderr
        waiter = popen_cli(*base, "--shard", "0/2", "--lock-wait", "120")
        time.sleep(1.0)
        assert waiter.poll() is None, "the waiter should wait for the lock"
        assert query(db, "SELECT COUNT(*) FROM runs")[0][0] == 1
    finally:
        holder.__exit__(None, None, None)
        engine.dispose()
    assert waiter.wait(timeout=120) == 0, waiter.stderr.read() if waiter.stderr else ""
    rows = query(
        db, "SELECT status, (SELECT COUNT(*) FROM tasks_done d WHERE d.run_id = r.id) FROM runs r"
    )
    assert len(rows) == 2 and all(status == "finished" and n > 0 for status, n in rows)


def test_lock_between_two_real_runs(tmp_path: Path) -> None:
    slow = null_campaign(tmp_path, targets=400, delay_s=0.1, concurrency=2, follow_ups=0)
    db = tmp_path / "db.sqlite"
    first = popen_cli("run", "--campaign", str(slow), "--db", str(db), "--auto-migrate")
    try:
        wait_for_rows(db)
        second = run_cli("run", "--campaign", str(slow), "--db", str(db), "--lock-wait", "0")
        if first.poll() is None:  # only meaningful while the first still runs
            assert second.returncode == 2 and "holds the lock" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=120)


def test_env_i_without_tty_logs_parseable_json(tmp_path: Path) -> None:
    campaign = null_campaign(tmp_path, targets=50)
    db = tmp_path / "db.sqlite"
    result = subprocess.run(
        [
            "env",
            "-i",
            f"FRAGSCOPE_ALLOWED_NETS={os.environ['FRAGSCOPE_ALLOWED_NETS']}",
            sys.executable,
            str(REPO / "cli.py"),
            "run",
            "--campaign",
            str(campaign),
            "--db",
            str(db),
            "--auto-migrate",
            "--log-json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    records = [json.loads(line) for line in result.stderr.splitlines()]
    events = [r["event"] for r in records]
    assert events[0] == "run_started" and events[-1] == "run_finished"
    assert records[-1]["status"] == "finished" and records[-1]["tasks"] > 50


def test_quiet_without_tty(tmp_path: Path) -> None:
    campaign = null_campaign(tmp_path, targets=20)
    r = run_cli(
        "run", "--campaign", str(campaign), "--db", str(tmp_path / "d.sqlite"), "--auto-migrate"
    )
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_workers_2(tmp_path: Path) -> None:
    campaign = null_campaign(tmp_path, targets=400, follow_ups=1, fail_every=6)
    expected = _reference(tmp_path, campaign)
    db = tmp_path / "db.sqlite"
    r = run_cli(
        "run",
        "--campaign",
        str(campaign),
        "--db",
        str(db),
        "--auto-migrate",
        "--workers",
        "2",
        "--log-json",
    )
    assert r.returncode == 0, r.stderr
    _assert_consistent(db, expected)
    assert query(db, "SELECT COUNT(*) FROM targets")[0][0] == 400
    assert query(db, "SELECT status FROM runs")[0][0] == "finished"
    final = json.loads(r.stderr.splitlines()[-1])
    assert final["tasks"] == len(expected)


def test_sigterm_drains_and_marks_interrupted(tmp_path: Path) -> None:
    campaign = null_campaign(tmp_path, targets=400, delay_s=0.05, concurrency=4, follow_ups=0)
    db = tmp_path / "db.sqlite"
    proc = popen_cli("run", "--campaign", str(campaign), "--db", str(db), "--auto-migrate")
    wait_for_rows(db)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 1
    assert query(db, "SELECT status, exit_code FROM runs")[0] == ("interrupted", 1)
    n = len(done_keys(db))
    assert 0 < n < 400
    r = run_cli(
        "run",
        "--campaign",
        str(null_campaign(tmp_path, targets=400, follow_ups=0)),
        "--db",
        str(db),
        "--resume",
    )
    assert r.returncode == 0
    assert len(set(done_keys(db))) == 400


def test_dry_run_prints_tasks_and_writes_nothing(tmp_path: Path) -> None:
    campaign = null_campaign(tmp_path, targets=5)
    db = tmp_path / "none.sqlite"
    r = run_cli("run", "--campaign", str(campaign), "--db", str(db), "--dry-run")
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stdout.splitlines() if not line.startswith("#")]
    assert len(lines) == 5 and lines[0].startswith("engine.null|t000001.lab.test|-||0\t")
    assert "5 tasks planned, nothing sent" in r.stdout
    assert not db.exists()


def test_database_not_at_head_is_refused(tmp_path: Path) -> None:
    campaign = null_campaign(tmp_path, targets=5)
    db = tmp_path / "old.sqlite"
    from fragscope.db import migrate
    from fragscope.db.connection import make_engine

    engine = make_engine(str(db))
    migrate.upgrade(engine, "0001")
    engine.dispose()
    r = run_cli("run", "--campaign", str(campaign), "--db", str(db))
    assert r.returncode == 2
    assert "fragscope db upgrade" in r.stderr and "--auto-migrate" in r.stderr
    assert (
        run_cli("run", "--campaign", str(campaign), "--db", str(db), "--auto-migrate").returncode
        == 0
    )


def test_max_duration_also_stops_follow_ups(tmp_path: Path) -> None:
    # Planning ends at once (10 targets); the follow-ups are what would run past the limit.
    campaign = null_campaign(
        tmp_path, targets=10, delay_s=0.3, concurrency=10, follow_ups=20, fail_every=0
    )
    db = tmp_path / "db.sqlite"
    assert _run(campaign, db, max_duration=0.5) == 1
    n = len(done_keys(db))
    assert 10 <= n < 210
    pending = query(db, "SELECT COUNT(*) FROM task_followups")[0][0]
    assert pending == 200  # every follow-up is recorded, so --resume can run the rest


def test_shipped_campaign_runs_by_name(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "cli.py"),
            "run",
            "--campaign",
            "null-lab",
            "--db",
            str(db),
            "--auto-migrate",
            "--log-json",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    final = json.loads(result.stderr.splitlines()[-1])
    assert final["status"] == "finished"
    assert query(db, "SELECT COUNT(*) FROM targets")[0][0] == 1000
    assert query(db, "SELECT campaign, round FROM runs")[0] == ("null-lab", "lab")
