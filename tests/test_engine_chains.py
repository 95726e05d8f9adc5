"""probes.engine.chains: the follow-up table, and the engine spawning from it. No network."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from fragscope.db.vocab import Failure, Operation
from fragscope.probes.base import FollowUp, Observation, Task
from fragscope.probes.engine import chains
from fragscope.probes.engine.console import Reporter
from fragscope.probes.engine.runs import RunOptions, execute
from fragscope.probes.transport.quic import QuicConfig
from fragscope.probes.transport.tls import TlsConfig
from tests.fixtures.engine import done_keys, null_campaign

NAME = "www.example.test"


def task(probe: str) -> Task:
    return Task(key=f"{probe}|{NAME}", probe=probe, target=NAME)


def observation(table: str, **fields: Any) -> Observation:
    return Observation(
        table=table, target=NAME, endpoint=None, started_at=dt.datetime(2026, 1, 1), fields=fields
    )


def tls_seen(**fields: Any) -> Observation:
    return observation("tls_observations", address="192.0.2.1", port=443, sni=NAME, **fields)


H3_HERE = {"alpn": "h3", "host": "", "port": 8443, "ma": 60, "persist": False}
H3_ELSEWHERE = {**H3_HERE, "host": "cdn.example.test", "port": 9443}
H2_HERE = {**H3_HERE, "alpn": "h2", "port": 7443}


def test_the_table_names_the_chains() -> None:
    assert [(c.parent, c.child) for c in chains.CHAINS] == [
        ("transport.tls", "transport.quic"),
        ("transport.quic", "path.udp443"),
    ]
    assert chains.chains_from("dns.query") == ()


@pytest.mark.parametrize(
    ("mode", "alt_svc", "ports"),
    [
        ("never", [H3_HERE], []),
        ("advertised", [H3_HERE, H3_ELSEWHERE, H2_HERE], [8443]),
        ("advertised", [], []),
        ("always", [H3_HERE], [443, 8443]),
        ("always", [{**H3_HERE, "port": 443}], [443]),
    ],
)
def test_quic_after_tls(mode: str, alt_svc: list[dict[str, Any]], ports: list[int]) -> None:
    spawned = chains.follow_ups(
        "transport.tls",
        TlsConfig(quic_follow_up=mode),
        task("transport.tls"),
        tls_seen(alt_svc=alt_svc),
    )
    assert spawned == [
        FollowUp(
            probe="transport.quic",
            target=NAME,
            key_suffix=f"quic/192.0.2.1/{port}",
            params={"address": "192.0.2.1", "sni": NAME, "port": port},
        )
        for port in ports
    ]


def quic_failed(failure: Failure, operation: Operation) -> Observation:
    obs = observation("quic_observations", address="192.0.2.1", port=443)
    obs.failure, obs.failed_operation = failure, operation
    return obs


@pytest.mark.parametrize(
    ("failure", "operation", "spawns"),
    [
        (Failure.QUIC_NO_REPLY, Operation.QUIC_HANDSHAKE, True),
        (Failure.HOST_UNREACHABLE, Operation.QUIC_HANDSHAKE, True),
        (Failure.QUIC_CONNECTION_CLOSED, Operation.QUIC_HANDSHAKE, False),
        (Failure.HOST_UNREACHABLE, Operation.HTTP_REQUEST, False),
    ],
)
def test_path_after_quic(failure: Failure, operation: Operation, spawns: bool) -> None:
    obs = quic_failed(failure, operation)
    on = chains.follow_ups("transport.quic", QuicConfig(path_follow_up=True), task("q"), obs)
    off = chains.follow_ups("transport.quic", QuicConfig(), task("q"), obs)
    assert off == []
    assert [f.key_suffix for f in on] == (
        [f"path/192.0.2.1/443/{t}" for t in ("udp443", "tcp_ecn", "tcp_exp_option")]
        if spawns
        else []
    )
    assert all(f.probe == "path.udp443" for f in on)


def test_the_engine_spawns_what_the_table_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def once(child: str, config: Any, task: Task, obs: Observation) -> list[FollowUp]:
        if task.parent_key is not None:
            return []
        return [FollowUp(probe=child, target=task.target, key_suffix="chained")]

    chain = chains.Chain("engine.null", "engine.null", once)
    monkeypatch.setattr(chains, "BY_PARENT", {"engine.null": (chain,)})
    campaign = null_campaign(tmp_path, targets=4, follow_ups=0, fail_every=0)
    db = tmp_path / "run.sqlite"
    opts = RunOptions(campaign=campaign, db=str(db), auto_migrate=True)
    assert execute(opts, reporter=Reporter()) == 0
    keys = done_keys(db)
    chained = [k for k in keys if k.endswith(">chained")]
    assert len(keys) == 8 and len(chained) == 4
