"""A datagram that matches no query is a row of its own and changes no other row (issue 18).

The repro of the issue: a resolver that never answers 20 names but sends one answer with a
wrong query ID, at concurrency 64. The UDP client used to keep that datagram as its
socket's ``last_stray`` and store it as the ``raw_wire`` of every query that then timed
out, each classified ``dns_server_misbehaving``. Now: 20 timeouts and one stray row.
The server is a real asyncio datagram server on loopback, in a thread of its own.
"""

from __future__ import annotations

import asyncio
import sqlite3
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import dns.message
import dns.rrset
import pytest
from click.testing import CliRunner

from fragscope import cli


class OneWrongIdServer(asyncio.DatagramProtocol):
    """Answers nothing; to the first query only, sends its answer under a wrong ID."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.queries = 0
        self.sent: bytes | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queries += 1
        if self.sent is not None or self.transport is None:
            return
        query = dns.message.from_wire(data)
        answer = dns.message.make_response(query)
        answer.answer.append(
            dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "127.99.0.1")
        )
        wire = answer.to_wire()
        wrong = ((wire[0] << 8 | wire[1]) ^ 0x5A5A).to_bytes(2, "big")
        self.sent = wrong + wire[2:]
        self.transport.sendto(self.sent, addr)


@pytest.fixture
def wrong_id_server() -> Iterator[tuple[int, OneWrongIdServer]]:
    loop = asyncio.new_event_loop()
    protocol = OneWrongIdServer()
    ready = threading.Event()

    async def start() -> None:
        await loop.create_datagram_endpoint(lambda: protocol, local_addr=("127.0.0.1", 0))
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=5)
    assert ready.wait(5) and protocol.transport is not None
    port = protocol.transport.get_extra_info("sockname")[1]
    try:
        yield port, protocol
    finally:
        loop.call_soon_threadsafe(protocol.transport.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


def test_one_stray_datagram_is_one_row_and_silence_stays_timeouts(
    wrong_id_server: tuple[int, OneWrongIdServer], tmp_path: Path
) -> None:
    port, server = wrong_id_server
    (tmp_path / "names.txt").write_text("".join(f"n{i}.example.\n" for i in range(20)))
    (tmp_path / "c.toml").write_text(
        'name = "strays"\nvantage = "clean"\n'
        '[[targets]]\nfile = "names.txt"\nformat = "lines"\n'
        f'[[endpoints]]\nurl = "udp://127.0.0.1:{port}"\nlabel = "silent"\n'
        '[probes."dns.query"]\nqtypes = ["A"]\ntimeout_s = 1.0\nlate_grace_s = 0.5\n'
        "[limits]\nconcurrency = 64\nrate = 1000\nburst = 64\ndeadline = 5.0\nretries = 0\n"
    )
    db = tmp_path / "db.sqlite"
    argv = ["run", "--campaign", str(tmp_path / "c.toml"), "--db", str(db), "--auto-migrate"]
    result = CliRunner().invoke(cli.main, argv)
    assert result.exit_code == 0, result.output
    assert server.queries == 20 and server.sent is not None
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT purpose, failure, raw_wire, failure_detail, query_id, qname "
            "FROM dns_observations"
        ).fetchall()
    finally:
        conn.close()
    queries = [r for r in rows if r[0] == "query"]
    strays = [r for r in rows if r[0] == "stray"]
    assert len(rows) == 21
    assert [r[1] for r in queries] == ["generic_timeout_error"] * 20
    assert all(r[2] is None for r in queries)  # nobody else's bytes as evidence
    [stray] = strays
    assert stray[1] == "dns_server_misbehaving"
    assert stray[2] == server.sent
    assert "unknown query ID" in stray[3]
    assert stray[4] == struct.unpack("!H", server.sent[:2])[0]
    assert stray[5].startswith("n") and stray[5].endswith(".example.")
