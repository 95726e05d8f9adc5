"""The delay relay's sans-I/O core (hypothesis) and its command line."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from fragscope.lab.vantages.delay import DelayLine

arrivals = st.lists(
    st.tuples(st.floats(min_value=0, max_value=5, allow_nan=False), st.binary(max_size=8)),
    max_size=60,
)


@given(
    events=arrivals,
    delay=st.floats(min_value=0, max_value=1, allow_nan=False),
    max_queue=st.integers(min_value=1, max_value=20),
)
def test_delay_line_never_early_keeps_order_and_bounds_memory(
    events: list[tuple[float, bytes]], delay: float, max_queue: int
) -> None:
    line = DelayLine(delay=delay, max_queue=max_queue)
    now = 0.0
    sent: dict[int, float] = {}  # index -> arrival
    out: list[tuple[float, int]] = []
    held: list[int] = []
    for i, (gap, _payload) in enumerate(events):
        now += gap
        for packet in line.pop_due(now):
            out.append((now, int.from_bytes(packet, "big")))
        accepted = line.push(i.to_bytes(4, "big"), now)
        assert len(line) <= max_queue
        if accepted:
            sent[i] = now
            held.append(i)
        due = line.next_due()
        assert due is None or due >= now
    for packet in line.pop_due(now + delay):
        out.append((now + delay, int.from_bytes(packet, "big")))
    assert [i for _, i in out] == held  # FIFO: order kept, nothing lost but counted drops
    assert all(t >= sent[i] + delay for t, i in out)  # never released early
    assert line.accepted == len(held) == line.released
    assert line.accepted + line.dropped_full == len(events)
    assert len(line) == 0


def test_relay_rejects_bad_arguments() -> None:
    bad = (
        ["--dev", "dly0", "--delay-ms", "-5"],
        ["--dev", "dly0", "--delay-ms", "1", "--max-queue", "0"],
        ["--delay-ms", "1"],
    )
    for args in bad:
        done = subprocess.run(
            [sys.executable, "-m", "fragscope.lab.vantages.delay", *args],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 2, (args, done.stderr)
        assert "--" in done.stderr
