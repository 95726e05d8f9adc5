"""Issue 8's Done-when list in the lab: the real transport probes, run as
``fragscope probe transport HOST --ip ... --store`` inside each vantage's namespace (via
``lab.vantages.lab_exec_argv``), against the lab's Hypercorn, Caddy, TCP-only,
advertised-not-served and hostile hosts on fs-net. Every fact (addresses, versions, VN
lists, headers, which host a vantage drops or rejects, the planted delay) is read from
lab/truth.toml and lab/vantages/truth.toml through their loaders. Does I/O (subprocesses,
the lab network, SQLite files in tmp_path).

The invocations of a vantage run in parallel in one module fixture (each is a process of
its own with its own database), and the tests read the stored rows back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from fragscope.db.connection import make_engine
from fragscope.lab.truth import WebHost, load
from fragscope.lab.vantages import facts, lab_exec_argv
from fragscope.lab.vantages.model import Action
from fragscope.lab.world import Lab
from fragscope.probes.transport.quic_wire import VersionKind

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
FRAGSCOPE = Path(sys.executable).with_name("fragscope")
TRUTH = load()
WEB = TRUTH.web
VANTAGES = facts.load()
CENSORED = VANTAGES["censored"]
DROPPED = [str(b.address) for b in CENSORED.blocks if b.action is Action.DROP]
# The UDP/443 rejects (the TCP-only plants, reset and drop-ecn-setup, have their own tests).
REJECTED = [
    str(b.address) for b in CENSORED.blocks if b.action in (Action.REJECT_ADMIN, Action.REJECT_PORT)
]
# The ICMP (type, code) each reject action answers with: RFC 792 destination unreachable,
# code 13 administratively prohibited (RFC 1812 5.2.7.1) or 3 port unreachable; ICMPv6
# (RFC 4443 3.1) type 1, code 1 or 4.
ICMP = {
    (Action.REJECT_ADMIN, 4): (3, 13),
    (Action.REJECT_PORT, 4): (3, 3),
    (Action.REJECT_ADMIN, 6): (1, 1),
    (Action.REJECT_PORT, 6): (1, 4),
}


HTTP_NAMES = {"http/1.1": "h11", "h2": "h2", None: "h11"}


def _host(address: str) -> WebHost | None:
    return next((h for h in WEB.values() if address in h.addresses), None)


@dataclass
class Result:
    """One CLI invocation: its JSON records (every attempt) and its database."""

    records: list[dict[str, Any]]
    db: Path

    def rows(self, sql: str, **params: Any) -> list[Any]:
        engine = make_engine(str(self.db))
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(sql), params).mappings())
        finally:
            engine.dispose()

    def of(self, probe: str, **match: Any) -> list[dict[str, Any]]:
        return [
            r
            for r in self.records
            if r["probe"] == probe and all(r.get(k) == v for k, v in match.items())
        ]


def _run_all(
    lab: Lab, vantage: str, jobs: dict[str, list[str]], tmp: Path
) -> Iterator[dict[str, Result]]:
    """Start every job (name -> CLI arguments after ``probe transport``) inside the
    vantage at once, wait for all, and yield their results by name."""
    started: dict[str, tuple[subprocess.Popen[str], Path]] = {}
    try:
        for name, args in jobs.items():
            db = tmp / f"{vantage}-{name}.sqlite"
            argv = [str(FRAGSCOPE), "probe", "transport", *args]
            argv += ["--ca-file", str(lab.ca_file), "--json", "--store", "--db", str(db)]
            started[name] = (
                subprocess.Popen(
                    lab_exec_argv(vantage, argv),
                    cwd=REPO,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
                db,
            )
        results: dict[str, Result] = {}
        for name, (proc, db) in started.items():
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, f"{vantage}/{name}: exit {proc.returncode}\n{err}"
            assert "stored" in err, err
            results[name] = Result([json.loads(line) for line in out.splitlines()], db)
        yield results
    finally:
        for proc, _ in started.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _args(host: WebHost, *extra: str, addresses: tuple[str, ...] | None = None) -> list[str]:
    out = [host.name.rstrip(".")]
    for address in addresses if addresses is not None else host.addresses:
        out += ["--ip", address]
    return [*out, "--port", str(host.port), *extra]


def _assert_no_failures(result: Result) -> None:
    failed = [r for r in result.records if r["failure"] is not None]
    assert not failed, failed


# --- from the clean vantage (the host) ---------------------------------------------------

HOSTS = ("www", "v6only", "caddy", "tcponly", "noudp", "hostile")


@pytest.fixture(scope="module")
def clean(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Result]]:
    versions = ["--quic-version", "v1", "--quic-version", "v2"]
    jobs = {
        "www": _args(WEB["www"], "--vn", *versions),
        "v6only": _args(WEB["v6only"], "--vn", *versions),
        "caddy": _args(WEB["caddy"], "--vn", *versions, addresses=(WEB["caddy"].address,)),
        "tcponly": _args(WEB["tcponly"], "--vn", "--timeout", "2"),
        "noudp": _args(WEB["noudp"], "--timeout", "2"),
        "hostile": _args(WEB["hostile"], "--no-quic"),
    }
    assert set(jobs) == set(HOSTS)
    yield from _run_all(lab, "clean", jobs, tmp_path_factory.mktemp("tlab-clean"))


def test_h3_host_negotiates_each_version_on_each_address(clean: dict[str, Result]) -> None:
    for key in ("www", "v6only"):
        host, result = WEB[key], clean[key]
        _assert_no_failures(result)
        quic = result.rows(
            "select address, quic_version_label, alpn, http_status, http_server"
            " from quic_observations"
        )
        got = {(q["address"], q["quic_version_label"]) for q in quic}
        assert got == {(a, v) for a in host.addresses for v in host.quic_versions}, quic
        assert all(q["alpn"] == "h3" and q["http_status"] == 200 for q in quic), quic
        # Hypercorn names the HTTP version in its Server header (truth's is the HTTP/1.1
        # one, hypercorn-h11): hypercorn-h2 over TLS with h2, hypercorn-h3 over QUIC.
        implementation = host.server_header.split("-")[0]
        for r in result.of("transport.tls"):
            assert r["http_server"] == f"{implementation}-{HTTP_NAMES[r['alpn']]}", r
        assert {q["http_server"] for q in quic} == {f"{implementation}-h3"}
        # One task per version, each offering that version alone.
        offered = [r["offered_versions"] for r in result.of("transport.quic")]
        assert len(offered) == 2 * len(host.addresses) and all(len(o) == 1 for o in offered)
        vn = result.rows(
            "select o.address, v.label from quic_vn_versions v"
            " join quic_vn_observations o on o.id = v.observation_id order by o.address, v.position"
        )
        for address in host.addresses:
            labels = [v["label"] for v in vn if v["address"] == address]
            assert labels == list(host.vn_versions), (address, labels)


def test_dual_stack_and_v6_only_are_probed_per_address(clean: dict[str, Result]) -> None:
    www = clean["www"].rows("select distinct address, ip_version from tls_observations")
    assert {(r["address"], r["ip_version"]) for r in www} == {
        (WEB["www"].address, 4),
        (WEB["www"].address6, 6),
    }
    v6 = clean["v6only"].rows("select distinct address, ip_version from quic_observations")
    assert [(r["address"], r["ip_version"]) for r in v6] == [(WEB["v6only"].address6, 6)]
    assert WEB["v6only"].address is None
    adoption = clean["www"].rows("select address, status from quic_adoption")
    assert {r["address"]: r["status"] for r in adoption} == {
        a: "advertised_and_served" for a in WEB["www"].addresses
    }


def test_caddy_second_implementation(clean: dict[str, Result]) -> None:
    caddy, result = WEB["caddy"], clean["caddy"]
    by_version = {
        tuple(r["offered_versions"]): r for r in result.of("transport.quic")
    }  # fmt: skip
    assert len(by_version) == 2
    served = [r for r in by_version.values() if r["failure"] is None]
    assert [r["quic_version_label"] for r in served] == list(caddy.quic_versions)
    assert served[0]["http_server"] == caddy.server_header
    # v2 alone draws a Version Negotiation: quic-go knows v2 only as its draft.
    refused = [r for r in by_version.values() if r["failure"] is not None]
    assert [r["failure"] for r in refused] == ["quic_incompatible_version"], refused
    vn = result.rows(
        "select label, kind from quic_vn_versions order by position"
    )  # fmt: skip
    labels = [v["label"] for v in vn if v["kind"] != VersionKind.GREASE]
    assert labels == list(caddy.vn_versions), vn
    assert VersionKind.GREASE in {v["kind"] for v in vn}, vn  # quic-go greases its list
    assert any(v["kind"] == VersionKind.DRAFT for v in vn), vn
    tls = result.of("transport.tls")
    assert [r["http_server"] for r in tls] == [caddy.server_header]


def test_tcp_only_host_has_no_quic(clean: dict[str, Result]) -> None:
    host, result = WEB["tcponly"], clean["tcponly"]
    [tls] = result.of("transport.tls")
    assert tls["failure"] is None and tls["alt_svc_h3"] is False and tls["alpn"] in host.https_alpn
    [quic] = result.of("transport.quic")
    assert quic["failure"] is not None and quic["stage"] == "initial_sent", quic
    [vn] = result.of("transport.quic_vn")
    assert vn["reply"] != "vn", vn
    [status] = result.rows("select status from quic_adoption")
    assert status["status"] == "not_served"


def test_advertised_not_served(clean: dict[str, Result]) -> None:
    result = clean["noudp"]
    [tls] = result.of("transport.tls")
    assert tls["failure"] is None and tls["alt_svc_h3"] is True, tls
    assert WEB["noudp"].alt_svc == "h3" and not WEB["noudp"].has_udp
    [quic] = result.of("transport.quic")
    assert quic["failure"] is not None and quic["stage"] == "initial_sent", quic
    [status] = result.rows("select status from quic_adoption")
    assert status["status"] == "advertised_not_served"


def test_hostile_server_header_stored_verbatim(clean: dict[str, Result]) -> None:
    result = clean["hostile"]
    _assert_no_failures(result)
    [row] = result.rows("select http_server, http_status from tls_observations")
    assert row["http_server"] == WEB["hostile"].server_header
    assert row["http_status"] == 200


# --- from the censored vantage -----------------------------------------------------------


@pytest.fixture(scope="module")
def censored(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Result]]:
    assert DROPPED and REJECTED
    jobs: dict[str, list[str]] = {}
    for address in DROPPED:
        host = _host(address)
        assert host is not None and host.has_udp, address  # a real QUIC server is hidden
        jobs[f"drop-{address}"] = _args(
            host, "--path", "--timeout", "2", addresses=(address,)
        )  # fmt: skip
    for address in REJECTED:
        # No web host has to stand behind the rejected address: the block is on the path.
        name = (_host(address) or WEB["www"]).name.rstrip(".")
        jobs[f"reject-{address}"] = [name, "--ip", address, "--path", "--timeout", "2"]
    yield from _run_all(lab, "censored", jobs, tmp_path_factory.mktemp("tlab-censored"))


@pytest.mark.parametrize("address", DROPPED)
def test_censored_drop(censored: dict[str, Result], address: str) -> None:
    result = censored[f"drop-{address}"]
    [tls] = result.of("transport.tls")
    assert tls["failure"] is None and tls["http_status"] == 200, tls  # TCP still works
    [quic] = result.of("transport.quic")
    assert quic["failure"] == "quic_no_reply" and quic["stage"] == "initial_sent", quic
    [udp] = result.of("path.udp443", test="udp443")
    assert udp["failure"] is None and udp["outcome"] == "dropped", udp
    assert udp.get("icmp_type") is None
    [status] = result.rows("select status, tcp_ok, quic_ok from quic_adoption")
    assert (status["tcp_ok"], status["quic_ok"]) == (1, 0)
    assert status["status"] == "advertised_not_served"


@pytest.mark.parametrize("address", REJECTED)
def test_censored_reject(censored: dict[str, Result], address: str) -> None:
    result = censored[f"reject-{address}"]
    [quic] = result.of("transport.quic")
    # ICMP admin-prohibited on the connected socket: an answer at once, not a timeout.
    assert quic["failure"] in ("host_unreachable", "connection_refused"), quic
    assert quic["stage"] == "initial_sent"
    [udp] = result.of("path.udp443", test="udp443")
    assert udp["failure"] is None and udp["outcome"] == "rejected", udp
    [block] = [b for b in CENSORED.blocks if str(b.address) == address]
    assert (udp["icmp_type"], udp["icmp_code"]) == ICMP[(block.action, udp["ip_version"])], udp


# --- lossy and distant -------------------------------------------------------------------


@pytest.fixture(scope="module")
def far(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Result]]:
    www = WEB["www"]
    tmp = tmp_path_factory.mktemp("tlab-far")
    # Lossy: the probes' own retransmission (TCP, aioquic's PTO) plus the CLI's retries for
    # the single-datagram VN probe. The loss is deterministic, `drop` packets in a row of
    # every `every`, so a lone sender gets through within drop + 1 tries; one more is the
    # margin for other tasks' packets interleaving. Deadlines allow TCP's 1 s SYN retry.
    loss = VANTAGES["lossy"].loss
    assert loss is not None
    retries = str(loss.drop + 1)
    lossy = {"www": _args(www, "--vn", "--retries", retries, "--timeout", "8")}
    distant = {"www": _args(www, "--vn", "--timeout", "5")}
    out: dict[str, Result] = {}
    runs = [_run_all(lab, "lossy", lossy, tmp), _run_all(lab, "distant", distant, tmp)]
    try:
        for name, gen in zip(("lossy", "distant"), runs, strict=True):
            out[name] = next(gen)["www"]
        yield out
    finally:
        for gen in runs:
            gen.close()


def test_lossy_no_spurious_failures(far: dict[str, Result]) -> None:
    result = far["lossy"]
    # Every task's last attempt succeeded; earlier attempts may be retryable losses.
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for r in result.records:
        last[(r["probe"], r["address"])] = r
    assert set(last) == {
        (p, a)
        for p in ("transport.tls", "transport.quic", "transport.quic_vn")
        for a in WEB["www"].addresses
    }
    assert all(r["failure"] is None for r in last.values()), last
    # Attempts before the last failed only in the ways a lost packet explains.
    lost = {"quic_no_reply", "quic_handshake_timeout", "generic_timeout_error"}
    earlier = [r for r in result.records if r is not last[(r["probe"], r["address"])]]
    assert all(r["failure"] in lost | {"connection_reset"} for r in earlier), earlier


def test_distant_timings_reflect_the_delay(far: dict[str, Result]) -> None:
    result = far["distant"]
    _assert_no_failures(result)
    delay = VANTAGES["distant"].delay_ms
    assert delay > 0
    rtt = 2 * delay  # the relay delays each way
    for r in result.of("transport.quic"):
        assert r["handshake_ms"] >= rtt, r  # one round trip at least (1-RTT handshake)
        assert r["http_ms"] >= rtt, r
    for r in result.of("transport.tls"):
        assert r["connect_ms"] >= rtt and r["handshake_ms"] >= rtt, r
    for r in result.of("transport.quic_vn"):
        assert r["rtt_ms"] >= rtt, r
    rows = result.rows("select min(handshake_ms) as m from quic_observations")
    assert rows[0]["m"] >= rtt
