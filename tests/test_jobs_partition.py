"""A partitioned worker's shard completes on another worker (issue 22, step 1).

The worker runs in a network namespace of its own and reaches PostgreSQL through a relay
on the host. Mid-shard, nftables in its namespace starts dropping every packet: nothing
is reset, so its sessions stay open at the server (as a dead machine's would, until TCP
keepalive gives up, hours later) and so would any session advisory lock. Another worker
of the same vantage sends the job back to the queue once the partitioned one's
heartbeat is stale, takes the shard once its run lease has lapsed, and finishes it: every
planned task stored once, while the partitioned worker's sessions are still open.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.fixtures.engine import null_campaign, popen_cli, run_cli
from tests.fixtures.postgres import PostgresServer

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.lab]

REPO = Path(__file__).resolve().parents[1]
NS = "fsj-part"
HOST_IF, NS_IF = "fsj-h0", "fsj-n0"
HOST_ADDR, NS_ADDR = "10.99.200.1", "10.99.200.2"  # a lab-range /30 nothing else uses
HEARTBEAT, LEASE = 0.5, 3.0
TARGETS = 300


class Relay(socketserver.ThreadingTCPServer):
    """TCP from the namespace to PostgreSQL on the host's loopback; counts the open
    upstream sessions (the partitioned worker's stay open)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, listen: tuple[str, int], upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.open = 0
        self.lock = threading.Lock()
        super().__init__(listen, _Pipe)


class _Pipe(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server = self.server
        assert isinstance(server, Relay)
        up = socket.create_connection(server.upstream)
        with server.lock:
            server.open += 1
        try:
            other = threading.Thread(target=_pump, args=(up, self.request), daemon=True)
            other.start()
            _pump(self.request, up)
            other.join()
        finally:
            with server.lock:
                server.open -= 1
            up.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


@pytest.fixture
def namespace() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("nft") is None:
        pytest.skip("the partition test needs root, iproute2 and nftables")
    subprocess.run(["ip", "netns", "del", NS], capture_output=True, check=False)
    subprocess.run(["ip", "link", "del", HOST_IF], capture_output=True, check=False)
    sh("ip", "netns", "add", NS)
    try:
        sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF, "netns", NS)
        sh("ip", "addr", "add", f"{HOST_ADDR}/30", "dev", HOST_IF)
        sh("ip", "link", "set", HOST_IF, "up")
        sh("ip", "-n", NS, "addr", "add", f"{NS_ADDR}/30", "dev", NS_IF)
        sh("ip", "-n", NS, "link", "set", NS_IF, "up")
        sh("ip", "-n", NS, "link", "set", "lo", "up")
        yield NS
    finally:
        subprocess.run(["ip", "link", "del", HOST_IF], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", NS], capture_output=True, check=False)


def partition(ns: str) -> None:
    """Drop every packet in and out of the namespace: no RST, no FIN, sessions stay open."""
    rules = (
        "table inet fsj_partition {\n"
        "  chain in { type filter hook input priority -300; policy drop; }\n"
        "  chain out { type filter hook output priority -300; policy drop; }\n"
        "}\n"
    )
    subprocess.run(
        ["ip", "netns", "exec", ns, "nft", "-f", "-"], input=rules, text=True, check=True
    )


def worker_argv(url: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "import cli; cli.main()",
        "worker",
        "--vantage",
        "clean",
        "--db",
        url,
        "--heartbeat",
        str(HEARTBEAT),
        "--lease",
        str(LEASE),
        "--log-json",
    ]


def scalar(url: str, sql: str) -> object:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def test_a_partitioned_worker_s_shard_completes_on_another(
    postgres_server: PostgresServer, pg_url: str, namespace: str, tmp_path: Path
) -> None:
    campaign = null_campaign(
        tmp_path,
        targets=TARGETS,
        delay_s=0.1,
        fail_every=0,
        follow_ups=0,
        concurrency=4,
        name="partition",
    )
    assert run_cli("db", "upgrade", "--db", pg_url).returncode == 0
    submitted = run_cli(
        "round",
        "submit",
        "--campaign",
        str(campaign),
        "--round",
        "P",
        "--vantage",
        "clean",
        "--shards",
        "1",
        "--db",
        pg_url,
    )
    assert submitted.returncode == 0, submitted.stderr
    relay = Relay((HOST_ADDR, 0), ("127.0.0.1", postgres_server.port))
    threading.Thread(target=relay.serve_forever, daemon=True).start()
    via_relay = make_url(pg_url).set(host=HOST_ADDR, port=relay.server_address[1])
    log = (tmp_path / "partitioned.log").open("wb")
    partitioned = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            namespace,
            *worker_argv(via_relay.render_as_string(hide_password=False)),
        ],
        cwd=REPO,
        stdout=log,
        stderr=log,
    )
    other = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if int(scalar(pg_url, "SELECT COUNT(*) FROM tasks_done") or 0) >= 20:  # type: ignore[call-overload]
                break
            time.sleep(0.1)
        else:
            raise AssertionError((tmp_path / "partitioned.log").read_text())
        partition(namespace)
        cut = time.monotonic()
        stored_at_cut = scalar(pg_url, "SELECT COUNT(*) FROM tasks_done")
        other = popen_cli(*worker_argv(pg_url)[3:])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if scalar(pg_url, "SELECT status::text FROM procrastinate_jobs") == "succeeded":
                break
            time.sleep(0.1)
        took = time.monotonic() - cut
        assert scalar(pg_url, "SELECT status::text FROM procrastinate_jobs") == "succeeded", (
            tmp_path / "partitioned.log"
        ).read_text()[-3000:]
        # The partitioned worker is alive, its sessions open at the server all along.
        assert partitioned.poll() is None and relay.open > 0
        print(
            f"partition to shard done on the other worker: {took:.1f} s "
            f"({stored_at_cut} of {TARGETS} tasks stored before the cut)"
        )
        assert took < 3 * HEARTBEAT + LEASE + 20  # stall detection + lease + a run's start
        keys = int(scalar(pg_url, "SELECT COUNT(*) FROM tasks_done") or 0)  # type: ignore[call-overload]
        distinct = scalar(pg_url, "SELECT COUNT(DISTINCT (run_id, task_key)) FROM tasks_done")
        rows = scalar(pg_url, "SELECT COUNT(*) FROM null_observations")
        distinct_rows = scalar(
            pg_url, "SELECT COUNT(DISTINCT (run_id, task_key, attempt)) FROM null_observations"
        )
        assert keys == distinct == TARGETS and rows == distinct_rows
        other.send_signal(signal.SIGTERM)
        assert other.wait(timeout=30) == 0
    finally:
        partitioned.kill()
        partitioned.wait()
        if other is not None and other.poll() is None:
            other.kill()
            other.wait()
        relay.shutdown()
        relay.server_close()
        log.close()
