"""Engine benchmark: engine.null tasks/s through the real writer, against peers; peak RSS of a
1,000,000-target run. Writes SQLite files in a temporary directory; no network.

Peers measured in the same run (so machine load cancels out of the ratios):
- ``writer floor``: the same rows (target, observation, ledger per task) written by
  db.writer.Writer alone, in the engine's batch size: what storage allows;
- ``engine, no storage``: the engine with a sink that drops rows: what planning,
  scheduling and row building cost.
The end-to-end figure is ``fragscope run`` minus process start: execute() on a campaign
(target-file validation, run bookkeeping and final counts included) into a database that
``fragscope db upgrade`` created beforehand.
Targets: peak RSS of the 1M-target run <= 150 MB (issue 22; exit 1 otherwise), printed as
pass or miss: memory must stay flat in the number of targets (the writer's buffer and
SQLite's page cache are bounded, db/writer.py and db/connection.py); the end-to-end rate
is reported against the writer floor (the engine should cost less than storage does).

    python -m bench.engine [--tasks N] [--rss-targets N]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

RSS_LIMIT_MB = 150


def _campaign(directory: Path, n: int, *, concurrency: int = 64) -> Path:
    with (directory / "targets.csv").open("w") as fh:
        fh.writelines(f"{i},n{i:07d}.bench.test\n" for i in range(1, n + 1))
    path = directory / "bench.toml"
    path.write_text(
        'name = "bench-engine"\nvantage = "bench"\n\n[[targets]]\nfile = "targets.csv"\n\n'
        f'[probes."engine.null"]\n\n[limits]\nconcurrency = {concurrency}\n'
    )
    return path


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def engine_end_to_end(directory: Path, n: int) -> tuple[float, float]:
    """(tasks/s wall, tasks per CPU-second) of execute() on an n-target campaign."""
    from fragscope.db import migrate
    from fragscope.db.connection import make_engine
    from fragscope.probes.engine.console import Reporter
    from fragscope.probes.engine.prepared_run import RunOptions
    from fragscope.probes.engine.runs import execute

    campaign = _campaign(directory, n)
    db = directory / "e2e.sqlite"
    # The database exists already, as it does for a cron run (`fragscope db upgrade` once).
    engine = make_engine(str(db))
    migrate.upgrade(engine)
    engine.dispose()
    opts = RunOptions(campaign=campaign, db=str(db))
    t0, c0 = time.perf_counter(), _cpu()
    code = execute(opts, reporter=Reporter(stream=open(os.devnull, "w")))  # noqa: SIM115
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    if code != 0:
        raise SystemExit(f"bench run exited {code}")
    return n / wall, n / cpu


def engine_without_storage(directory: Path, n: int) -> tuple[float, float]:
    """(tasks/s wall, tasks per CPU-second) of the engine with a sink that drops rows."""
    from fragscope.probes.engine.campaign import load_campaign
    from fragscope.probes.engine.shard_runner import ShardRunner
    from fragscope.probes.safety import NetworkPolicy

    class DropSink:
        async def put(self, rows: Sequence[object]) -> None:
            return None

    campaign = load_campaign(_campaign(directory, n))
    eng = ShardRunner(
        campaign,
        run_id="00000000-0000-4000-8000-000000000000",
        vantage_id="bench",
        sink=DropSink(),
        policy=NetworkPolicy(),
    )
    t0, c0 = time.perf_counter(), _cpu()
    result = asyncio.run(eng.run())
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    assert result.tasks == n
    return n / wall, n / cpu


def writer_floor(directory: Path, n: int, batch: int = 5000) -> tuple[float, float]:
    """(tasks/s wall, tasks per CPU-second) of Writer alone on the engine's rows."""
    from sqlalchemy import text

    from fragscope.db import migrate
    from fragscope.db.connection import make_engine
    from fragscope.db.ids import row_id, target_id
    from fragscope.db.writer import Writer, spec_for
    from fragscope.probes.engine.rows import observation_builder, tuple_builder

    engine = make_engine(str(directory / "floor.sqlite"))
    migrate.upgrade(engine)
    run = "00000000-0000-4000-8000-000000000000"
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO vantages VALUES ('v', 'bench', 'h', '[]', NULL, NULL, :t)"),
            {"t": dt.datetime(2026, 1, 1)},
        )
        conn.execute(
            text(
                "INSERT INTO runs (id, campaign, vantage_id, config, software, seed, started_at,"
                " status, counts) VALUES (:r, 'b', 'v', '{}', '{}', 1, :t, 'running', '{}')"
            ),
            {"r": run, "t": dt.datetime(2026, 1, 1)},
        )
    writer = Writer(engine)
    obs, build_obs, _own = observation_builder("null_observations")
    done, tgt = spec_for("tasks_done"), spec_for("targets")
    build_done = tuple_builder(
        done, ("run_id", "task_key", "probe", "attempts", "failure", "shard", "finished_at")
    )
    build_tgt = tuple_builder(
        tgt, ("id", "run_id", "name", "list", "rank", "namespace", "role", "pinned_addresses")
    )
    now = dt.datetime.now(dt.UTC)
    spent = cpu_spent = 0.0
    for start in range(0, n, batch // 3):
        rows = []
        for i in range(start, min(n, start + batch // 3)):
            name = f"n{i:07d}.bench.test"
            key = f"engine.null|{name}|-||0"
            tid = target_id(run, "targets", name)
            rows.append((tgt, build_tgt(tid, run, name, "targets", i, "icann", "test", None)))
            rows.append(
                (
                    obs,
                    build_obs(
                        row_id(run, key, 0),
                        run,
                        "v",
                        key,
                        0,
                        "engine.null",
                        1,
                        name,
                        None,
                        now,
                        0.001,
                        None,
                        None,
                        None,
                        {},
                    ),
                )
            )
            rows.append((done, build_done(run, key, "engine.null", 1, None, 0, now)))
        t0, c0 = time.perf_counter(), _cpu()
        writer.write(rows)
        spent += time.perf_counter() - t0
        cpu_spent += _cpu() - c0
    engine.dispose()
    return n / spent, n / cpu_spent


def peak_rss_child(directory: Path, n: int) -> tuple[int, float]:
    """(peak RSS in MB, seconds) of a child process that plans and runs n targets."""
    campaign = _campaign(directory, n)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.engine", "--rss-child", str(campaign)],
        cwd=Path(__file__).resolve().parents[1],
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"RSS child exited {proc.returncode}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak_kb // 1024, time.perf_counter() - t0


def _rss_child(campaign: str) -> int:
    from fragscope.probes.engine.console import Reporter
    from fragscope.probes.engine.prepared_run import RunOptions
    from fragscope.probes.engine.runs import execute

    db = Path(campaign).parent / "rss.sqlite"
    opts = RunOptions(campaign=Path(campaign), db=str(db), auto_migrate=True)
    return execute(opts, reporter=Reporter(stream=open(os.devnull, "w")))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__)
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks for the rate figures")
    parser.add_argument("--rss-targets", type=int, default=1_000_000, help="targets for RSS")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        return _rss_child(args.rss_child)
    os.environ.setdefault("FRAGSCOPE_ALLOWED_NETS", "127.0.0.0/8,::1/128")
    n = args.tasks
    with tempfile.TemporaryDirectory(prefix="fragscope-bench-engine-") as tmp:
        base = Path(tmp)
        for sub in ("floor", "nosink", "e2e", "rss"):
            (base / sub).mkdir()
        floor_wall, floor_cpu = writer_floor(base / "floor", n)
        bare_wall, bare_cpu = engine_without_storage(base / "nosink", n)
        e2e_wall, e2e_cpu = engine_end_to_end(base / "e2e", n)
        rss_mb, rss_s = peak_rss_child(base / "rss", args.rss_targets)
    print(f"engine bench ({n:,} engine.null tasks; 3 rows per task: target, observation, ledger)")
    row = "  {:<30} {:>10,.0f} tasks/s  {:>10,.0f} per CPU-s"
    print(row.format("writer floor (Writer alone)", floor_wall, floor_cpu))
    print(row.format("engine, rows dropped", bare_wall, bare_cpu))
    print(row.format("engine end to end (SQLite)", e2e_wall, e2e_cpu))
    print(
        f"  ratio end-to-end / writer floor: {e2e_wall / floor_wall:.2f} (wall), "
        f"{e2e_cpu / floor_cpu:.2f} (CPU)"
    )
    ok = rss_mb <= RSS_LIMIT_MB
    print(
        f"  peak RSS, {args.rss_targets:,}-target plan and run: {rss_mb} MB "
        f"(target <= {RSS_LIMIT_MB} MB, {rss_s:.0f} s): {'pass' if ok else 'miss'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
