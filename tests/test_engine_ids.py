"""The engine's row ids are db.ids' (issue 17: no inlined hash formulas). No I/O.

db.ids computes each id in a fast form; here, for random parts, the fast forms equal
``stable_hash64`` of the parts, and the rows the engine encodes (probes.engine.row_encoding)
carry exactly those ids.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import given, settings
from hypothesis import strategies as st

from fragscope.db.ids import child_id, row_id, stable_hash64, target_id
from fragscope.db.writer import Row
from fragscope.probes.base import Observation, SystemClock, Task
from fragscope.probes.engine.campaign import TargetSource
from fragscope.probes.engine.row_encoding import ObservationEncoder
from fragscope.probes.engine.state import ProbeRuntime
from fragscope.probes.engine.targets import TargetEntry

text = st.text(max_size=40)
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@given(text, text, st.integers(min_value=0, max_value=1000))
def test_row_id_is_the_stable_hash(run_id: str, key: str, attempt: int) -> None:
    assert row_id(run_id, key, attempt) == stable_hash64(run_id, key, attempt)


@given(int64, st.integers(min_value=0, max_value=10_000))
def test_child_id_is_the_stable_hash(parent: int, index: int) -> None:
    assert child_id(parent, index) == stable_hash64(parent, index)


@given(text, text, text)
def test_target_id_is_the_stable_hash(run_id: str, list_name: str, name: str) -> None:
    assert target_id(run_id, list_name, name) == stable_hash64("target", run_id, list_name, name)


class _DnsProbe:
    """Enough of a probe for ProbeRuntime: its name, version and table."""

    name: ClassVar[str] = "dns.query"
    version: ClassVar[int] = 1
    table: ClassVar[str] = "dns_observations"


def _column(row: Row, name: str) -> Any:
    spec, values = row
    return values[spec.columns.index(name)]


@settings(max_examples=50)
@given(
    st.uuids().map(str),
    st.text(min_size=1, max_size=60),
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=0, max_value=4),
)
def test_encoded_rows_carry_the_db_ids(run_id: str, key: str, attempt: int, answers: int) -> None:
    encoder = ObservationEncoder(run_id=run_id, vantage_id="v", clock=SystemClock())
    rt = ProbeRuntime(_DnsProbe(), deadline=1.0, retries=0)
    obs = Observation(
        table="dns_observations",
        target="example.test",
        endpoint="udp://127.0.0.1:53",
        started_at=dt.datetime(2026, 12, 7, 12, 0),
        children=[("dns_answers", {"position": i}) for i in range(answers)],
    )
    rows: list[Row] = []
    stored = encoder.observation(
        rt, Task(key, "dns.query", "example.test"), attempt=attempt, obs=obs, rows=rows
    )
    assert stored is obs  # encoded as given, not turned into an unknown_failure row
    parent, *children = rows
    rid = stable_hash64(run_id, key, attempt)
    assert _column(parent, "id") == rid
    assert [_column(c, "id") for c in children] == [stable_hash64(rid, i) for i in range(answers)]
    assert {_column(c, "observation_id") for c in children} <= {rid}


@given(st.uuids().map(str), text, text)
def test_encoded_target_rows_carry_the_db_id(run_id: str, list_name: str, name: str) -> None:
    encoder = ObservationEncoder(run_id=run_id, vantage_id="v", clock=SystemClock())
    source = TargetSource(list_name, Path("targets.csv"), "plain")
    row = encoder.target(source, TargetEntry(name, None, None))
    assert _column(row, "id") == stable_hash64("target", run_id, list_name, name)
