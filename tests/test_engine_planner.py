"""The planner and row ids: deterministic keys, shards that partition, ids equal to db.ids."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from fragscope.db.ids import row_id, target_id
from fragscope.probes.engine.campaign import load_campaign
from fragscope.probes.engine.planner import Shard, task_key
from fragscope.probes.engine.shard_runner import ShardRunner
from fragscope.probes.safety import NetworkPolicy
from tests.fixtures.engine import null_campaign


@settings(max_examples=50, deadline=None)
@given(
    keys=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=60, unique=True),
    count=st.integers(1, 5),
    workers=st.integers(1, 4),
    seed=st.integers(-(2**63), 2**63 - 1),
)
def test_shards_and_workers_partition_any_key_set(
    keys: list[str], count: int, workers: int, seed: int
) -> None:
    owners = {
        k: [
            (i, w)
            for i in range(count)
            for w in range(workers)
            if Shard(i, count, seed, w, workers).owns(k)
        ]
        for k in keys
    }
    assert all(len(v) == 1 for v in owners.values())


class _Collect:
    def __init__(self) -> None:
        self.rows: list[tuple[object, tuple[object, ...]]] = []

    async def put(self, rows: list[tuple[object, tuple[object, ...]]]) -> None:
        self.rows.extend(rows)


def _engine_rows(tmp_path: Path) -> tuple[list[str], list[tuple[object, tuple[object, ...]]]]:
    campaign = load_campaign(null_campaign(tmp_path, targets=20, follow_ups=1, fail_every=0))
    sink = _Collect()
    run = "11111111-2222-4333-8444-555555555555"
    eng = ShardRunner(campaign, run_id=run, vantage_id="v", sink=sink, policy=NetworkPolicy())
    keys = [t.key for t in eng.tasks()]
    eng2 = ShardRunner(campaign, run_id=run, vantage_id="v", sink=sink, policy=NetworkPolicy())
    asyncio.run(eng2.run())
    return keys, sink.rows


def test_plan_keys_rows_and_ids(tmp_path: Path) -> None:
    keys, rows = _engine_rows(tmp_path)
    assert keys == [
        task_key("engine.null", f"t{i:06d}.lab.test", endpoint="-", suffix="", repetition=0)
        for i in range(1, 21)
    ]
    assert keys[0] == "engine.null|t000001.lab.test|-||0"
    run = "11111111-2222-4333-8444-555555555555"
    obs = [v for spec, v in rows if getattr(spec, "name", "") == "null_observations"]
    targets = [v for spec, v in rows if getattr(spec, "name", "") == "targets"]
    followups = [v for spec, v in rows if getattr(spec, "name", "") == "task_followups"]
    assert len(obs) == 40 and len(targets) == 20 and len(followups) == 20
    from fragscope.db.writer import spec_for

    cols = spec_for("null_observations").columns
    for values in obs:
        row = dict(zip(cols, values, strict=True))
        assert row["id"] == row_id(run, str(row["task_key"]), int(row["attempt"]))  # type: ignore[call-overload]
    tcols = spec_for("targets").columns
    for values in targets:
        row = dict(zip(tcols, values, strict=True))
        assert row["id"] == target_id(run, str(row["list"]), str(row["name"]))
    fcols = spec_for("task_followups").columns
    assert {dict(zip(fcols, v, strict=True))["task_key"] for v in followups} == {
        f"{k}>f0" for k in keys
    }


def test_a_name_pinned_to_two_addresses_is_two_tasks(tmp_path: Path) -> None:
    path = null_campaign(tmp_path, targets=1, follow_ups=0, fail_every=0)
    # One name pinned to its IPv4 and its IPv6 address: two tasks, two observations.
    (tmp_path / "targets.csv").write_text(
        "1,www.example.test,10.99.80.1\n2,www.example.test,fd99::80:1\n"
    )
    campaign = load_campaign(path)
    eng = ShardRunner(campaign, run_id="r", vantage_id="v", sink=_Collect(), policy=NetworkPolicy())
    tasks = list(eng.tasks())
    assert [t.key for t in tasks] == [
        task_key(
            "engine.null",
            "www.example.test",
            endpoint="-",
            suffix="",
            repetition=0,
            address=address,
        )
        for address in ("10.99.80.1", "fd99::80:1")
    ]
    assert [t.params["address"] for t in tasks] == ["10.99.80.1", "fd99::80:1"]
    assert tasks[0].key == "engine.null|www.example.test@10.99.80.1|-||0"


def test_workers_are_dealt_every_root_task_once(tmp_path: Path) -> None:
    """Within a shard the planner deals root tasks to workers in turn: together the
    workers plan exactly the shard's tasks, each once, in near-equal parts."""
    campaign = load_campaign(null_campaign(tmp_path, targets=25, follow_ups=0, fail_every=0))
    policy = NetworkPolicy()

    def keys(shard: Shard) -> list[str]:
        eng = ShardRunner(
            campaign, run_id="r", vantage_id="v", sink=_Collect(), policy=policy, shard=shard
        )
        return [t.key for t in eng.tasks()]

    for count in (1, 2):
        for index in range(count):
            whole = keys(Shard(index, count, 7))
            parts = [keys(Shard(index, count, 7, w, 3)) for w in range(3)]
            dealt = [k for part in parts for k in part]
            assert sorted(dealt) == sorted(whole) and len(set(dealt)) == len(dealt)
            assert max(map(len, parts)) - min(map(len, parts)) <= 1
