"""Stops are bounded (issue 18, finding 8): --max-duration, SIGTERM and SIGINT end within
max(2 x the probe timeout, 5 s) whatever the concurrency and rate, leave what did not
start to --resume, and the run's status says whether every task was done.

100,000 tasks in batches of 64 (as dns.query makes them) at 500/s and concurrency 2,048:
every worker used to pull a batch before waiting for a slot, and after the stop the
131,072 held tasks drained at the rate limit for 200 s.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from fragscope.probes.engine.console import Reporter
from fragscope.probes.engine.prepared_run import RunOptions
from fragscope.probes.engine.runs import execute
from tests.faults.runs import stored_attempts
from tests.fixtures.engine import (
    done_keys,
    null_campaign,
    popen_cli,
    query,
    run_cli,
    write_targets,
)

pytestmark = pytest.mark.slow

TASKS = 100_000
STOP_AFTER_S = 10.0
BOUND_S = 30.0
"""From the start of the run to its end: the stop at 10 s plus a liveness bound with slack
(the promise is max(2 x the deadline, 5 s) after the stop; the machine is shared)."""
CLI = "tests.engine_cli"


def _campaign(directory: Path, *, rate: float) -> Path:
    """100,000 tasks of test.batch64 (batches of 64, like dns.query; it sends nothing) at
    one endpoint, concurrency 2,048."""
    write_targets(directory / "targets.csv", TASKS)
    path = directory / "stops.toml"
    path.write_text(
        f"""name = "stops"
vantage = "clean"

[[targets]]
file = "targets.csv"

[[endpoints]]
label = "one"
url = "udp://127.0.0.1:1"

[probes."test.batch64"]

[limits]
concurrency = 2048
rate = {rate}
burst = 64
deadline = 2.0
"""
    )
    return path


@pytest.mark.parametrize("stop", ["max_duration", "sigterm"])
def test_stop_of_100k_tasks_at_rate_500_is_bounded_then_resume_completes(
    tmp_path: Path, stop: str
) -> None:
    slow = _campaign(tmp_path, rate=500)
    db = tmp_path / "db.sqlite"
    args = ["run", "--campaign", str(slow), "--db", str(db), "--auto-migrate", "--log-json"]
    started = time.monotonic()
    if stop == "max_duration":
        proc = popen_cli(*args, "--max-duration", str(STOP_AFTER_S), module=CLI)
    else:
        proc = popen_cli(*args, module=CLI)
        time.sleep(STOP_AFTER_S)
        proc.send_signal(signal.SIGTERM)
    try:
        _out, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, err
    assert elapsed < BOUND_S, f"the stop took {elapsed - STOP_AFTER_S:.1f} s"
    final = json.loads(err.splitlines()[-1])
    want = "partial" if stop == "max_duration" else "interrupted"
    assert final["status"] == want
    assert query(db, "SELECT status, exit_code FROM runs")[0] == (want, 1)
    done = len(done_keys(db))
    assert 0 < done <= 64 + 500 * elapsed  # the burst, then the rate
    assert done == final["tasks"]  # everything measured is stored

    # The same plan at an unlimited rate: --resume does exactly the rest.
    (tmp_path / "fast").mkdir()
    fast = _campaign(tmp_path / "fast", rate=1e6)
    r = run_cli(
        "run", "--campaign", str(fast), "--db", str(db), "--resume", module=CLI, timeout=600
    )
    assert r.returncode == 0, r.stderr
    assert query(db, "SELECT COUNT(*), MIN(status) FROM runs")[0] == (1, "finished")
    keys = done_keys(db)
    assert len(keys) == len(set(keys)) == TASKS
    assert set(keys) == {f"test.batch64|t{i:06d}.lab.test|one||0" for i in range(1, TASKS + 1)}
    attempts = stored_attempts(db, "null_observations")
    assert set(attempts) == {(k, 0) for k in keys} and max(attempts.values()) == 1


def test_a_stop_after_the_last_task_started_leaves_a_finished_run(tmp_path: Path) -> None:
    """Every task had started when --max-duration came, and each then finished: the run
    is complete, so it is `finished` (exit 0), not `partial`."""
    campaign = null_campaign(tmp_path, targets=10, delay_s=1.0, fail_every=0, follow_ups=0)
    db = tmp_path / "db.sqlite"
    opts = RunOptions(campaign=campaign, db=str(db), auto_migrate=True, max_duration=0.3)
    assert execute(opts, reporter=Reporter()) == 0
    assert query(db, "SELECT status, exit_code FROM runs")[0] == ("finished", 0)
    assert len(done_keys(db)) == 10
