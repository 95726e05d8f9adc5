"""transport.sni's tests run in a seeded random order within a run (issue 21: "the control
goes first, and the order is randomised within a round").

The planner part needs no I/O: the order is a function of the run's seed, the same for
every worker and shard and on resume. The run part is the engine's run (as `fragscope
run`, in process) against the censor-like hostile peer (tests/fixtures/hostile_peers.py:
it answers ALERTED_SNI with a TLS alert and serves every other name): two runs with
different seeds send the tests in different orders and reach the same verdicts, and each
row's stored place in the order is the place it was sent in.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fragscope.probes.base import ROUND_POSITION, Task
from fragscope.probes.engine.bookkeeping import seed_for
from fragscope.probes.engine.campaign import load_campaign
from fragscope.probes.engine.console import Reporter
from fragscope.probes.engine.planner import PlannedProbe, Shard, plan, shuffled_order
from fragscope.probes.engine.prepared_run import RunOptions
from fragscope.probes.engine.runs import execute
from fragscope.probes.transport.sni import SniConfig, SniProbe
from tests.fixtures.hostile_peers import ALERTED_SNI, HostilePeers

NAMES = [ALERTED_SNI, *(f"t{i}.example.test" for i in range(1, 6))]
RUNS = ("11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222")


def write_campaign(tmp_path: Path, address: str, port: int) -> Path:
    (tmp_path / "hosts.csv").write_text(
        "".join(f"{i},{name},{address}\n" for i, name in enumerate(NAMES, 1))
    )
    path = tmp_path / "sni.toml"
    path.write_text(
        f"""name = "sni-order"
vantage = "clean"

[[targets]]
list = "hosts"
file = "hosts.csv"

[probes."transport.sni"]
port = {port}
transports = ["tcp"]
tries = 1
handshake_timeout_s = 1.0

[limits]
concurrency = 1
deadline = 10.0
retries = 0

[safety]
allowed = ["127.0.0.0/8"]
"""
    )
    return path


def planned(campaign_path: Path, shard: Shard, skip: frozenset[str] = frozenset()) -> list[Task]:
    campaign = load_campaign(campaign_path)
    [settings] = campaign.probes
    probe = PlannedProbe(settings, SniProbe(SniConfig(transports=("tcp",))), (None,), 10.0)
    return list(plan(campaign, [probe], shard=shard, skip=skip))


def test_the_order_is_the_seeds_and_every_worker_and_resume_agree(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, "127.0.0.1", 443)
    first, second = (planned(path, Shard(seed=seed_for(r))) for r in RUNS)
    assert sorted(t.key for t in first) == sorted(t.key for t in second)
    assert [t.target for t in first] != [t.target for t in second]
    for tasks in (first, second):
        assert [t.params[ROUND_POSITION] for t in tasks] == list(range(len(NAMES)))
    seed = seed_for(RUNS[0])
    assert [t.target for t in first] == [NAMES[i] for i in shuffled_order(seed, 0, 0, 0, 6)]
    assert [t.key for t in planned(path, Shard(seed=seed))] == [t.key for t in first]
    # Two workers split the same order; a resumed run keeps each task's place.
    halves = [planned(path, Shard(seed=seed, worker=w, workers=2)) for w in (0, 1)]
    merged = sorted((t for h in halves for t in h), key=lambda t: t.params[ROUND_POSITION])
    assert [t.key for t in merged] == [t.key for t in first]
    resumed = planned(path, Shard(seed=seed), skip=frozenset(t.key for t in first[:2]))
    assert [(t.key, t.params[ROUND_POSITION]) for t in resumed] == [
        (t.key, t.params[ROUND_POSITION]) for t in first[2:]
    ]


def sent(db: Path, run_id: str) -> list[tuple[str, str, int]]:
    """(target, verdict, round_position) of a run's rows, in the order they were sent."""
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT target, verdict, round_position FROM sni_observations WHERE run_id = ? "
            "ORDER BY started_at, id",
            (run_id,),
        ).fetchall()


def test_two_seeds_two_orders_same_verdicts(
    hostile_peers: HostilePeers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAGSCOPE_ALLOWED_NETS", "127.0.0.0/8")
    address, port = hostile_peers.tcp["alert_blocked"]
    path = write_campaign(tmp_path, address, port)
    db = tmp_path / "sni.sqlite"
    for run_id in RUNS:
        opts = RunOptions(campaign=path, db=str(db), auto_migrate=True, run_id=run_id)
        assert execute(opts, reporter=Reporter()) == 0
    rows = {run_id: sent(db, run_id) for run_id in RUNS}
    orders = {run_id: [target for target, _, _ in r] for run_id, r in rows.items()}
    assert orders[RUNS[0]] != orders[RUNS[1]]
    verdicts = [{target: verdict for target, verdict, _ in r} for r in rows.values()]
    assert verdicts[0] == verdicts[1]
    assert verdicts[0] == {n: "sni_filtered" if n == ALERTED_SNI else "ok" for n in NAMES}
    with sqlite3.connect(db) as conn:
        seeds = dict(conn.execute("SELECT id, seed FROM runs").fetchall())
    for run_id, r in rows.items():
        # Sent in the stored order, and that order is the recorded seed's.
        assert [position for _, _, position in r] == list(range(len(NAMES)))
        order = shuffled_order(int(seeds[run_id]), 0, 0, 0, len(NAMES))
        assert orders[run_id] == [NAMES[i] for i in order]
