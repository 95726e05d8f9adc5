"""The vantages, built for real (namespaces, nftables, the delay relay) and probed by an
independent client run with ``ip netns exec`` against a real UDP/TCP echo server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fragscope.lab.vantages import model, plan, runner
from fragscope.lab.vantages.layout import make_layout
from tests.fixtures.vantages import (
    HOST6_DROP,
    HOST6_OPEN,
    HOST6_REJECT_ADMIN,
    HOST_DROP,
    HOST_OPEN,
    HOST_REJECT_ADMIN,
    HOST_REJECT_PORT,
    HOSTS,
    RESOLVER,
    Topology,
    fsv_namespaces,
    need_root,
)

pytestmark = pytest.mark.lab


def probe(
    topo: Topology, vantage: str, proto: str, host: str, *, port: int = 443, count: int = 1,
    timeout: float = 1.0,
) -> list[dict[str, object]]:  # fmt: skip
    done = topo.run(
        vantage, sys.executable, "-m", "tests.fixtures.netprobe", proto, host, str(port),
        "--count", str(count), "--timeout", str(timeout),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


# --- censored ------------------------------------------------------------------------


def test_censored_udp443_to_dropped_host_times_out(vantage_topology: Topology) -> None:
    assert [r["error"] for r in probe(vantage_topology, "censored", "udp", HOST_DROP)] == [
        "timeout"
    ]


def test_censored_udp443_to_rejected_host_gets_icmp_admin_prohibited(
    vantage_topology: Topology,
) -> None:
    # ICMP type 3 code 13 on a connected UDP socket: Linux reports EHOSTUNREACH.
    [result] = probe(vantage_topology, "censored", "udp", HOST_REJECT_ADMIN)
    assert result["error"] == "EHOSTUNREACH"


def test_censored_udp443_to_port_rejected_host_gets_econnrefused(
    vantage_topology: Topology,
) -> None:
    [result] = probe(vantage_topology, "censored", "udp", HOST_REJECT_PORT)
    assert result["error"] == "ECONNREFUSED"


@pytest.mark.parametrize("host", HOSTS)
def test_censored_leaves_tcp443_open(vantage_topology: Topology, host: str) -> None:
    [result] = probe(vantage_topology, "censored", "tcp", host)
    assert result["ok"] is True, result


@pytest.mark.parametrize("host", [HOST_DROP, HOST_REJECT_ADMIN, HOST_OPEN])
def test_censored_only_touches_udp443(vantage_topology: Topology, host: str) -> None:
    # UDP to another port of a blocked host, and UDP/443 of an unlisted host, pass.
    port = 443 if host == HOST_OPEN else 8443
    [result] = probe(vantage_topology, "censored", "udp", host, port=port)
    assert result["ok"] is True, result


def test_censored_ipv6_udp443_dropped_tcp_open(vantage_topology: Topology) -> None:
    assert [r["error"] for r in probe(vantage_topology, "censored", "udp", HOST6_DROP)] == [
        "timeout"
    ]
    assert probe(vantage_topology, "censored", "tcp", HOST6_DROP)[0]["ok"] is True
    assert probe(vantage_topology, "censored", "udp", HOST6_OPEN)[0]["ok"] is True


def test_censored_ipv6_udp443_rejected_gets_icmpv6_admin_prohibited(
    vantage_topology: Topology,
) -> None:
    # ICMPv6 type 1 code 1 (RFC 4443 section 3.1): Linux reports EACCES on the socket.
    [result] = probe(vantage_topology, "censored", "udp", HOST6_REJECT_ADMIN)
    assert result["error"] == "EACCES"
    assert probe(vantage_topology, "censored", "tcp", HOST6_REJECT_ADMIN)[0]["ok"] is True


def test_censored_client_uses_its_own_resolver(vantage_topology: Topology) -> None:
    done = vantage_topology.run("censored", "cat", "/etc/resolv.conf")
    assert f"nameserver {RESOLVER}" in done.stdout.splitlines()
    # The lossy vantage has no resolver of its own, so the host's file shows through.
    assert not runner.resolv_conf_path(vantage_topology.vantages["lossy"].layout).exists()


# --- lossy ---------------------------------------------------------------------------


def _loss_rule_packets(topo: Topology) -> int:
    layout = topo.vantages["lossy"].layout
    out = subprocess.run(
        ["ip", "netns", "exec", layout.mbox_ns, "nft", "list", "ruleset"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    [line] = [ln for ln in out.splitlines() if "numgen inc" in ln]
    match = re.search(r"counter packets (\d+)", line)
    assert match, line
    return int(match.group(1))


def test_lossy_loses_exactly_3_of_every_10(vantage_topology: Topology) -> None:
    # Each probe is one client->upstream packet, and `numgen inc mod 10 < 3` drops three
    # consecutive counter values of every ten, so any 30 sequential probes lose exactly 9,
    # and every window of 10 consecutive probes loses exactly 3, whatever the counter's
    # starting value. Replies are not subject to loss, so a lost probe is a dropped request.
    before = _loss_rule_packets(vantage_topology)
    results = probe(vantage_topology, "lossy", "udp", HOST_OPEN, count=30, timeout=0.3)
    lost = [not r["ok"] for r in results]
    assert sum(lost) == 9
    assert all(sum(lost[i : i + 10]) == 3 for i in range(len(lost) - 9))
    assert {r["error"] for r in results if not r["ok"]} == {"timeout"}
    assert _loss_rule_packets(vantage_topology) - before == 9


# --- distant -------------------------------------------------------------------------


def _rtts(results: list[dict[str, object]], key: str = "rtt_ms") -> list[float]:
    assert all(r["ok"] for r in results), results
    return [float(r[key]) for r in results]  # type: ignore[arg-type]


@pytest.mark.parametrize("host", [HOST_OPEN, HOST6_OPEN])
def test_distant_adds_150ms_each_way_to_udp(vantage_topology: Topology, host: str) -> None:
    near = _rtts(probe(vantage_topology, "censored", "udp", host, port=8443, count=3))
    far = _rtts(probe(vantage_topology, "distant", "udp", host, count=3, timeout=3))
    # Loose bounds by design (no tight timing assertions): 2 x 150 ms is planted.
    assert all(250 <= rtt < 2000 for rtt in far), far
    assert min(far) - max(near) >= 250


def test_distant_adds_150ms_each_way_to_tcp(vantage_topology: Topology) -> None:
    near = probe(vantage_topology, "censored", "tcp", HOST_OPEN, count=3)
    far = probe(vantage_topology, "distant", "tcp", HOST_OPEN, count=3, timeout=3)
    for key in ("connect_ms", "rtt_ms"):  # SYN/SYN-ACK, then one echo round trip
        assert all(250 <= rtt < 2000 for rtt in _rtts(far, key)), far
        assert min(_rtts(far, key)) - max(_rtts(near, key)) >= 250


def test_distant_carries_bulk_tcp_intact(vantage_topology: Topology) -> None:
    # 1 MiB echoed through the relay both ways: full-size (and kernel-segmented GSO)
    # packets survive the TUN round trip in order and intact.
    done = vantage_topology.run(
        "distant", sys.executable, "-m", "tests.fixtures.netprobe", "tcp", HOST_OPEN, "443",
        "--bulk", str(1 << 20), "--timeout", "20",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["identical"] is True, result


def test_exec_argv_runs_inside_the_client_namespace(vantage_topology: Topology) -> None:
    layout = vantage_topology.vantages["distant"].layout
    done = subprocess.run(
        plan.exec_argv(layout, ["ip", "-4", "-o", "addr", "show"]),
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert f"{layout.v4.client}/" in done.stdout
    assert "10.99.240." not in done.stdout  # the hosts are elsewhere: this is the client


# --- life cycle ----------------------------------------------------------------------


def _relay_pid(run_dir: Path, layout_name: str) -> int:
    return int((run_dir / f"{layout_name}-delay.pid").read_text())


def test_down_removes_namespaces_and_relay(vantage_upstream: str, tmp_path: Path) -> None:
    need_root()
    vantage = model.distant(name="lifecycle", delay_ms=20)
    layout = make_layout(
        "lifecycle", upstream_ns=vantage_upstream, subnet="10.99.250.0/29", prefix="fsv-"
    )
    runner.up(vantage, layout, run_dir=tmp_path)
    pid = _relay_pid(tmp_path, "lifecycle")
    assert Path(f"/proc/{pid}").exists()
    # A second `up` clears the first copy (stale state from a crashed run) and rebuilds.
    runner.up(vantage, layout, run_dir=tmp_path)
    assert not Path(f"/proc/{pid}").exists()
    pid = _relay_pid(tmp_path, "lifecycle")
    # A crashed `lab up` may lose its run directory: `down` still finds the relay (by the
    # middlebox namespace's PIDs, checked to be a relay) and stops it.
    (tmp_path / "lifecycle-delay.pid").unlink()
    runner.down(layout)
    runner.down(layout, run_dir=tmp_path)  # idempotent
    assert not Path(f"/proc/{pid}").exists()
    assert not set(layout.namespaces) & set(fsv_namespaces())
    stats = json.loads((tmp_path / "lifecycle-delay.log").read_text().splitlines()[-1])
    assert stats["dropped_full"] == 0


def test_relay_memory_is_bounded(vantage_upstream: str, tmp_path: Path) -> None:
    # 100 datagrams sent back to back (in far less than the 150 ms hold) meet a queue of
    # 16: exactly 16 are held and echoed, 84 are dropped and counted by the relay.
    need_root()
    layout = make_layout(
        "bounded", upstream_ns=vantage_upstream, subnet="10.99.250.8/29", prefix="fsv-"
    )
    running = runner.up(model.distant(name="bounded"), layout, run_dir=tmp_path, max_queue=16)
    try:
        done = subprocess.run(
            plan.exec_argv(layout, [sys.executable, "-m", "tests.fixtures.netprobe", "udp",
                                    HOST_OPEN, "443", "--count", "100", "--timeout", "1",
                                    "--burst"]),
            capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1],
        )  # fmt: skip
    finally:
        runner.down(layout, run_dir=tmp_path)
    result = json.loads(done.stdout)
    assert result["send_ms"] < 150, "burst too slow to test the bound; machine overloaded?"
    assert result["received"] == 16
    assert running.relay_pid is not None
    stats = json.loads((tmp_path / "bounded-delay.log").read_text().splitlines()[-1])
    assert stats["dropped_full"] == 84
    assert stats["accepted"] == 16 + 16  # the requests, then their echoes


def test_relay_stops_when_its_tun_disappears(vantage_upstream: str, tmp_path: Path) -> None:
    need_root()
    layout = make_layout(
        "gone", upstream_ns=vantage_upstream, subnet="10.99.250.16/29", prefix="fsv-"
    )
    running = runner.up(model.distant(name="gone"), layout, run_dir=tmp_path)
    assert running.relay_pid is not None
    try:
        subprocess.run(["ip", "-n", layout.mbox_ns, "link", "del", "dly0"], check=True)
        deadline = time.monotonic() + 10
        status = 0
        while time.monotonic() < deadline:
            pid, status = os.waitpid(running.relay_pid, os.WNOHANG)  # our child: reap it
            if pid:
                break
            time.sleep(0.02)
        else:
            pytest.fail("relay still running after its TUN was deleted")
    finally:
        runner.down(layout, run_dir=tmp_path)
    assert os.waitstatus_to_exitcode(status) == 1
    log = (tmp_path / "gone-delay.log").read_text()
    assert "TUN 'dly0' is gone" in log
    assert json.loads(log.splitlines()[-1])["dropped_full"] == 0


def test_failed_up_leaves_nothing_behind(tmp_path: Path) -> None:
    need_root()
    layout = make_layout(
        "orphan", upstream_ns="fsv-does-not-exist", subnet="10.99.251.0/29", prefix="fsv-"
    )
    with pytest.raises(runner.VantageBuildError, match="fsv-does-not-exist"):
        runner.up(model.distant(name="orphan"), layout, run_dir=tmp_path)
    assert not {"fsv-v-orphan", "fsv-m-orphan"} & set(fsv_namespaces())
