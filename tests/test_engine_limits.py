"""Politeness and safety at real sockets: token buckets, the allowlist, deadlines, bad probes.

The test probes (tests/engine_probes.py) send real UDP datagrams to listeners on
127.0.0.x that record kernel arrival timestamps.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from fragscope.probes.engine.console import Reporter
from fragscope.probes.engine.prepared_run import RunOptions
from fragscope.probes.engine.ratelimit import TokenBucket
from fragscope.probes.engine.runs import execute
from tests.fixtures.engine import UdpListener, query, write_targets


def _campaign(tmp_path: Path, body: str, *, targets: int = 20, addresses: bool = False) -> Path:
    write_targets(tmp_path / "targets.csv", targets, addresses=addresses)
    path = tmp_path / "c.toml"
    path.write_text(f'name = "limits"\n\n[[targets]]\nfile = "targets.csv"\n\n{body}')
    return path


def _run(campaign: Path, db: Path, **kw: object) -> int:
    opts = RunOptions(campaign=campaign, db=str(db), auto_migrate=True, **kw)  # type: ignore[arg-type]
    return execute(opts, reporter=Reporter())


def _max_in_window(stamps: list[float], window: float = 1.0) -> int:
    stamps = sorted(stamps)
    best = j = 0
    for i, t in enumerate(stamps):
        while stamps[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


@pytest.mark.usefixtures("engine_probes")
@pytest.mark.parametrize("workers", [1, 2])
def test_token_bucket_holds_at_a_udp_server(
    tmp_path: Path, udp_listener: type[UdpListener], workers: int
) -> None:
    """The endpoint's rate holds for the run as a whole, also with --workers (each
    process then runs under its share of the rate and burst)."""
    server = udp_listener("127.0.0.1").start()
    rate, burst, n = 25.0, 5, 100
    campaign = _campaign(
        tmp_path,
        f"""[[endpoints]]
url = "udp://127.0.0.1:{server.port}"
rate = {rate}

[probes."test.udp_echo"]

[limits]
concurrency = 64
burst = {burst}
""",
        targets=n,
    )
    db = tmp_path / "db.sqlite"
    assert _run(campaign, db, workers=workers) == 0
    assert len(server.arrivals) == n
    # No 1-second window holds more than rate + burst datagrams (kernel timestamps).
    assert _max_in_window(server.arrivals) <= rate + burst
    # And the limiter did not starve the endpoint either: n queries took about n / rate s.
    span = max(server.arrivals) - min(server.arrivals)
    assert span >= (n - burst) / rate - 0.05
    assert query(db, "SELECT COUNT(*) FROM null_observations WHERE failure IS NULL")[0][0] == n


def test_token_bucket_unit() -> None:
    bucket = TokenBucket(rate=10, burst=3)
    assert [bucket.try_take() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = bucket.try_take()
    assert 0.05 < wait <= 0.1
    with pytest.raises(ValueError):
        asyncio.run(bucket.take(4))


@pytest.mark.usefixtures("engine_probes")
def test_disallowed_destination_is_blocked_and_never_contacted(
    tmp_path: Path, udp_listener: type[UdpListener], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAGSCOPE_ALLOWED_NETS", "127.0.0.1/32")
    allowed = udp_listener("127.0.0.1").start()
    forbidden = udp_listener("127.0.0.2").start()
    (tmp_path / "block.conf").write_text("127.0.0.1/32\n")
    campaign = _campaign(
        tmp_path,
        f"""[[endpoints]]
url = "udp://127.0.0.2:{forbidden.port}"
label = "outside"

[[endpoints]]
url = "udp://127.0.0.1:{allowed.port}"
label = "inside"

[probes."test.udp_echo"]
timeout_s = 0.5

[limits]
rate = 1000
burst = 100
""",
        targets=12,
        addresses=True,  # every third target pins 127.0.x.y: outside 127.0.0.1/32
    )
    db = tmp_path / "db.sqlite"
    assert _run(campaign, db) == 0
    time.sleep(0.2)
    assert forbidden.arrivals == []
    rows = query(
        db,
        "SELECT endpoint, failure, failed_operation, failure_detail FROM null_observations",
    )
    outside = [r for r in rows if "127.0.0.2" in str(r[0])]
    assert len(outside) == 12
    assert all(r[1] == "blocked_by_policy" and r[2] == "connect" for r in outside)
    inside = [r for r in rows if "127.0.0.1" in str(r[0])]
    pinned = [r for r in inside if r[1] == "blocked_by_policy"]
    assert len(pinned) == 4 and all("outside the allowed" in str(r[3]) for r in pinned)
    assert len(allowed.arrivals) == 8
    # A blocklist entry wins over the allowlist.
    forbidden_payloads = len(allowed.payloads)
    text = campaign.read_text() + '\n[safety]\nblocklist = "block.conf"\n'
    campaign.write_text(text)
    assert _run(campaign, tmp_path / "db2.sqlite") == 0
    assert len(allowed.payloads) == forbidden_payloads
    assert (
        query(
            tmp_path / "db2.sqlite",
            "SELECT COUNT(*) FROM null_observations WHERE failure = 'blocked_by_policy'",
        )[0][0]
        == 24
    )


def test_unresolvable_host_outside_policy_is_blocked_without_a_lookup(tmp_path: Path) -> None:
    import tests.engine_probes  # noqa: F401

    campaign = _campaign(
        tmp_path,
        """[[endpoints]]
url = "udp://resolver.example.invalid:53"

[probes."test.udp_echo"]
""",
        targets=2,
    )
    db = tmp_path / "db.sqlite"
    assert _run(campaign, db) == 0
    rows = query(db, "SELECT failure, failure_detail FROM null_observations")
    assert all(r[0] == "blocked_by_policy" for r in rows)
    assert "cannot resolve" in str(rows[0][1])


@pytest.mark.usefixtures("engine_probes")
def test_deadline_becomes_timeout_rows_with_retries_as_attempts(tmp_path: Path) -> None:
    campaign = _campaign(
        tmp_path,
        """[probes."test.sleep"]
sleep_s = 30
deadline = 0.2

[limits]
retries = 2
backoff = 0.01
concurrency = 10
""",
        targets=10,
    )
    db = tmp_path / "db.sqlite"
    assert _run(campaign, db) == 0
    rows = query(db, "SELECT attempt, failure, failure_detail, duration_ms FROM null_observations")
    assert sorted(r[0] for r in rows) == [0] * 10 + [1] * 10 + [2] * 10
    assert {r[1] for r in rows} == {"generic_timeout_error"}
    assert all("deadline of 0.2 s" in str(r[2]) for r in rows)
    assert all(150 <= float(r[3]) < 5000 for r in rows)  # type: ignore[arg-type]
    assert query(db, "SELECT DISTINCT attempts FROM tasks_done") == [(3,)]


@pytest.mark.usefixtures("engine_probes")
@pytest.mark.parametrize("mode", ["raise", "badfield"])
def test_probe_bug_becomes_unknown_failure_and_exit_1(tmp_path: Path, mode: str) -> None:
    write_targets(tmp_path / "targets.csv", 6)
    with (tmp_path / "targets.csv").open("a") as fh:
        fh.write("7,crash.lab.test\n")
    campaign = tmp_path / "c.toml"
    campaign.write_text(
        f'name = "bug"\n[[targets]]\nfile = "targets.csv"\n[probes."test.crash"]\nmode = "{mode}"\n'
    )
    db = tmp_path / "db.sqlite"
    assert _run(campaign, db) == 1
    rows = query(db, "SELECT target, failure, failure_detail FROM null_observations")
    bad = [r for r in rows if r[1] is not None]
    assert len(rows) == 7 and len(bad) == 1
    target, failure, detail = bad[0]
    assert (target, failure) == ("crash.lab.test", "unknown_failure")
    assert "Traceback" in str(detail)
    assert ("planted bug" if mode == "raise" else "no_such_column") in str(detail)
    assert query(db, "SELECT status, exit_code FROM runs")[0] == ("finished", 1)


@pytest.mark.usefixtures("engine_probes")
def test_batched_probe_gets_batches_per_endpoint_and_retries(tmp_path: Path) -> None:
    from tests.engine_probes import BatchProbe

    BatchProbe.seen.clear()
    campaign = _campaign(
        tmp_path,
        """[[endpoints]]
url = "udp://127.0.0.1:1"
label = "a"

[[endpoints]]
url = "udp://127.0.0.1:2"
label = "b"

[probes."test.batch"]
fail_target = "t000003.lab.test"

[limits]
rate = 10000
burst = 6
retries = 1
backoff = 0.01
""",
        targets=20,
    )
    db = tmp_path / "db.sqlite"
    assert _run(campaign, db) == 0
    # Batches are capped by the endpoint's burst (6 < batch_size 8): 20 tasks per endpoint.
    assert max(BatchProbe.seen) == 6
    assert sum(BatchProbe.seen) == 40 + 2  # two retries of the failing target
    rows = query(db, "SELECT task_key, attempt, failure FROM null_observations")
    assert len({r[0] for r in rows}) == 40
    assert sorted(r[1] for r in rows if r[2] is not None) == [0, 0, 1, 1]


@pytest.mark.usefixtures("engine_probes")
def test_planning_bug_becomes_one_unknown_failure_row(tmp_path: Path) -> None:
    write_targets(tmp_path / "targets.csv", 4)
    with (tmp_path / "targets.csv").open("a") as fh:
        fh.write("5,crash.lab.test\n")
    campaign = tmp_path / "c.toml"
    campaign.write_text('name = "p"\n[[targets]]\nfile = "targets.csv"\n[probes."test.badplan"]\n')
    db = tmp_path / "db.sqlite"
    assert _run(campaign, db) == 1
    rows = query(db, "SELECT task_key, failure, failure_detail FROM null_observations")
    assert len(rows) == 5
    bad = [r for r in rows if r[1] is not None]
    assert [(r[0], r[1]) for r in bad] == [
        ("test.badplan|crash.lab.test|-|!plan|0", "unknown_failure")
    ]
    assert "cannot plan crash.lab.test" in str(bad[0][2])


@pytest.mark.usefixtures("engine_probes")
def test_concurrency_counts_tasks_in_batches_and_singles(tmp_path: Path) -> None:
    from fragscope.probes.base import Task
    from tests.engine_probes import BatchProbe

    peak = {"now": 0, "max": 0}
    original = BatchProbe.measure_many

    async def counting(self: BatchProbe, tasks: list[Task]) -> list[object]:
        peak["now"] += len(tasks)
        peak["max"] = max(peak["max"], peak["now"])
        await asyncio.sleep(0.01)
        try:
            return await original(self, tasks)  # type: ignore[no-any-return]
        finally:
            peak["now"] -= len(tasks)

    BatchProbe.measure_many = counting  # type: ignore[method-assign,assignment]
    try:
        campaign = _campaign(
            tmp_path,
            """[[endpoints]]
url = "udp://127.0.0.1:1"

[probes."test.batch"]

[limits]
concurrency = 10
rate = 100000
burst = 8
""",
            targets=200,
        )
        assert _run(campaign, tmp_path / "db.sqlite") == 0
    finally:
        BatchProbe.measure_many = original  # type: ignore[method-assign]
    assert 8 <= peak["max"] <= 10


@pytest.mark.usefixtures("engine_probes")
def test_no_task_waits_in_memory_so_a_stop_ends_at_once(tmp_path: Path) -> None:
    """Tasks leave the plan only with a slot and a rate token (issue 18, finding 8): at
    concurrency 2048 and 40 tasks/s, 2,000 tasks used to be pulled into 250 batches at
    once and to drain at the rate limit for 50 s after --max-duration."""
    campaign = _campaign(
        tmp_path,
        """[[endpoints]]
url = "udp://127.0.0.1:1"

[probes."test.batch"]

[limits]
concurrency = 2048
rate = 40
burst = 8
""",
        targets=2000,
    )
    db = tmp_path / "db.sqlite"
    started = time.monotonic()
    assert _run(campaign, db, max_duration=1.0) == 1
    elapsed = time.monotonic() - started
    assert elapsed < 10.0  # 1 s, the stop, and creating the database (liveness, with slack)
    done = query(db, "SELECT COUNT(*) FROM tasks_done")[0][0]
    assert 0 < done <= 8 + 40 * elapsed  # the burst, then the rate
    assert query(db, "SELECT status FROM runs")[0][0] == "partial"
