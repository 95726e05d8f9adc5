"""A lab round on the job queue, with a worker killed mid-shard (issue 22, step 1).

Three ``fragscope worker`` processes, two at the clean vantage (the host) and one at the
censored vantage (its network namespace, behind its middlebox), run a round of 2
vantages x 4 shards from the suite's PostgreSQL. One clean worker is killed with
``kill -9`` while its shard is half done: its ``fragscope run`` child dies with it
(PR_SET_PDEATHSIG), the other clean worker sends the job back to the queue when the dead
one's heartbeat stops, takes it when the dead one's run lease has lapsed, and resumes the
shard. The stored (vantage, task_key, attempt) set then equals a single-process run of the
same campaigns, with no duplicate and no missing task, and ``indicators compute --round``
gives the same values for both rounds.

The censored namespace has no route to the host's loopback, where PostgreSQL listens: every
process reaches the server through its Unix socket, which a network namespace shares
with the host (the file system is the same).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from fragscope.db.models import Base
from fragscope.lab.plan import campaign_text, make_plan, write_targets
from fragscope.lab.vantages import lab_exec_argv
from fragscope.lab.world import Lab
from tests.fixtures.postgres import PostgresServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[1]
VANTAGES = ("clean", "censored")
SHARDS = 4
HEARTBEAT = "0.5"
LEASE = "3"
ENV = {**os.environ, "FRAGSCOPE_ALLOWED_NETS": "10.99.0.0/16,fd99::/16"}


def fragscope(*args: str) -> list[str]:
    return [sys.executable, "-c", "import cli; cli.main()", *args]


def run_at(vantage: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        lab_exec_argv(vantage, fragscope(*args)),
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def start_worker(vantage: str, url: str, log: Path) -> subprocess.Popen[bytes]:
    argv = fragscope(
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
    with log.open("wb") as out:
        return subprocess.Popen(
            lab_exec_argv(vantage, argv), cwd=REPO, env=ENV, stdout=out, stderr=out
        )


def children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(p) for p in found]


@pytest.fixture
def socket_url(postgres_server: PostgresServer, pg_url: str) -> str:
    """The test's database through the server's Unix socket (reachable from namespaces)."""
    name = make_url(pg_url).database
    return (
        f"postgresql+psycopg://postgres@/{name}"
        f"?host={postgres_server.socket_dir}&port={postgres_server.port}"
    )


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def observations(url: str, round_: str) -> dict[tuple[str, str, int], str | None]:
    """(vantage, task_key, attempt) -> failure of every observation row of the round."""
    tables = [
        t.name
        for t in Base.metadata.sorted_tables
        if {"run_id", "task_key", "attempt", "failure"} <= set(t.columns.keys())
    ]
    engine = create_engine(url)
    rows: list[tuple[str, str, int, str | None]] = []
    with engine.connect() as conn:
        for table in tables:
            rows += conn.execute(
                text(
                    f"SELECT v.label, o.task_key, o.attempt, o.failure FROM {table} o "
                    "JOIN runs r ON r.id = o.run_id JOIN vantages v ON v.id = r.vantage_id "
                    "WHERE r.round = :round"
                ),
                {"round": round_},
            ).all()
    engine.dispose()
    found = {(str(v), str(k), int(a)): f for v, k, a, f in rows}
    assert len(found) == len(rows), "a (vantage, task_key, attempt) stored twice"
    return found


def retried_after_timeout(
    more: dict[tuple[str, str, int], str | None], fewer: dict[tuple[str, str, int], str | None]
) -> list[tuple[str, str, int]]:
    """Attempts ``more`` has and ``fewer`` lacks, each the retry of an attempt that timed
    out in ``more``: the network was slow that moment (a loaded machine), not the queue."""
    extra = sorted(set(more) - set(fewer))
    return [
        (v, k, a)
        for v, k, a in extra
        if a > 0 and more.get((v, k, a - 1)) == "generic_timeout_error"
    ]


def indicator_values(url: str, round_: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT v.label, i.code, i.version, i.value, i.n, i.status, i.reason "
                "FROM indicator_values i JOIN runs r ON r.id = i.run_id "
                "JOIN vantages v ON v.id = r.vantage_id WHERE r.round = :round "
                "ORDER BY 1, 2, 3"
            ),
            {"round": round_},
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def job_states(url: str) -> list[tuple[str, int, str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT args->>'vantage', (args->>'shard')::int, status::text "
                "FROM procrastinate_jobs WHERE task_name = 'fragscope.shard' ORDER BY 1, 2"
            )
        ).all()
    engine.dispose()
    return [(str(v), int(s), str(st)) for v, s, st in rows]


def stored(url: str, vantage: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(
            text(
                "SELECT COUNT(*) FROM tasks_done t JOIN runs r ON r.id = t.run_id "
                "JOIN vantages v ON v.id = r.vantage_id WHERE v.label = :v AND r.round = 'jobs'"
            ),
            {"v": vantage},
        ).scalar_one()
    engine.dispose()
    return int(n)


@pytest.mark.timeout(900)  # two lab rounds of two vantages, at the lab's polite rates
def test_a_killed_worker_s_shard_completes_elsewhere_and_nothing_differs(
    lab: Lab,
    socket_url: str,
    tmp_path: Path,
    workers: list[subprocess.Popen[bytes]],
) -> None:
    # The lab Internet answers every closed port with its ICMP error (no rate limit:
    # lab.core.topology.ICMP_UNLIMITED), so two rounds that run the same tasks in another
    # order meet the same errors and differ in no attempt for no fault of the queue.
    url = socket_url
    write_targets(make_plan(lab.truth), tmp_path)
    campaigns = {}
    for vantage in VANTAGES:
        campaigns[vantage] = tmp_path / f"{vantage}.toml"
        campaigns[vantage].write_text(campaign_text(lab, vantage, tmp_path, "jobs"))
    run_at("clean", "db", "upgrade", "--db", url)
    for vantage in VANTAGES:
        run_at(
            "clean",
            "round",
            "submit",
            "--campaign",
            str(campaigns[vantage]),
            "--round",
            "jobs",
            "--vantage",
            vantage,
            "--shards",
            str(SHARDS),
            "--db",
            url,
        )
    started = time.monotonic()
    victim = start_worker("clean", url, tmp_path / "clean-a.log")
    workers.append(victim)
    workers.append(start_worker("clean", url, tmp_path / "clean-b.log"))
    workers.append(start_worker("censored", url, tmp_path / "censored.log"))

    # kill -9 the first clean worker in the middle of a shard: it has a `fragscope run`
    # child, and that child has stored some of its tasks.
    deadline = time.monotonic() + 120
    shard_child: list[int] = []
    while time.monotonic() < deadline and not shard_child:
        before = stored(url, "clean")
        if before > 0 and (shard_child := children(victim.pid)):
            break
        time.sleep(0.1)
    assert shard_child, (tmp_path / "clean-a.log").read_text()
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = time.monotonic()
    # Its shard's run dies with it (PR_SET_PDEATHSIG): nothing measures for a dead worker.
    while time.monotonic() < killed_at + 5 and Path(f"/proc/{shard_child[0]}").exists():
        time.sleep(0.05)
    assert (
        not Path(f"/proc/{shard_child[0]}/cmdline").exists()
        or not Path(f"/proc/{shard_child[0]}/cmdline").read_bytes()
    )

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        states = job_states(url)
        if all(state == "succeeded" for _v, _s, state in states):
            break
        time.sleep(0.5)
    finished = time.monotonic()
    assert [s for _v, _s, s in job_states(url)] == ["succeeded"] * (SHARDS * 2), (
        tmp_path / "clean-b.log"
    ).read_text()[-3000:]
    for proc in workers[1:]:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    print(
        f"round on the queue: {finished - started:.1f} s, kill to done {finished - killed_at:.1f} s"
    )

    # The same campaigns in one process per vantage, as a cron run would do them.
    for vantage in VANTAGES:
        run_at(
            vantage,
            "run",
            "--campaign",
            str(campaigns[vantage]),
            "--db",
            url,
            "--round",
            "single",
            "--no-progress",
        )
    on_queue, single = observations(url, "jobs"), observations(url, "single")
    # The same tasks, each with attempts 0..n-1 and no gap: nothing missing, nothing twice.
    tasks = {(v, k) for v, k, _a in on_queue}
    assert tasks == {(v, k) for v, k, _a in single}
    assert {v for v, _k in tasks} == set(VANTAGES)
    for rows in (on_queue, single):
        attempts: dict[tuple[str, str], list[int]] = {}
        for v, k, a in rows:
            attempts.setdefault((v, k), []).append(a)
        assert all(sorted(a) == list(range(len(a))) for a in attempts.values())
    # The same attempts, but for a retry that follows a timeout in one round only.
    slow = retried_after_timeout(on_queue, single) + retried_after_timeout(single, on_queue)
    differ = set(on_queue) ^ set(single)
    assert differ == set(slow), sorted(differ - set(slow))
    assert len(slow) <= len(tasks) // 100, slow
    print(
        f"{len(tasks)} tasks, {len(on_queue)} attempts; retries after a timeout in one "
        f"round only: {slow}"
    )

    for round_ in ("jobs", "single"):
        run_at("clean", "indicators", "compute", "--db", url, "--round", round_, "--asn-map", "lab")
    computed = indicator_values(url, "jobs")
    assert computed and computed == indicator_values(url, "single")
