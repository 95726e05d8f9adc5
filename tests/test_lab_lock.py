"""lab.core.lock: one holder at a time, a bounded wait that says who to blame, free again after."""

from __future__ import annotations

from pathlib import Path

import pytest

from fragscope.lab.core.lock import LockTimeout, lab_lock


def test_second_holder_times_out_then_gets_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "lab.lock"
    waits: list[int] = []
    with (
        lab_lock(0, path=path),
        pytest.raises(LockTimeout, match=r"lab\.lock held for 1 s by another lab"),
        lab_lock(1, path=path, on_wait=lambda: waits.append(1)),
    ):
        pytest.fail("the lock was taken twice")
    assert waits == [1]  # told once, however long it waited
    with lab_lock(0, path=path, on_wait=lambda: waits.append(2)):
        pass
    assert waits == [1]  # free: no wait at all
