"""The benchmark runner: discovery and refusal of unknown names (no timing asserted)."""

from __future__ import annotations

import pytest

from bench.__main__ import available, run
from bench.writer import build_rows


def test_runner_finds_the_writer_benchmark() -> None:
    assert "writer" in available()


def test_unknown_benchmark_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["no_such_bench"]) == 2
    assert "unknown benchmark" in capsys.readouterr().err


def test_bench_rows_are_valid_envelope_rows() -> None:
    rows = build_rows(40)
    assert len({values[0] for _spec, values in rows}) == 40  # distinct client-side ids
    assert sum(1 for _spec, v in rows if v[rows[0][0].columns.index("failure")]) == 2
