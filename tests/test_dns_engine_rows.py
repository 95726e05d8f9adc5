"""dns.query through the engine's batch path: the stored rows equal the reference rows.

The engine builds row tuples with generated builders (probes.engine.rows) for speed;
``probes.dns.rows.observation_rows`` builds them the plain way (a dict per row, as
``fragscope probe dns --store`` does). Against the lab's Unbound, every observation and
answer row the engine hands to its sink must equal the reference, value for value.
"""

from __future__ import annotations

import asyncio
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from fragscope.db.writer import Row, spec_for
from fragscope.probes.base import Observation, Task
from fragscope.probes.dns.query import DnsQueryProbe
from fragscope.probes.dns.rows import observation_rows
from fragscope.probes.engine.campaign import load_campaign
from fragscope.probes.engine.planonly import build_policy
from fragscope.probes.engine.shard_runner import ShardRunner
from tests.dns.world import DnsWorld

RUN = "00000000-0000-4000-8000-000000000006"


def test_engine_rows_equal_reference_rows(
    dns_world: DnsWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "t.txt").write_text(
        "www.example.test\nnothere.example.test\n_443._udp.www.example.test\n"
    )
    campaign = tmp_path / "c.toml"
    campaign.write_text(
        'name = "rows"\nrepeat = 2\n[[targets]]\nfile = "t.txt"\nformat = "lines"\n'
        f'[[endpoints]]\nurl = "{dns_world.urls["udp"]}"\nlabel = "u"\noperator = "op"\n'
        'role = "control"\n'
        '[probes."dns.query"]\nqtypes = ["A", "AAAA", "HTTPS", "SVCB", "TXT"]\n'
        "[limits]\nconcurrency = 8\nrate = 1000\nburst = 8\n"
    )
    seen: list[tuple[Task, Observation]] = []
    original = DnsQueryProbe.measure_many

    async def recording(self: DnsQueryProbe, tasks: list[Task]) -> list[Observation]:
        results = await original(self, tasks)
        seen.extend(zip(tasks, results, strict=True))
        return results

    monkeypatch.setattr(DnsQueryProbe, "measure_many", recording)
    stored: list[Row] = []

    class Keep:
        async def put(self, rows: Any) -> None:
            stored.extend(rows)

    c = load_campaign(campaign)
    eng = ShardRunner(c, run_id=RUN, vantage_id="v", sink=Keep(), policy=build_policy(c))
    result = asyncio.run(eng.run())
    assert result.tasks == 3 * 5 * 2 == len(seen)
    expected: dict[str, list[tuple[Any, ...]]] = {"dns_observations": [], "dns_answers": []}
    for task, obs in seen:
        for spec, values in observation_rows(
            obs, run_id=RUN, vantage="v", task=task, probe="dns.query", version=1
        ):
            expected[spec.name].append(values)
    got: dict[str, list[tuple[Any, ...]]] = {"dns_observations": [], "dns_answers": []}
    for spec, values in stored:
        if spec.name in got:
            got[spec.name].append(values)
    assert len(got["dns_answers"]) > 10  # answers, authority SOA of the NXDOMAIN, HTTPS
    at = spec_for("dns_observations").columns.index("failure")
    failures = {r[at] for r in got["dns_observations"]}
    assert None in failures and "dns_nxdomain_error" in failures
    for table in got:
        assert sorted(got[table], key=repr) == sorted(expected[table], key=repr), table
        # Same types too (a StrEnum left in place would bind differently on PostgreSQL).
        # dns.query declares plain_fields (no Enum scan in the row builders): hold it to it.
        assert not any(isinstance(v, Enum) for row in got[table] for v in row), table
        types = {tuple(type(v) for v in row) for row in got[table]}
        ref_types = {tuple(type(v) for v in row) for row in expected[table]}
        assert types == ref_types, table
