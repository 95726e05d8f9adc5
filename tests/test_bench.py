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


def test_dns_bench_politeness_check_catches_a_broken_limit() -> None:
    """bench/dns.py's server-side check: NSD's counter read every 0.2 s (each reading
    taking 10 ms) against rate x time + burst, over stretches of at least a second."""
    from bench.dns import peak_rate, worst_excess

    def readings(per_step: list[int]) -> list[tuple[float, float, int]]:
        out, count = [], 0
        for i, n in enumerate(per_step):
            count += n
            out.append((0.2 * i, 0.2 * i + 0.01, count))
        return out

    steady = readings([20] * 15)  # 100 queries/s
    assert worst_excess(steady, rate=100, burst=10) <= 0
    assert 90 <= peak_rate(steady) <= 100
    burst_over = readings([20] * 5 + [150] + [20] * 9)  # 150 queries within 0.2 s
    assert worst_excess(burst_over, rate=100, burst=10) > 0
    assert worst_excess(burst_over, rate=100, burst=200) <= 0
