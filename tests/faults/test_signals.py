"""Signals (issue 18, fault-injection suite): SIGTERM in the middle of a lab campaign gives
`interrupted`, exit 1, within the stop bound, with everything measured stored (each
finished task with all its rows), with 1 and with 2 workers."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from fragscope.lab.world import Lab
from tests.faults.runs import stored_attempts
from tests.faults.test_kill_points import lab_campaign
from tests.fixtures.engine import done_keys, popen_cli, query, wait_for_rows

pytestmark = [pytest.mark.slow, pytest.mark.lab]

NAMES = [f"s{i}.example.test" for i in range(400)]
STOP_BOUND_S = 15.0
"""max(2 x timeout_s, 5 s) = 6 s promised; a liveness bound with slack for a busy machine."""


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_gives_interrupted_exit_1_and_stores_everything_measured(
    lab: Lab, tmp_path: Path, workers: int
) -> None:
    # 800 tasks at 20/s, concurrency 256: 40 s at full length. Before the fix the workers
    # held every task in batches when the signal came, and drained them for 40 s.
    campaign = lab_campaign(tmp_path, lab, rate=10, names=NAMES, concurrency=256)
    db = tmp_path / "db.sqlite"
    proc = popen_cli("run", "--campaign", str(campaign), "--db", str(db), "--auto-migrate",
                     "--log-json", "--workers", str(workers))  # fmt: skip
    try:
        wait_for_rows(db)
        stopped = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert time.monotonic() - stopped < STOP_BOUND_S
    assert proc.returncode == 1, err
    final = json.loads(err.splitlines()[-1])
    assert final["status"] == "interrupted"
    assert query(db, "SELECT status, exit_code FROM runs")[0] == ("interrupted", 1)
    keys = done_keys(db)
    assert 0 < len(keys) < 2 * len(NAMES)
    assert final["tasks"] == len(keys) == len(set(keys))  # every task it finished is stored
    # ... each with its observation, and no observation without its task.
    assert set(stored_attempts(db)) == {(k, 0) for k in keys}
