"""``fragscope probe transport`` through click's CliRunner against the loopback hosts."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import text

from fragscope.db.connection import make_engine
from fragscope.lab.web.app import HOSTILE_STRING
from fragscope.probes.transport.commands import transport_command
from tests.fixtures.web_hosts import WebLab

NAME = "www.example.test"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(transport_command, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_json_lines_dual_stack_with_vn(web_lab: WebLab) -> None:
    v4, port = web_lab.addr("h3")
    v6, _ = web_lab.addr("h3", 6)
    code, out = invoke(
        NAME,
        "--ip",
        v4,
        "--ip",
        v6,
        "--port",
        str(port),
        "--vn",
        "--ca-file",
        str(web_lab.pki.ca),
        "--json",
    )
    assert code == 0, out
    records = [json.loads(line) for line in out.splitlines()]
    assert {(r["probe"], r["address"]) for r in records} == {
        (p, a) for p in ("transport.tls", "transport.quic", "transport.quic_vn") for a in (v4, v6)
    }
    assert all(r["failure"] is None for r in records), records
    quic = [r for r in records if r["probe"] == "transport.quic"]
    assert {r["ip_version"] for r in quic} == {4, 6}
    vn = next(r for r in records if r["probe"] == "transport.quic_vn")
    assert [v["label"] for v in vn["children"]["quic_vn_versions"]] == ["v1", "v2"]


def test_table_shows_hostile_header_literally(web_lab: WebLab) -> None:
    address, port = web_lab.addr("hostile")
    code, out = invoke(NAME, "--ip", address, "--port", str(port), "--no-quic", "--table")
    assert code == 0, out
    assert "<script>" in out  # printed as text, never interpreted as markup
    assert "transport.quic" not in out
    code, out = invoke(NAME, "--ip", address, "--port", str(port), "--no-quic", "--json")
    assert json.loads(out)["http_server"] == HOSTILE_STRING


def test_store(web_lab: WebLab, tmp_path: Path) -> None:
    address, port = web_lab.addr("advertised")
    db = tmp_path / "cli.sqlite"
    code, out = invoke(
        NAME, "--ip", address, "--port", str(port), "--store", "--db", str(db), "--json"
    )
    assert code == 0, out
    engine = make_engine(str(db))
    with engine.connect() as conn:
        status = conn.execute(text("select status from quic_adoption")).scalar()
        runs = conn.execute(text("select campaign, status from runs")).all()
    engine.dispose()
    assert status == "advertised_not_served"
    assert runs == [("probe transport", "finished")]


def test_one_task_per_quic_version(web_lab: WebLab) -> None:
    address, port = web_lab.addr("h3")
    args = ["--ip", address, "--port", str(port), "--json", "--ca-file", str(web_lab.pki.ca)]
    code, out = invoke(NAME, *args, "--quic-version", "v2", "--quic-version", "v1")
    assert code == 0, out
    quic = [r for r in map(json.loads, out.splitlines()) if r["probe"] == "transport.quic"]
    assert [(r["offered_versions"], r["quic_version_label"]) for r in quic] == [
        ([0x6B3343CF], "v2"),
        ([0x00000001], "v1"),
    ]
    assert all(r["failure"] is None and r["attempt"] == 0 for r in quic)


def test_retries_store_every_attempt(tmp_path: Path) -> None:
    # A bound UDP socket that never reads: the Initial is swallowed without an ICMP error,
    # so each QUIC attempt is a retryable quic_no_reply and every attempt is a row. TCP on
    # the same port is refused at once, which is not retried.
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    db = tmp_path / "retries.sqlite"
    try:
        code, out = invoke(
            NAME, "--ip", "127.0.0.1", "--port", str(port), "--timeout", "0.2",
            "--retries", "2", "--store", "--db", str(db), "--json",
        )  # fmt: skip
    finally:
        silent.close()
    assert code == 0, out
    lines = [line for line in out.splitlines() if line.startswith("{")]  # not "stored N rows"
    records = [json.loads(line) for line in lines]
    quic = [(r["attempt"], r["failure"]) for r in records if r["probe"] == "transport.quic"]
    assert quic == [(i, "quic_no_reply") for i in range(3)]
    tls = [(r["attempt"], r["failure"]) for r in records if r["probe"] == "transport.tls"]
    assert tls == [(0, "connection_refused")]
    engine = make_engine(str(db))
    with engine.connect() as conn:
        attempts = conn.execute(text("select attempt from quic_observations order by 1")).all()
    engine.dispose()
    assert [a for (a,) in attempts] == [0, 1, 2]


def test_bad_input_exits_2() -> None:
    code, out = invoke(NAME, "--ip", "not-an-ip")
    assert code == 2 and "--ip" in out
    code, out = invoke(NAME, "--ip", "127.0.0.1", "--port", "70000")
    assert code == 2 and "--port" in out
    code, out = invoke(NAME, "--ip", "127.0.0.1", "--ca-file", "/nonexistent/ca.pem")
    assert code == 2 and "--ca-file" in out
    code, out = invoke(NAME, "--ip", "127.0.0.1", "--quic-version", "v3")
    assert code == 2 and "--quic-version" in out
    code, out = invoke(NAME, "--ip", "127.0.0.1", "--retries", "-1")
    assert code == 2 and "--retries" in out


def test_help() -> None:
    code, out = invoke("--help")
    assert code == 0 and "--no-quic" in out and "--vn" in out and "--path" in out


def test_hostname_resolved_from_hosts_file_and_path_tests() -> None:
    import os
    import socket

    # "localhost" resolves from /etc/hosts: no DNS query leaves the machine. A TCP socket
    # bound but not listening holds the port closed (RST) while the test runs.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        args = ["localhost", "--port", str(port), "--no-quic", "--json"]
        if os.geteuid() == 0:
            args.append("--path")
        code, out = invoke(*args)
    assert code == 0, out
    records = [json.loads(line) for line in out.splitlines()]
    assert {r["address"] for r in records} >= {"127.0.0.1"}
    tls = next(r for r in records if r["probe"] == "transport.tls")
    assert tls["failure"] == "connection_refused"  # nothing listens on 127.0.0.1 there
    if os.geteuid() == 0:
        tests = {r["test"]: r["outcome"] for r in records if r["probe"] == "path.udp443"}
        assert tests == {"udp443": "rejected", "tcp_ecn": "offline", "tcp_exp_option": "offline"}
