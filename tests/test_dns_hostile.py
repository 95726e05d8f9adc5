"""Hostile servers: every misbehaviour is a failure row, never a crash; sockets are closed."""

from __future__ import annotations

import asyncio
import os

import pytest

from fragscope.db.vocab import Failure
from fragscope.probes.base import Observation, Task
from fragscope.probes.dns.query import DnsQueryConfig, DnsQueryProbe
from fragscope.probes.safety import NetworkPolicy
from tests.dns.hostile import HostileServer
from tests.dns.run import run_query, task

FAST = DnsQueryConfig(timeout_s=0.4, late_grace_s=2.0)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize(
    ("mode", "detail"),
    [
        ("garbage", "query ID"),  # random flags: no QR bit, or a question not asked
        ("short", "no header"),
        ("wrong_id", "unknown query ID"),
        ("mismatch", "does not echo the question"),
    ],
)
def test_udp_reply_to_no_query_is_a_stray_row(mode: str, detail: str) -> None:
    """A datagram that is not the answer to the query (RFC 5452 section 9.1) is a stray
    row with its own bytes; the query itself still times out, with no wire."""

    async def go() -> tuple[list[Observation], list[tuple[Task, Observation]]]:
        probe = DnsQueryProbe(FAST, policy=NetworkPolicy.from_env())
        try:
            with HostileServer(mode) as server:
                out = await probe.measure_many([task("x.example.", server.url)])
            return out, probe.drain_late()
        finally:
            await probe.close()

    before = _open_fds()
    [obs], extra = asyncio.run(go())
    assert obs.failure == Failure.GENERIC_TIMEOUT_ERROR, (obs.failure, obs.failure_detail)
    assert "raw_wire" not in obs.fields
    [(stray_task, stray)] = extra
    assert "|stray|" in stray_task.key and stray.fields["purpose"] == "stray"
    assert stray.failure == Failure.DNS_SERVER_MISBEHAVING
    assert detail in (stray.failure_detail or "")
    assert stray.fields.get("raw_wire")  # the evidence is kept, as its own row
    assert _open_fds() <= before


@pytest.mark.parametrize(("mode", "detail"), [("truncated", "malformed"), ("oversized", "exceeds")])
def test_udp_bad_answer_is_server_misbehaving(mode: str, detail: str) -> None:
    """A reply that echoes the question is the query's answer, however broken."""
    with HostileServer(mode) as server:
        [obs] = run_query([task("x.example.", server.url)], FAST)
    assert obs.failure == Failure.DNS_SERVER_MISBEHAVING, (obs.failure, obs.failure_detail)
    assert detail in (obs.failure_detail or "")
    assert obs.fields.get("raw_wire")


def test_silent_server_times_out() -> None:
    with HostileServer("silent") as server:
        [obs] = run_query([task("x.example.", server.url)], FAST)
    assert obs.failure == Failure.GENERIC_TIMEOUT_ERROR and obs.retryable
    assert obs.failed_operation == "dns_round_trip"


def test_a_reset_stream_is_retryable_like_a_timeout() -> None:
    """Loss is not censorship (issue 19): a reset DNS-over-TCP connection is retried by the
    engine like a lost datagram, so it counts only when every attempt is reset."""
    with HostileServer("reset") as server:
        [obs] = run_query([task("x.example.", server.tcp_url)], FAST)
    assert obs.failure == Failure.CONNECTION_RESET, (obs.failure, obs.failure_detail)
    assert obs.retryable


def test_late_and_duplicate_answers_are_their_own_rows() -> None:
    async def go() -> tuple[list, list, list]:
        probe = DnsQueryProbe(FAST, policy=NetworkPolicy.from_env())
        try:
            with HostileServer("late", delay=0.8) as late_server:
                late = await probe.measure_many([task("late.example.", late_server.url, key="k1")])
                # A newer query to the same server must not take the late answer.
                newer = await probe.measure_many([task("late.example.", late_server.url, key="k2")])
                await asyncio.sleep(1.0)
            with HostileServer("duplicate") as dup_server:
                dup = await probe.measure_many([task("dup.example.", dup_server.url, key="k3")])
                await asyncio.sleep(0.3)
            return late + newer, dup, probe.drain_late()
        finally:
            await probe.close()

    timed_out, dup, extra = asyncio.run(go())
    assert [o.failure for o in timed_out] == [Failure.GENERIC_TIMEOUT_ERROR] * 2
    by_key = {t.key: o for t, o in extra}
    assert set(by_key) == {"k1/late", "k2/late", "k3/duplicate"}
    late_obs = by_key["k1/late"]
    assert late_obs.fields["late"] and late_obs.fields["rtt_ms"] > 400
    assert late_obs.fields["query_id"] == timed_out[0].fields["query_id"]
    assert dup[0].failure is None and dup[0].children[0][1]["value"] == "127.99.0.1"
    dup_obs = by_key["k3/duplicate"]
    assert dup_obs.fields["duplicate"] and dup_obs.failure == Failure.DNS_SERVER_MISBEHAVING
    assert dup_obs.children[0][1]["value"] == "127.99.9.9"


@pytest.mark.parametrize(
    ("mode", "failure"),
    [
        ("drip", Failure.GENERIC_TIMEOUT_ERROR),
        ("cut", Failure.DNS_SERVER_MISBEHAVING),
        ("garbage", Failure.DNS_SERVER_MISBEHAVING),
        ("mismatch", Failure.DNS_SERVER_MISBEHAVING),
        ("silent", Failure.GENERIC_TIMEOUT_ERROR),
    ],
)
def test_tcp_misbehaviour(mode: str, failure: Failure) -> None:
    before = _open_fds()
    with HostileServer(mode) as server:
        [obs] = run_query([task("x.example.", server.tcp_url)], FAST)
    assert obs.failure == failure, obs.failure_detail
    assert obs.fields["transport"] == "tcp"
    assert _open_fds() <= before


def test_query_ids_never_collide_under_load() -> None:
    """Thousands in flight to one server: every answer matched to its own query."""
    with HostileServer("echo") as server:
        tasks = [task(f"n{i}.example.", server.url, key=f"k{i}") for i in range(3000)]
        obs = run_query(tasks, DnsQueryConfig(timeout_s=5))
    assert all(o.failure is None for o in obs), {o.failure for o in obs}
    assert [o.fields["qname"] for o in obs] == [f"n{i}.example." for i in range(3000)]
    ids = [o.fields["query_id"] for o in obs]
    assert len(set(ids)) == len(ids)


def test_whoami_address_is_stored() -> None:
    cfg = DnsQueryConfig(whoami_names=("whoami.example/TXT",))
    probe = DnsQueryProbe(cfg)
    [params] = probe.tasks_for("whoami.example", None)
    assert params.params == {"qtype": "TXT", "purpose": "whoami"}
    with HostileServer("whoami") as server:
        [obs] = run_query([task("whoami.example", server.url, "TXT", purpose="whoami")], cfg)
    assert obs.failure is None and obs.fields["purpose"] == "whoami"
    assert obs.fields["whoami_address"] == "127.0.0.1" or obs.fields["whoami_address"].startswith(
        "127."
    )
