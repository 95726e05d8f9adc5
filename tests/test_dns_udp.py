"""The lean UDP client's ID discipline, socket growth and the non-batched fallback."""

from __future__ import annotations

import asyncio

import pytest

from fragscope.probes.dns import codec, mmsg, udp
from fragscope.probes.dns.query import DnsQueryConfig
from fragscope.probes.dns.udp import UdpClient, UdpResult
from tests.dns.hostile import HostileServer
from tests.dns.run import run_query, task


def test_more_sockets_when_ids_run_short_and_no_id_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(udp, "_IDS_PER_SOCKET", 100)

    async def go(port: int) -> tuple[int, set[tuple[int, int]], list[UdpResult]]:
        client = UdpClient("127.66.200.1", port, late_grace=5.0)
        results: list[UdpResult] = []
        t = codec.make_template("x.example.", 1)
        client.send_many([(t, results.append, None)] * 250, timeout=0.3)
        pairs = {
            (index, qid) for index, sock in enumerate(client.sockets) for qid in sock.outstanding
        }
        sockets = len(client.sockets)
        await asyncio.sleep(0.5)  # all time out; their IDs stay reserved (grace 5 s)
        reserved = [set(sock.expired) for sock in client.sockets]
        more: list[UdpResult] = []
        client.send_many([(t, more.append, None)] * 50, timeout=0.3)
        for index, sock in enumerate(client.sockets):
            # On each socket (its own source port) no new ID is one still in grace.
            fresh = set(sock.outstanding)
            assert not fresh & (reserved[index] if index < len(reserved) else set())
        client.close()
        return sockets, pairs, results

    with HostileServer("silent") as server:
        sockets, pairs, results = asyncio.run(go(server.port))
    assert sockets == 3 and len(pairs) == 250
    assert len(results) == 250 and all(r.failure == "generic_timeout_error" for r in results)


def test_expired_ids_are_not_reallocated_during_grace() -> None:
    async def go(port: int) -> None:
        client = UdpClient("127.66.200.1", port, late_grace=30.0)
        t = codec.make_template("x.example.", 1)
        out: list[UdpResult] = []
        client.send_many([(t, out.append, None)] * 2000, timeout=0.05)
        await asyncio.sleep(0.3)
        sock = client.sockets[0]
        reserved = set(sock.expired)
        assert len(reserved) == 2000
        for _ in range(20000):
            assert sock.allocate() not in reserved
        client.close()

    with HostileServer("silent") as server:
        asyncio.run(go(server.port))


@pytest.mark.parametrize("batched", [True, False])
def test_load_with_and_without_mmsg(monkeypatch: pytest.MonkeyPatch, batched: bool) -> None:
    monkeypatch.setattr(mmsg, "AVAILABLE", batched and mmsg.AVAILABLE)
    with HostileServer("echo") as server:
        tasks = [task(f"m{i}.example.", server.url, key=f"m{i}") for i in range(1500)]
        obs = run_query(tasks, DnsQueryConfig(timeout_s=5))
    assert all(o.failure is None for o in obs), {o.failure_detail for o in obs}
    assert [o.fields["qname"] for o in obs] == [f"m{i}.example." for i in range(1500)]


def test_port_unreachable_fails_every_query_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    for batched in (True, False):
        monkeypatch.setattr(mmsg, "AVAILABLE", batched and mmsg.AVAILABLE)
        obs = run_query(
            [task(f"r{i}.example.", "udp://127.66.200.9:9", key=f"r{i}") for i in range(20)],
            DnsQueryConfig(timeout_s=1),
        )
        assert {o.failure for o in obs} == {"connection_refused"}, batched


def test_probe_survives_a_new_event_loop() -> None:
    from fragscope.probes.dns.query import DnsQueryProbe

    probe = DnsQueryProbe(DnsQueryConfig(timeout_s=2))
    with HostileServer("echo") as server:
        first = asyncio.run(probe.measure(task("a.example.", server.url)))
        second = asyncio.run(probe.measure(task("b.example.", server.url)))
        asyncio.run(probe.close())
    assert first.failure is None and second.failure is None
