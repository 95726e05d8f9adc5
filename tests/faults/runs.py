"""Helpers of the fault-injection suite: DNS campaigns against real servers, the processes
of one run, its plan and its stored attempts. Reads /proc and SQLite files; runs the CLI
(``run --dry-run``, which sends nothing)."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from fragscope.probes.engine.lock import pid_alive
from tests.fixtures.engine import query, run_cli


def dns_campaign(
    directory: Path,
    *,
    endpoints: Sequence[str],
    names: Sequence[str],
    rate: float,
    concurrency: int,
    burst: int = 64,
    qtypes: Sequence[str] = ("A",),
    timeout_s: float = 2.0,
    ca_file: str | None = None,
    name: str = "faults",
) -> Path:
    """A dns.query campaign over ``names`` at ``endpoints`` (URLs); returns its path."""
    (directory / f"{name}-names.txt").write_text("".join(f"{n}\n" for n in names))
    eps = "".join(
        f'[[endpoints]]\nlabel = "ep{i}"\nurl = "{u}"\n\n' for i, u in enumerate(endpoints)
    )
    ca = f'ca_file = "{ca_file}"\n' if ca_file else ""
    path = directory / f"{name}.toml"
    path.write_text(
        f"""name = "{name}"
vantage = "clean"

[[targets]]
list = "names"
file = "{name}-names.txt"
format = "lines"

{eps}[probes."dns.query"]
qtypes = [{", ".join(f'"{q}"' for q in qtypes)}]
timeout_s = {timeout_s}
{ca}
[limits]
concurrency = {concurrency}
rate = {rate}
burst = {burst}
deadline = {timeout_s + 2}
retries = 0
"""
    )
    return path


def processes_of(marker: str) -> list[int]:
    """Live processes (not this one) whose command line contains ``marker``, e.g. the
    database path of one test's run: its parent and its forked workers."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        if marker.encode() in cmdline and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def wait_gone(pids: Sequence[int], *, timeout: float) -> list[int]:
    """The processes of ``pids`` still alive after up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in pids if pid_alive(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.05)


def stored_attempts(db: Path, table: str = "dns_observations") -> Counter[tuple[str, int]]:
    """How often each (task_key, attempt) is stored (every count 1 in a sound database)."""
    return Counter(
        (str(k), int(str(a))) for k, a in query(db, f"SELECT task_key, attempt FROM {table}")
    )


def planned_keys(campaign: Path) -> set[str]:
    """The task keys of the campaign's plan (``run --dry-run``)."""
    r = run_cli("run", "--campaign", str(campaign), "--dry-run", timeout=300)
    assert r.returncode == 0, r.stderr
    return {line.split("\t")[0] for line in r.stdout.splitlines() if not line.startswith("#")}
