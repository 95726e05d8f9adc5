"""The columnar per-pair facts (analysis.facts) against a plain reading of the rows they
come from: random TLS, QUIC and VN rows in a real SQLite database, the "any attempt" flags
and outcome labels computed row by row in Python, and the packed-SUM query's fallback for a
pair with more attempts than a packed digit holds."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from fragscope.analysis import facts
from fragscope.analysis.tables import present_tables
from fragscope.db.writer import Row, Writer, spec_for
from tests.fixtures.analysis import T0, build_world, envelope, run_row, vantage_rows

ANY_FLAGS = {
    "tls_observations": {
        "tcp_ok": lambda r: r.get("connect_ms") is not None or r.get("tls_version") is not None,
        "tls_ok": lambda r: r.get("tls_version") is not None,
        "tls13": lambda r: r.get("tls_version") == "TLSv1.3",
        "h2": lambda r: r.get("alpn") == "h2",
        "altsvc_h3": lambda r: bool(r.get("alt_svc_h3")),
    },
    "quic_observations": {
        "quic_ok": lambda r: r["stage"] in facts.QUIC_DONE,
        "quic_std": lambda r: r.get("quic_version") in (facts.QUIC_V1, facts.QUIC_V2),
    },
    "quic_vn_observations": {
        "vn_reply": lambda r: r["reply"] == "vn",
        "vn_v2": lambda r: bool(r.get("has_v2")),
    },
}


def _row(rnd: random.Random, table: str) -> dict[str, Any]:
    if table == "tls_observations":
        ok = rnd.random() < 0.6
        return {
            "connect_ms": 1.0 if ok or rnd.random() < 0.3 else None,
            "tls_version": rnd.choice(["TLSv1.3", "TLSv1.2"]) if ok else None,
            "alpn": rnd.choice(["h2", "http/1.1", None]) if ok else None,
            "alt_svc_h3": rnd.choice([True, False, None]) if ok else None,
            "failure": None if ok else rnd.choice(["generic_timeout_error", "connection_reset"]),
        }
    if table == "quic_observations":
        stage = rnd.choice(["initial_sent", "server_replied", "handshake_done", "http_done"])
        done = stage in facts.QUIC_DONE
        return {
            "stage": stage,
            "offered_versions": [1],
            "quic_version": rnd.choice([1, facts.QUIC_V2, 0xFF00001D, None]),
            "failure": None if done else rnd.choice(["quic_no_reply", "quic_bad_reply", None]),
        }
    reply = rnd.choice(["vn", "vn", "none", "icmp"])
    return {
        "reply": reply,
        "sent_version": 0x1A2A3A4A,
        "datagram_size": 1200,
        "dcid": "00",
        "scid": "01",
        "has_v2": rnd.choice([True, False, None]) if reply == "vn" else None,
    }


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database on SQLite, and on PostgreSQL (the packed SUM is a NUMERIC there)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'facts.sqlite'}"
    return str(request.getfixturevalue("pg_url"))


def _world(url: str, rows: list[tuple[str, str, str, dict[str, Any]]]) -> Any:
    """A one-run world whose transport rows are ``rows``: (table, target, address, fields)."""
    world = build_world(url, {})
    run_id = "00000000-0000-4000-8000-00000000f00d"
    vid, vrow = vantage_rows("clean")
    out: list[Row] = [vrow, run_row(run_id, vid, round_name="r1", started=T0)]
    for table, target, addr, fields in rows:
        spec = spec_for(table)
        env = envelope(run_id, vid, table, target, addr)
        ipv = 6 if ":" in addr else 4
        out.append((spec, spec.row(**env, address=addr, port=443, ip_version=ipv, **fields)))
    Writer(world.engine).write(out)
    return world, run_id


def test_facts_equal_a_row_by_row_reading(db_url: str) -> None:
    rnd = random.Random(7)
    rows = []
    for t in range(40):
        for addr in (f"10.99.7.{t + 1}", f"fd99::7:{t + 1}")[: 1 + t % 2]:
            for table in ANY_FLAGS:
                if rnd.random() < 0.2:
                    continue  # a channel the vantage did not measure for this pair
                for _ in range(rnd.randint(1, 4)):
                    rows.append((table, f"t{t}.example.test", addr, _row(rnd, table)))
    world, run_id = _world(db_url, rows)
    f = facts.load(world.engine, [run_id], present_tables(world.engine))[run_id]
    expected: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
    seen: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for table, target, addr, fields in rows:
        seen[(table, target, addr)].append(fields)
    for (table, target, addr), group in seen.items():
        for flag, test in ANY_FLAGS[table].items():
            expected[(target, addr)][flag] = any(test(r) for r in group)
        if table == "tls_observations":
            ok = expected[(target, addr)]["tls_ok"]
            fails = [r["failure"] for r in group if r["failure"]]
            expected[(target, addr)]["tls_outcome"] = "ok" if ok else min(fails, default=None)
    names = f.names
    got = {
        (names.targets[t], names.addresses[a]): i
        for i, (t, a) in enumerate(zip(f.t, f.a, strict=True))
    }
    assert set(got) == set(expected)
    assert list(got) == sorted(got)  # pairs in (target, address) order
    for key, want in expected.items():
        i = got[key]
        for flag, value in want.items():
            if flag == "tls_outcome":
                label = names.words[f.tls_outcome[i]]
                assert label == (value or facts.UNKNOWN_FAILURE), key
            else:
                assert bool(getattr(f, flag)[i]) == value, (key, flag)
    world.engine.dispose()


@pytest.mark.parametrize("attempts", [4095, 4096])
def test_packed_flags_fall_back_beyond_a_digit(db_url: str, attempts: int) -> None:
    """TLS packs five counts into 12-bit digits: 4096 attempts that connected but never
    completed TLS would carry into the TLS digit; the query is then run with one MAX per
    flag and the pair stays connected but not TLS-ok."""
    failed = {"connect_ms": 1.0, "failure": "ssl_failed_handshake"}
    rows = [("tls_observations", "big.example.test", "10.99.9.1", failed)] * attempts
    rows.append(("tls_observations", "small.example.test", "10.99.9.2", {"tls_version": "TLSv1.3"}))
    world, run_id = _world(db_url, rows)
    f = facts.load(world.engine, [run_id], present_tables(world.engine))[run_id]
    assert [f.names.targets[t] for t in f.t] == ["big.example.test", "small.example.test"]
    assert f.tcp_ok.tolist() == [True, True]
    assert f.tls_ok.tolist() == [False, True]
    assert f.tls13.tolist() == [False, True]
    assert f.names.words[f.tls_outcome[0]] == "ssl_failed_handshake"
    world.engine.dispose()
