"""Two DNS worlds at once (two test sessions) claim different loopback blocks and both serve."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from fragscope.probes.dns.query import DnsQueryConfig
from tests.dns.addresses import BLOCKS, Block, claim
from tests.dns.run import run_query, task
from tests.dns.world import DnsWorld, start_world


def _validated_a(world: DnsWorld) -> list[str]:
    [obs] = run_query(
        [task("www.example.test", world.urls["udp"])], DnsQueryConfig(ca_file=world.ca_file)
    )
    assert obs.failure is None, obs.failure_detail
    assert obs.fields["flag_ad"], "the second world's resolver must validate its own root"
    return sorted(r["value"] for t, r in obs.children if t == "dns_answers" and r["rtype"] == "A")


def test_a_second_world_runs_beside_the_sessions_world(dns_world: DnsWorld, tmp_path: Path) -> None:
    session_net = dns_world.addresses.block.net
    # Start the search at the session's own block: the lock held on it must move us on.
    second = start_world(tmp_path, first_block=session_net)
    try:
        second_net = second.addresses.block.net
        assert second_net != session_net
        assert {second.root, second.resolver, second.doq}.isdisjoint(
            {dns_world.root, dns_world.resolver, dns_world.doq}
        )
        assert _validated_a(second) == _validated_a(dns_world) == ["127.80.0.1"]
    finally:
        second.stop()
    # Stopped: its block is free again, and the session's world still answers.
    again = claim(second_net)
    try:
        assert again.block.net == second_net
    finally:
        again.release()
    assert _validated_a(dns_world) == ["127.80.0.1"]


def test_a_block_in_use_without_the_lock_is_skipped() -> None:
    if os.geteuid() != 0:
        pytest.skip("binds port 53: needs root")
    held = claim()  # a block no session uses now
    net = held.block.net
    held.release()
    # Someone (not a DNS world) listens on the block's root address: the claim passes it.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind((Block(net).address("root"), 53))
        other = claim(net)
        try:
            assert other.block.net != net and other.block.net in BLOCKS
        finally:
            other.release()
