"""The lab's machine-wide lock: one lab (test session, demo or bench) at a time. Does I/O.

The lab's namespace, veths and addresses are machine-wide, so two labs at once would tear
each other down. Whoever brings a lab up holds an flock on :data:`LAB_LOCK` meanwhile; the
kernel drops it when the holder dies, even by kill -9.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

LAB_LOCK = Path("/run/lock/fragscope-lab.lock")
POLL_S = 0.5


class LockTimeout(Exception):
    """The lock stayed held by another process for the whole wait; the message says so."""


@contextlib.contextmanager
def lab_lock(
    wait_s: float | None, *, on_wait: Callable[[], None] | None = None, path: Path = LAB_LOCK
) -> Iterator[None]:
    """Hold ``path`` for the body: wait up to ``wait_s`` seconds (None: for ever), calling
    ``on_wait`` once if it has to wait; raise :class:`LockTimeout` when it never comes free."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        deadline = None if wait_s is None else time.monotonic() + wait_s
        waited = False
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited and on_wait is not None:
                    on_wait()
                waited = True
                if deadline is not None and time.monotonic() > deadline:
                    raise LockTimeout(
                        f"{path} held for {wait_s:.0f} s by another lab (a test session, "
                        "demo or bench)"
                    ) from None
                time.sleep(POLL_S)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
