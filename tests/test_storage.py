"""Storage round trips on SQLite and on a real PostgreSQL: migrate, write through the
Writer, read back with the ORM; idempotent inserts; the closed vocabularies."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from fragscope.db import migrate
from fragscope.db.connection import make_engine
from fragscope.db.models import (
    Base,
    IndicatorValue,
    NullObservation,
    Run,
    Target,
    TaskDone,
    Vantage,
)
from fragscope.db.vocab import Failure
from fragscope.db.writer import StorageError, VocabularyError, Writer, spec_for
from tests.fixtures.storage import EVIDENCE, T0, sample_rows, write_sample_run

RUN = "3f2b8c1e-5d4a-4c3b-9a8f-1e2d3c4b5a69"


@pytest.fixture
def engine(any_db_url: str) -> Engine:
    eng = make_engine(any_db_url)
    migrate.upgrade(eng)
    EVIDENCE.create(eng)
    yield eng  # type: ignore[misc]
    eng.dispose()


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in [*Base.metadata.sorted_tables, EVIDENCE]
        }


def test_round_trip_keeps_types(engine: Engine) -> None:
    assert migrate.is_at_head(engine)
    sample = write_sample_run(engine, RUN, evidence=True)
    with Session(engine) as s:
        run = s.get(Run, RUN)
        assert run is not None
        assert run.config == {
            "probes": {"engine.null": {"delay": 0.0}},
            "names": ["a.test", "ü.test"],
        }
        assert run.started_at == T0 and run.started_at.tzinfo is None
        assert run.seed == 2**62 + 7
        assert run.status == "finished"
        vantage = s.get(Vantage, sample.vantage_id)
        assert vantage is not None and vantage.egress_addresses == ["127.0.0.1", "::1"]
        obs = s.scalars(select(NullObservation).order_by(NullObservation.started_at)).all()
        assert len(obs) == sample.observations
        assert obs[1].started_at.microsecond == (T0.microsecond + 1001) % 1_000_000
        failed = [o for o in obs if o.failure is not None]
        assert len(failed) == sample.failures
        assert failed[0].failure == Failure.GENERIC_TIMEOUT_ERROR
        assert failed[0].failure_detail == 'timed out, "quoted", comma\nnew line'
        assert s.scalar(select(func.count()).select_from(Target)) == sample.observations // 10
        assert s.scalar(select(func.count()).select_from(TaskDone)) == sample.observations
        indicators = {i.code: i for i in s.scalars(select(IndicatorValue))}
        assert indicators["N1"].value == 0.25 and indicators["N1"].params == {"k": [1, 2]}
        assert indicators["T2"].vantage_id is None and indicators["T2"].value is None
    with engine.connect() as conn:
        rows = conn.execute(select(EVIDENCE).order_by(EVIDENCE.c.position)).all()
    assert len(rows) == sample.evidence
    by_obs = {(r.observation_id, r.position): r for r in rows}
    first = obs[3]
    blob = by_obs[(first.id, 1)]
    assert blob.wire == bytes([0, 255, 3, 1]) + b'\x00\r\n,"'
    assert blob.extra == {"i": 3, "nested": [1, None, "é"]}
    assert by_obs[(first.id, 0)].extra is None


def test_same_batch_twice_adds_nothing(engine: Engine) -> None:
    rows, _sample = sample_rows(RUN, evidence=True)
    # indicator_values has a database-assigned id and no natural unique key: analysis
    # replaces its values, it never replays them, so it is not part of a replayed batch.
    rows = [r for r in rows if r[0].name != "indicator_values"]
    writer = Writer(engine)
    writer.write(rows)
    first = _counts(engine)
    assert first["null_observations"] == 40 and first["test_evidence"] == 80
    assert writer.write(rows) == len(rows)  # offered again...
    assert _counts(engine) == first  # ...and nothing added


def test_vocabulary_violation_refused_before_the_database(engine: Engine) -> None:
    spec = spec_for("null_observations")
    common = dict(
        id=1,
        run_id=RUN,
        vantage_id="v",
        task_key="k",
        attempt=0,
        probe="p",
        probe_version=1,
        target="t",
        started_at=T0,
    )
    with pytest.raises(VocabularyError, match=r"null_observations\.failure: 'timeout'"):
        spec.row(**common, failure="timeout")
    with pytest.raises(VocabularyError, match="failed_operation"):
        spec.row(**common, failure=Failure.GENERIC_TIMEOUT_ERROR, failed_operation="dig")
    with pytest.raises(KeyError, match="unknown columns"):
        spec.row(**common, rcode=3)
    assert _counts(engine)["null_observations"] == 0


def test_database_refuses_values_outside_the_vocabulary(engine: Engine) -> None:
    # A tuple built around TableSpec.row still meets the foreign key to vocab_failure.
    rows, _ = sample_rows(RUN, n=1)
    spec = spec_for("null_observations")
    bad = []
    for s, values in rows:
        if s is spec:
            values = tuple(
                "made_up_failure" if c == "failure" else v
                for c, v in zip(spec.columns, values, strict=True)
            )
        bad.append((s, values))
    with pytest.raises(StorageError, match=r"(?i)foreign key"):
        Writer(engine).write(bad)
    # Only the refused row is missing: the rest of the batch is stored (issue 18).
    assert _counts(engine)["runs"] == 1
    assert _counts(engine)["null_observations"] == 0


def test_sqlite_connections_get_the_pragmas(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            got = {
                p: conn.exec_driver_sql(f"PRAGMA {p}").scalar()
                for p in ("journal_mode", "foreign_keys", "synchronous", "cache_size")
            }
    finally:
        engine.dispose()
    # A 16 MiB page cache (issue 22: memory flat in the number of targets; 64 MiB were a
    # fifth of a 1,000,000-target run's peak). A negative cache_size is in KiB.
    assert got == {"journal_mode": "wal", "foreign_keys": 1, "synchronous": 1, "cache_size": -16384}
