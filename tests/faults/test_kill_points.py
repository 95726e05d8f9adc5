"""Random kill points (issue 18, fault-injection suite): kill -9 at 10 seeded random points
of a small lab campaign, with 1 and with 2 workers, each followed by --resume; the final
(task_key, attempt) set is an uninterrupted run's, with no duplicate, and no process of
the run outlives a kill."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from fragscope.lab.truth import load
from fragscope.lab.world import Lab
from tests.faults.runs import dns_campaign, processes_of, stored_attempts, wait_gone
from tests.fixtures.engine import done_keys, popen_cli, query, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.lab]

KILLS = 10
NAMES = [f"k{i}.example.test" for i in range(75)]
LIVENESS_S = 10.0


def lab_campaign(
    directory: Path,
    lab: Lab,
    *,
    rate: float,
    names: Sequence[str] = NAMES,
    concurrency: int = 32,
) -> Path:
    """``names`` (75) at the lab's validating resolver over Do53 and DoT: 150 tasks."""
    truth = load()
    icann = truth.dns.resolvers["icann"]
    return dns_campaign(
        directory,
        endpoints=[
            f"udp://{icann.address}",
            f"tls://{icann.address}:{icann.tls}#{truth.tls_hostname}",
        ],
        names=names,
        rate=rate,
        concurrency=concurrency,
        burst=8,
        timeout_s=3.0,
        ca_file=str(lab.ca_file),
        name="kills",
    )


@pytest.fixture(scope="module")
def reference(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, int]]:
    """The (task_key, attempt) set of one uninterrupted run."""
    directory = tmp_path_factory.mktemp("kill-reference")
    db = directory / "db.sqlite"
    campaign = lab_campaign(directory, lab, rate=1000)
    r = run_cli("run", "--campaign", str(campaign), "--db", str(db), "--auto-migrate")
    assert r.returncode == 0, r.stderr
    attempts = stored_attempts(db)
    assert max(attempts.values()) == 1 and len(attempts) == 2 * len(NAMES)
    return set(attempts)


@contextlib.contextmanager
def _reaped(marker: str) -> Iterator[None]:
    try:
        yield
    finally:
        for pid in processes_of(marker):  # on failure: leave nothing behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("workers", [1, 2])
def test_kill_9_at_random_points_then_resume(
    lab: Lab, tmp_path: Path, reference: set[tuple[str, int]], workers: int
) -> None:
    rng = random.Random(18 + workers)
    # 20 tasks a second in all (a commit a second): the 150 tasks take 7.5 s of measuring,
    # and the kill points fall between and inside commits, and during start-ups.
    campaign = lab_campaign(tmp_path, lab, rate=10)
    db = tmp_path / "db.sqlite"
    args = ["run", "--campaign", str(campaign), "--db", str(db), "--auto-migrate",
            "--workers", str(workers)]  # fmt: skip
    total = len(reference)
    # Points stop 30 tasks short of the end: the ledger is committed about once a second
    # (20 tasks), so a point among the last commits is often seen only when the run has
    # already finished, and that kill could not happen.
    points = sorted(rng.sample(range(1, total - 30), KILLS))
    killed = 0
    with _reaped(str(db)):
        for i, point in enumerate(points):
            if _status(db) == "finished":
                break  # a kill came after the run had recorded its end
            proc = popen_cli(*args, *(["--resume"] if i else []))
            while len(done_keys(db) if _has_ledger(db) else []) < point and proc.poll() is None:
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 0.3))  # between commits, or inside one
            if proc.poll() is not None:
                assert proc.returncode == 0, proc.communicate()[1]
                break  # the run finished before the point: nothing left to kill
            pids = processes_of(str(db))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed += 1
            assert wait_gone(pids, timeout=LIVENESS_S) == [], f"kill {i}: processes outlived it"
            attempts = stored_attempts(db)
            assert max(attempts.values(), default=1) == 1, f"kill {i}: a duplicate row"
        if _status(db) != "finished":
            r = run_cli(*args, "--resume", "--lock-wait", "0")
            assert r.returncode == 0, r.stderr
    assert killed >= KILLS - 2, f"only {killed} of the kill points were reached"
    assert query(db, "SELECT COUNT(*), MIN(status) FROM runs")[0] == (1, "finished")
    attempts = stored_attempts(db)
    assert max(attempts.values()) == 1
    assert set(attempts) == reference
    keys = done_keys(db)
    assert len(keys) == len(set(keys)) == len(NAMES) * 2


def _status(db: Path) -> str | None:
    rows = query(db, "SELECT status FROM runs") if _has_ledger(db) else []
    return str(rows[0][0]) if rows else None


def _has_ledger(db: Path) -> bool:
    if not db.exists():
        return False
    return bool(query(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'tasks_done'")[0][0])
