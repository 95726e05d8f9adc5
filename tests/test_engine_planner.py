"""The planner and row ids: deterministic keys, shards that partition, ids equal to db.ids."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from db.ids import row_id, target_id
from probes.engine.campaign import load_campaign
from probes.engine.planner import Shard, task_key
from probes.engine.runner import Engine
from probes.safety import NetworkPolicy
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
    eng = Engine(campaign, run_id=run, vantage_id="v", sink=sink, policy=NetworkPolicy())
    keys = [t.key for t in eng.tasks()]
    eng2 = Engine(campaign, run_id=run, vantage_id="v", sink=sink, policy=NetworkPolicy())
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
    from db.writer import spec_for

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
