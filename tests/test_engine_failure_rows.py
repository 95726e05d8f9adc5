"""Every failure row the engine makes itself is stored, for every registered probe (issue 18).

The engine writes a row without the probe for a task it refuses (an endpoint outside the
allowlist, an endpoint host it may not resolve, a pinned address outside the allowlist),
for an attempt it ends (its deadline) and for one a probe's own CancelledError ends (a
planted fault). Those rows carry only the envelope; a NOT NULL column with only an ORM
default (``dns_observations.purpose``) refused them, and the batch took the rows of the
good endpoints down with it. Each probe runs here against real sockets on loopback: a
silent UDP socket and a TCP listener that never accepts (the deadline), a closed port (a
failure the probe types itself: the good endpoint); an invalid name gets the probe's
own row (``invalid_input`` where the probe checks names).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from fragscope import cli
from fragscope.db.models import Base
from fragscope.probes import registry
from fragscope.probes.base import Task

OUTSIDE = "192.0.2.1"
"""TEST-NET-1 (RFC 5737): outside the test suite's allowlist, so never contacted."""
ENDS_BEFORE_DEADLINE = {"path.udp443"}
"""Probes that divide the task's deadline among their tries (silence, ``dropped``, is a
finding of theirs): the engine's deadline is not theirs to meet."""
ANY = "any"
"""Expected: the probe's own row, whatever it says (a closed port: a failure or an answer
such as path.udp443's ``rejected``; an invalid name: ``invalid_input`` where the probe
checks names, a measurement where it uses the pinned address alone)."""
CANCELLED = "cancelled"
"""The target (or endpoint label) whose measurement a planted CancelledError ends."""
SILENT_ROOT = "127.0.77.53"
"""dns.iterative asks its root hints on port 53: a silent socket of its own there."""


@dataclass(frozen=True)
class Silent:
    """A UDP socket that never reads and a TCP listener that never accepts, one port."""

    address: str
    port: int


@pytest.fixture
def silent() -> Iterator[Silent]:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    port = udp.getsockname()[1]
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", port))
    tcp.listen(64)  # the kernel completes handshakes; nobody ever reads
    try:
        yield Silent("127.0.0.1", port)
    finally:
        udp.close()
        tcp.close()


def _closed_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


# Probe -> its config for the test: timeouts far above the engine deadline, so that the
# engine's deadline (not the probe's own timeout) ends the silent attempts; {port} is the
# silent port for probes that take the port from their config.
PROBE_CONFIG: dict[str, str] = {
    "dns.query": 'qtypes = ["A"]\ntimeout_s = 20.0',
    "dns.iterative": 'qtypes = ["A"]\ntimeout_s = 20.0\nroot_hints = "hints.zone"',
    "engine.null": "delay_s = 20.0\nfail_every = 0\nfollow_ups = 0",
    "naming.resolve": "timeout_s = 20.0",
    "path.udp443": "port = {port}\ntimeout_s = 20.0\ntries = 1",
    "transport.quic": "port = {port}\nhandshake_timeout_s = 20.0\nhttp_timeout_s = 20.0",
    "transport.quic_vn": "port = {port}\ntimeout_s = 20.0",
    "transport.sni": "port = {port}\nhandshake_timeout_s = 20.0",
    # transport.ech asks the silent UDP port for the HTTPS record first.
    "transport.ech": (
        'port = {port}\nresolver = "127.0.0.1"\nresolver_port = {port}\ndns_timeout_s = 20.0\n'
        "handshake_timeout_s = 20.0"
    ),
    "transport.tls": (
        "port = {port}\nconnect_timeout_s = 20.0\nhandshake_timeout_s = 20.0\nhttp_timeout_s = 20.0"
    ),
}
OWN_DEADLINE = {"naming.resolve"}
"""Probes that end an attempt themselves just before the engine's deadline (their row
keeps their fields); the engine's row is the fallback."""
ENDPOINT_OPTIONS = {
    "naming.resolve": '\nnamespace = "opennic"\noptions = { method = "dns", qtypes = ["A"] }'
}


def test_every_registered_probe_is_covered() -> None:
    assert set(registry.all_probes()) == set(PROBE_CONFIG)


def _campaign(tmp_path: Path, probe: str, silent: Silent) -> dict[str, str]:
    """Write the campaign; return expected failure per task-key fragment."""
    uses_endpoints = registry.get(probe).uses_endpoints
    expected: dict[str, str] = {}
    targets = [f"1,pinned.geek,{OUTSIDE}"]  # a pinned address outside the allowlist
    expected[f"|pinned.geek@{OUTSIDE}|"] = "blocked_by_policy"
    targets.append("8,bad..geek,127.0.0.2")  # an invalid name: the probe's own row
    expected["|bad..geek@127.0.0.2|"] = ANY
    endpoints = ""
    if uses_endpoints:
        targets.append("2,name.geek,")
        options = ENDPOINT_OPTIONS.get(probe, "")
        panel = {
            "outside": f"udp://{OUTSIDE}:53",  # blocked by policy
            "unresolvable": "udp://nowhere.invalid:53",  # may not be resolved
            "silent": f"udp://{silent.address}:{silent.port}",  # the engine deadline
            "closed": f"udp://127.0.0.1:{_closed_port()}",  # the good endpoint
            CANCELLED: f"udp://127.0.0.1:{_closed_port()}",  # cancelled inside the probe
        }
        for label, url in panel.items():
            endpoints += f'[[endpoints]]\nurl = "{url}"\nlabel = "{label}"{options}\n'
        expected["|name.geek|outside|"] = "blocked_by_policy"
        expected["|name.geek|unresolvable|"] = "blocked_by_policy"
        expected["|name.geek|silent|"] = "generic_timeout_error"
        expected["|name.geek|closed|"] = ANY
        expected[f"|name.geek|{CANCELLED}|"] = "unknown_failure"
    elif probe == "dns.iterative":
        (tmp_path / "hints.zone").write_text(
            f". 3600000 NS a.root.test.\na.root.test. 3600000 A {SILENT_ROOT}\n"
        )
        targets.append("2,name.geek,")
        expected["|name.geek|-|"] = "generic_timeout_error"
    elif probe == "engine.null":
        targets.append("2,name.geek,")
        expected["|name.geek|-|"] = "generic_timeout_error"
    else:
        targets.append(f"2,silent.geek,{silent.address}")
        targets.append("3,closed.geek,127.0.0.2")  # nothing listens there: the probe's row
        # path.udp443 sizes its waits to end before the deadline: silence is its finding.
        silent_row = ANY if probe in ENDS_BEFORE_DEADLINE else "generic_timeout_error"
        expected[f"|silent.geek@{silent.address}|"] = silent_row
        expected["|closed.geek@127.0.0.2|"] = ANY
    if not uses_endpoints:
        targets.append(f"4,{CANCELLED}.geek,127.0.0.2")
        expected[f"|{CANCELLED}.geek@127.0.0.2|"] = "unknown_failure"
    (tmp_path / "targets.csv").write_text("\n".join(targets) + "\n")
    config = PROBE_CONFIG[probe].format(port=silent.port)
    (tmp_path / "c.toml").write_text(
        f'name = "failure-rows"\nvantage = "clean"\n[[targets]]\nfile = "targets.csv"\n'
        f'{endpoints}[probes."{probe}"]\n{config}\n'
        "[limits]\ndeadline = 0.5\nretries = 0\nconcurrency = 16\nrate = 1000\n"
    )
    return expected


def _cancelled(task: Task) -> bool:
    ep = task.endpoint
    return task.target.startswith(CANCELLED) or (ep is not None and ep.label == CANCELLED)


def _plant_cancellation(cls: type[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A planted fault: the probe raises CancelledError for the CANCELLED target or
    endpoint, as a library inside it might, without the engine cancelling anything."""
    measure = cls.measure

    async def cancelled_measure(self: Any, task: Task) -> Any:
        if _cancelled(task):
            raise asyncio.CancelledError("planted")
        return await measure(self, task)

    monkeypatch.setattr(cls, "measure", cancelled_measure)
    measure_many = getattr(cls, "measure_many", None)
    if measure_many is not None:

        async def cancelled_many(self: Any, tasks: list[Task]) -> Any:
            if any(_cancelled(t) for t in tasks):
                raise asyncio.CancelledError("planted")
            return await measure_many(self, tasks)

        monkeypatch.setattr(cls, "measure_many", cancelled_many)


@pytest.mark.parametrize("probe", sorted(PROBE_CONFIG))
def test_engine_failure_rows_are_stored(
    probe: str, silent: Silent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _campaign(tmp_path, probe, silent)
    _plant_cancellation(registry.get(probe), monkeypatch)
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "db.sqlite"
    argv = ["run", "--campaign", str(tmp_path / "c.toml"), "--db", str(db), "--auto-migrate"]
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as root:
        if probe == "dns.iterative":
            root.bind((SILENT_ROOT, 53))
        result = CliRunner().invoke(cli.main, argv)
    assert result.exit_code in (0, 1), result.output
    conn = sqlite3.connect(db)
    try:
        table = registry.get(probe).table
        rows = conn.execute(f'SELECT task_key, failure, failure_detail FROM "{table}"').fetchall()
        done = conn.execute("SELECT count(*) FROM tasks_done").fetchone()[0]
        status = conn.execute("SELECT status FROM runs").fetchone()[0]
    finally:
        conn.close()
    assert status == "finished", result.output
    assert result.exit_code == 1  # the planted cancellation is an unknown_failure row
    assert done == len(rows) >= len(expected), rows
    for fragment, failure in expected.items():
        found = [r for r in rows if fragment in r[0]]
        assert found, (fragment, rows)
        for _key, got, detail in found:
            if failure != ANY:
                assert got == failure, (fragment, got, detail)
                if failure == "generic_timeout_error" and probe not in OWN_DEADLINE:
                    assert "engine deadline" in detail, detail


def test_defaults_that_matter_are_server_side(migrated_engine: Engine) -> None:
    """Every NOT NULL column with a model default has the same default in the database,
    so a writer that leaves it out (a raw INSERT, a script) stores the row."""
    raw = migrated_engine.raw_connection()
    try:
        cur = raw.cursor()
        missing = []
        for table in Base.metadata.sorted_tables:
            declared = {row[1]: row[4] for row in cur.execute(f'PRAGMA table_info("{table.name}")')}
            missing += [
                f"{table.name}.{column.name}"
                for column in table.columns
                if column.default is not None
                and not column.nullable
                and declared.get(column.name) is None
            ]
        assert not missing
        cur.execute(
            "INSERT INTO vantages (id, label, hostname, created_at) "
            "VALUES ('v', 'l', 'h', '2026-01-01')"
        )
        cur.execute(
            "INSERT INTO runs (id, campaign, vantage_id, config, software, seed, started_at, "
            "status) VALUES ('r', 'c', 'v', '{}', '{}', 1, '2026-01-01', 'running')"
        )
        cur.execute(
            "INSERT INTO dns_observations (id, run_id, vantage_id, task_key, attempt, probe, "
            "probe_version, target, started_at) VALUES (1, 'r', 'v', 'k', 0, 'dns.query', 1, "
            "'t', '2026-01-01')"
        )
        stored = cur.execute("SELECT purpose, late, duplicate FROM dns_observations").fetchall()
        assert stored == [("query", 0, 0)]
    finally:
        raw.close()
