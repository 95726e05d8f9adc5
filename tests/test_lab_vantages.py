"""The lab's vantages, built by `fragscope lab up` on the real lab Internet (fs-net), probed
from inside them with independent clients (dig, a connected UDP socket)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from fragscope.cli import main
from fragscope.lab.vantages import LAB_SUBNETS, facts, lab_exec_argv, lab_layout
from fragscope.lab.vantages.model import Protocol
from fragscope.lab.vantages.runner import existing_namespaces, pid_file_path, resolv_conf_path
from fragscope.lab.world import Lab

REPO = Path(__file__).resolve().parents[1]


def at(vantage: str, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        lab_exec_argv(vantage, list(argv)),
        capture_output=True, text=True, timeout=timeout, cwd=REPO, check=False,
    )  # fmt: skip


def test_every_vantage_is_up(lab: Lab) -> None:
    present = existing_namespaces()
    for name in LAB_SUBNETS:
        layout = lab_layout(name)
        assert set(layout.namespaces) <= present, name
    pid = int(pid_file_path(lab.vantage_dir, lab_layout("distant")).read_text())
    assert Path(f"/proc/{pid}").exists()
    assert not pid_file_path(lab.vantage_dir, lab_layout("lossy")).exists()


def test_lab_status_lists_the_vantages(lab: Lab) -> None:
    rows = {r.service: r for r in lab.status() if r.group == "vantages"}
    assert set(rows) == set(LAB_SUBNETS)
    assert all(r.running and r.health == "ok" and r.protocol == "path" for r in rows.values())
    assert rows["distant"].software == "nftables + delay relay"
    assert rows["censored"].address == str(lab_layout("censored").v4.client)


def test_lab_exec_runs_inside_the_vantage(lab: Lab, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = CliRunner().invoke(main, ["lab", "exec", "censored", "--", "touch", str(marker)])
    assert result.exit_code == 0, result.output
    assert marker.exists()
    addr = at("censored", "ip", "-4", "-o", "addr", "show", "vc0").stdout
    assert f"{lab_layout('censored').v4.client}/30" in addr


def test_censored_dns_goes_to_the_manipulating_resolver(lab: Lab) -> None:
    # Its resolv.conf names the manipulating resolver, which rewrites www.example.test
    # (lab/truth.toml resolvers.manip.policy); the distant vantage's resolver does not.
    assert (
        f"nameserver {facts.load()['censored'].resolver}"
        in resolv_conf_path(lab_layout("censored")).read_text()
    )
    policy = lab.truth.dns.resolvers["manip"].policy
    assert policy is not None
    rewritten = policy.rewrite["www.example.test."]
    censored = at("censored", "dig", "+short", "+tries=2", "+time=3", "www.example.test", "A")
    distant = at("distant", "dig", "+short", "+tries=2", "+time=3", "www.example.test", "A")
    assert censored.stdout.split() == [rewritten], censored
    assert distant.stdout.split() == ["10.99.80.1"], distant


def _udp(vantage: str, host: str) -> str:
    done = at(vantage, sys.executable, "-m", "tests.fixtures.netprobe", "udp", host, "443")
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["error"])


def test_censored_drops_and_rejects_udp443_as_planted(lab: Lab) -> None:
    censored = facts.load()["censored"]
    for block in (b for b in censored.blocks if b.protocol is Protocol.UDP):
        expected = "timeout" if block.action.value == "drop" else "EHOSTUNREACH"
        assert _udp("censored", str(block.address)) == expected, block


def test_distant_adds_300ms_to_a_dns_round_trip(lab: Lab) -> None:
    resolver = lab.truth.dns.resolvers["icann"].address
    times = []
    for vantage in ("censored", "distant"):
        done = at(vantage, "dig", f"@{resolver}", "+tries=1", "+time=3", "example.test", "SOA")
        match = re.search(r"Query time: (\d+) msec", done.stdout)
        assert match, done.stdout
        times.append(int(match.group(1)))
    near, far = times
    assert 250 <= far < 2000 and far - near >= 250, times


def test_lossy_loses_exactly_3_of_10_dns_queries(lab: Lab) -> None:
    # Ten single-try queries are ten client packets: exactly three meet the numgen rule.
    resolver = lab.truth.dns.resolvers["icann"].address
    query = ("dig", f"@{resolver}", "+tries=1", "+time=1", "+short", "example.test", "SOA")
    answered = 0
    for _ in range(10):
        done = at("lossy", *query)
        answered += done.returncode == 0 and bool(done.stdout.strip())
    assert answered == 7


def test_distant_dot_and_doh_survive_concurrent_queries(lab: Lab) -> None:
    # A campaign opens many DoT/DoH connections at once. With few TCP handlers Unbound
    # shortens every connection's timeout to 200 ms, less than distant's 300 ms round trip,
    # so it closed each connection before the query arrived (docs/lab.md, "Unbound and
    # slow paths"). Sixteen concurrent queries per transport must all be answered.
    icann = lab.truth.dns.resolvers["icann"]
    for transport in ("dot", "doh"):
        done = at(
            "distant", sys.executable, "-m", "tests.fixtures.dnsburst", transport,
            icann.address, "--name", lab.truth.tls_hostname, "--ca", str(lab.ca_file),
            "--count", "16",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["ok"] == 16, result
