"""Workers die with their parent, and a stale lock does not wedge the vantage (issue 18,
finding 3).

kill -9 of `run --workers 2` used to leave both forked workers measuring and then waiting
for ever, re-parented to PID 1, still holding the run lock: every later --resume exited 2.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fragscope.probes.engine.console import Reporter
from fragscope.probes.engine.lock import lock_file_for, lock_name, pid_alive
from fragscope.probes.engine.prepared_run import RunOptions
from fragscope.probes.engine.runs import execute
from tests.dns.world import DnsWorld
from tests.faults.runs import dns_campaign, planned_keys, processes_of, stored_attempts, wait_gone
from tests.fixtures.engine import done_keys, null_campaign, popen_cli, query, run_cli, wait_for_rows

pytestmark = pytest.mark.slow

LIVENESS_S = 10.0


def test_kill_9_of_the_parent_leaves_no_worker_and_resume_completes(
    dns_world: DnsWorld, tmp_path: Path
) -> None:
    names = [f"o{i}.example.test" for i in range(3000)]
    server = [f"udp://{dns_world.sld}"]
    slow = dns_campaign(tmp_path, endpoints=server, names=names, rate=300, concurrency=64)
    db = tmp_path / "db.sqlite"
    proc = popen_cli("run", "--campaign", str(slow), "--db", str(db), "--auto-migrate",
                     "--workers", "2")  # fmt: skip
    try:
        wait_for_rows(db)
        workers = [p for p in processes_of(str(db)) if p != proc.pid]
        assert len(workers) == 2, workers
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert wait_gone(workers, timeout=LIVENESS_S) == []
        assert processes_of(str(db)) == []
    finally:
        for pid in processes_of(str(db)):  # on failure: leave nothing behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    before = len(done_keys(db))
    assert 0 < before < len(names)
    assert query(db, "SELECT status FROM runs")[0][0] == "running"

    (tmp_path / "fast").mkdir()
    fast = dns_campaign(tmp_path / "fast", endpoints=server, names=names, rate=1e6, concurrency=64)
    r = run_cli("run", "--campaign", str(fast), "--db", str(db), "--resume", "--lock-wait", "0",
                "--workers", "2")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert query(db, "SELECT COUNT(*), MIN(status) FROM runs")[0] == (1, "finished")
    keys = done_keys(db)
    # dns.query spawns no follow-ups: the plan is what an uninterrupted run stores.
    assert len(keys) == len(set(keys)) and set(keys) == planned_keys(fast)
    attempts = stored_attempts(db)
    assert set(attempts) == {(k, 0) for k in keys} and max(attempts.values()) == 1


ORPHAN = """
import fcntl, os, subprocess, sys
path, name = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"{os.getpid()}\\n{name}\\n".encode())
child = subprocess.Popen(
    ["sleep", "300"], pass_fds=[fd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
)
print(child.pid, flush=True)
os._exit(0)
"""


def test_a_lock_held_by_orphans_of_a_dead_run_is_reported_and_taken_over(tmp_path: Path) -> None:
    """What an older fragscope left behind: a process holding the run lock it inherited
    from a run that died. `runs list` names it; `run --resume` ends it and goes on."""
    campaign = null_campaign(tmp_path, targets=200, delay_s=0.05, concurrency=2, follow_ups=0)
    db = tmp_path / "db.sqlite"
    opts = RunOptions(campaign=campaign, db=str(db), auto_migrate=True, max_duration=0.3)
    assert execute(opts, reporter=Reporter()) == 1  # partial: something left to resume
    name = lock_name("engine-test", vantage="clean", shard="0/1")
    made = subprocess.run(
        [sys.executable, "-c", ORPHAN, lock_file_for(str(db), name), name],
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = int(made.stdout)
    try:
        listed = run_cli("runs", "list", "--db", str(db))
        assert listed.returncode == 0, listed.stderr
        assert "stale lock" in listed.stdout and str(orphan) in listed.stdout
        r = run_cli("run", "--campaign", str(campaign), "--db", str(db), "--resume",
                    "--lock-wait", "0", "--log-json")  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert '"lock_taken_over"' in r.stderr
        assert not pid_alive(orphan)
        assert len(set(done_keys(db))) == 200
        assert query(db, "SELECT status FROM runs")[0][0] == "finished"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(orphan, signal.SIGKILL)
