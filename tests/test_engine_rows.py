"""The engine's generated row builders give the same tuples as the checked TableSpec path."""

from __future__ import annotations

import datetime as dt

import pytest

from fragscope.db.vocab import Failure, Transport
from fragscope.db.writer import datetime_text, spec_for
from fragscope.probes.engine.rows import (
    ENVELOPE,
    child_builder,
    observation_builder,
    plain,
    plain_row,
)

ANSWER = {
    "section": "answer",
    "position": 0,
    "name": "h001.bench.test.",
    "rtype": "A",
    "ttl": 300,
    "value": "127.81.0.2",
}


def test_child_builder_equals_spec_row() -> None:
    spec, build, own = child_builder("dns_answers")
    assert ANSWER.keys() <= own
    expected = spec.row(id=7, observation_id=-3, **ANSWER)
    assert build(7, -3, ANSWER) == expected
    # An Enum value is stored as its value, as plain() does on the checked path.
    with_enum = {**ANSWER, "value": Transport.UDP}
    got = build(7, -3, with_enum)
    assert got == spec.row(id=7, observation_id=-3, **{k: plain(v) for k, v in with_enum.items()})
    assert type(got[spec.columns.index("value")]) is str


def test_observation_builder_plains_enums_and_keeps_the_rest() -> None:
    spec, build, own = observation_builder("dns_observations")
    now = dt.datetime(2026, 11, 28, 22, 0)
    envelope = (1, "r", "v", "k", 0, "dns.query", 1, "t", "udp://127.0.0.1", now, 1.5)
    envelope += (str(Failure.DNS_NO_ANSWER), None, "detail")
    assert len(envelope) == len(ENVELOPE)
    fields = {"transport": Transport.UDP, "qname": "t.", "raw_wire": b"\x00\x01", "ede": [[1, "x"]]}
    assert fields.keys() <= own
    row = build(*envelope, fields)
    values = dict(zip(spec.columns, row, strict=True))
    assert values["transport"] == "udp" and type(values["transport"]) is str
    assert values["raw_wire"] == b"\x00\x01" and values["ede"] == [[1, "x"]]
    assert values["started_at"] is now and values["failure"] == "dns_no_answer"
    assert values["rcode"] is None


def test_observation_builder_with_every_field_equals_the_merged_path() -> None:
    spec, build, own = observation_builder("dns_observations")
    envelope = (1, "r", "v", "k", 0, "dns.query", 1, "t", None, dt.datetime(2026, 1, 1), 1.0)
    envelope += (None, None, None)
    full = {c: i for i, c in enumerate(sorted(own))}
    full["transport"] = Transport.TCP
    some = dict(list(full.items())[:-1])
    expected = spec.row(**dict(zip(ENVELOPE, envelope, strict=True)), **full | {"transport": "tcp"})
    # The engine's tuples keep datetimes (the writer's adapter formats them on its own
    # thread); TableSpec.row hands the same timestamp over already as storage text.
    stored = tuple(
        datetime_text(v) if isinstance(v, dt.datetime) else v for v in build(*envelope, full)
    )
    assert stored == expected
    missing = next(c for c in full if c not in some)
    got = dict(zip(spec.columns, build(*envelope, some), strict=True))
    assert got[missing] is None and got["transport"] == "tcp" and type(got["transport"]) is str


@pytest.mark.parametrize(
    "row",
    [(1, "a", None, 2.0, b"x", True), (Failure.DNS_NO_ANSWER, 1), (Transport.TCP,)],
)
def test_plain_row_is_plain_per_value(row: tuple[object, ...]) -> None:
    assert plain_row(row) == tuple(plain(v) for v in row)
    assert [type(v) for v in plain_row(row)] == [type(plain(v)) for v in row]


def test_child_table_with_vocabulary_columns_is_refused_by_name() -> None:
    with pytest.raises(KeyError, match="not a child table"):
        child_builder("runs")
    assert spec_for("dns_answers").name == "dns_answers"


def test_child_builder_with_every_column_equals_the_merged_path() -> None:
    spec, build, own = child_builder("dns_answers")
    full = {c: None for c in own} | ANSWER
    assert build(7, -3, full) == build(7, -3, ANSWER) == spec.row(id=7, observation_id=-3, **ANSWER)


def test_builders_without_the_enum_scan_give_the_same_plain_rows() -> None:
    _spec, build, own = observation_builder("dns_observations")
    _spec, lean, _own = observation_builder("dns_observations", False)
    envelope = (1, "r", "v", "k", 0, "dns.query", 1, "t", None, "2026-01-01 00:00:00.000000", 1.0)
    envelope += (None, None, None)
    fields = {c: i for i, c in enumerate(sorted(own))}
    assert lean(*envelope, fields) == build(*envelope, fields)
    assert child_builder("dns_answers", False)[1](7, -3, ANSWER) == child_builder("dns_answers")[1](
        7, -3, ANSWER
    )
