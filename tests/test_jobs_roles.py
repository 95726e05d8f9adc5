"""The grant matrix of docs/operations.md ("Roles"), enforced on a real PostgreSQL.

The database's owner creates the roles (``fragscope round roles``); then each vantage's
worker role runs a shard job through the queue (so every right a worker needs is
exercised for real) and the matrix is probed statement by statement: a worker reads its
own vantage's runs and ledger only, no observation at all, deletes nothing; an analyst
reads everything and writes only indicator values.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from fragscope.jobs.roles import observation_tables
from tests.fixtures.engine import null_campaign, popen_cli, run_cli
from tests.fixtures.postgres import PostgresServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def as_role(pg_url: str, role: str) -> str:
    return make_url(pg_url).set(username=role).render_as_string(hide_password=False)


@contextmanager
def session(server: PostgresServer, pg_url: str, role: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(
        host="127.0.0.1",
        port=server.port,
        user=role,
        dbname=make_url(pg_url).database,
        autocommit=True,
    ) as conn:
        yield conn


def denied(conn: psycopg.Connection, sql: str) -> bool:
    try:
        conn.execute(sql)  # type: ignore[arg-type]
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def count(conn: psycopg.Connection, sql: str) -> int:
    row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])


def test_workers_and_analysts_hold_exactly_the_matrix(
    postgres_server: PostgresServer, pg_url: str, tmp_path: Path
) -> None:
    campaign = null_campaign(tmp_path, targets=40, fail_every=4, follow_ups=1, name="roles")
    assert run_cli("db", "upgrade", "--db", pg_url).returncode == 0
    made = run_cli(
        "round",
        "roles",
        "--db",
        pg_url,
        "--worker",
        "ams",
        "--worker",
        "sin",
        "--analyst",
        "reader",
    )
    assert made.returncode == 0, made.stderr
    submitted = run_cli(
        "round",
        "submit",
        "--campaign",
        str(campaign),
        "--round",
        "R",
        "--vantage",
        "ams",
        "--vantage",
        "sin",
        "--shards",
        "1",
        "--db",
        pg_url,
    )
    assert submitted.returncode == 0, submitted.stderr
    for vantage in ("ams", "sin"):
        worker = popen_cli(
            "worker",
            "--vantage",
            vantage,
            "--db",
            as_role(pg_url, f"fragscope_worker_{vantage}"),
            "--heartbeat",
            "0.5",
            "--lease",
            "3",
        )
        try:
            with session(postgres_server, pg_url, "postgres") as owner:
                deadline = time.monotonic() + 60
                while (
                    time.monotonic() < deadline
                    and count(
                        owner,
                        "SELECT COUNT(*) FROM procrastinate_jobs WHERE status = 'succeeded' "
                        f"AND queue_name = '{vantage}'",
                    )
                    < 1
                ):
                    time.sleep(0.2)
            worker.send_signal(signal.SIGTERM)
            _out, err = worker.communicate(timeout=30)
            assert worker.returncode == 0, err
            assert '"status": "finished"' in err or "finished" in err, err
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()

    own = (
        "FROM {table} t JOIN runs r ON r.id = t.run_id JOIN vantages v ON v.id = r.vantage_id "
        "WHERE v.label = 'ams'"
    )
    with session(postgres_server, pg_url, "postgres") as owner:
        runs = count(owner, "SELECT COUNT(*) FROM runs")
        ledger = count(owner, "SELECT COUNT(*) FROM tasks_done")
        ams_ledger = count(owner, "SELECT COUNT(*) " + own.format(table="tasks_done"))
        ams_followups = count(owner, "SELECT COUNT(*) " + own.format(table="task_followups"))
        stored = count(owner, "SELECT COUNT(*) FROM null_observations")
    assert runs == 2 and 40 < ams_ledger < ledger and ams_followups > 0 and stored > 0

    with session(postgres_server, pg_url, "fragscope_worker_ams") as ams:
        # Its own vantage's runs and ledger, nothing of sin's.
        assert count(ams, "SELECT COUNT(*) FROM runs") == 1
        assert count(ams, "SELECT COUNT(*) FROM tasks_done") == ams_ledger
        assert count(ams, "SELECT COUNT(*) FROM task_followups") == ams_followups
        assert count(ams, "SELECT COUNT(DISTINCT queue_name) FROM procrastinate_jobs") == 1
        # No observation may be read, whoever's; nothing deleted, nothing rewritten.
        for table in observation_tables():
            assert denied(ams, f"SELECT 1 FROM {table} LIMIT 1"), table
            assert denied(ams, f"DELETE FROM {table}"), table
        for table in ("runs", "tasks_done", "task_followups", "vantages", "run_leases"):
            assert denied(ams, f"DELETE FROM {table}"), table
        assert denied(ams, "UPDATE tasks_done SET attempts = 0")
        assert denied(ams, "SELECT 1 FROM indicator_values")
        # A session cannot pose as another vantage: the vantage is the role's name.
        assert denied(ams, "SET ROLE fragscope_worker_sin")
    with session(postgres_server, pg_url, "postgres") as owner:
        row = owner.execute(
            "SELECT r.id FROM runs r JOIN vantages v ON v.id = r.vantage_id WHERE v.label = 'sin'"
        ).fetchone()
        assert row is not None
        sin_run = row[0]
    # Nor write rows for sin's run (the ledger's policy checks the run is its own).
    with session(postgres_server, pg_url, "fragscope_worker_ams") as ams:
        try:
            ams.execute(
                "INSERT INTO tasks_done (run_id, task_key, probe, attempts, shard, finished_at) "
                "VALUES (%s, 'forged', 'engine.null', 1, 0, now())",
                (sin_run,),
            )
            forged = False
        except psycopg.errors.InsufficientPrivilege:
            forged = True
        assert forged

    with session(postgres_server, pg_url, "reader") as reader:
        assert count(reader, "SELECT COUNT(*) FROM runs") == 2
        assert count(reader, "SELECT COUNT(*) FROM tasks_done") == ledger
        assert count(reader, "SELECT COUNT(*) FROM null_observations") == stored
        assert count(reader, "SELECT COUNT(*) FROM procrastinate_jobs") == 2
        assert denied(reader, "DELETE FROM null_observations")
        assert denied(reader, "DELETE FROM runs")
        assert denied(reader, "INSERT INTO run_leases VALUES ('x', 'y', now())")
