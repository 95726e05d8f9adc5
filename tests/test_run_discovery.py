"""``fragscope run`` expands dns.query's OpenNIC ``discovery`` endpoint into resolvers.

The campaign names no OpenNIC resolver, only the GeoIP API (as campaigns/default.toml
does). The API is the loopback stand-in of tests/test_naming_discovery.py (OpenNIC's JSON
format, wiki.opennic.org/api/geoip); the server it lists is a real NSD serving an
alternative root's view (its own TLDs libre and geek, and com), and the control is an
NSD serving the ICANN-like view (com only). The run must ask the listed server as a
dns.query resolver of namespace opennic, record where it came from in the run's config,
and N2 must see the extra TLDs. A failing API is a stored failure row and a warning;
the dry run says where the resolvers come from and sends nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fragscope import cli
from fragscope.analysis import scope
from fragscope.analysis.compute import compute
from fragscope.db.connection import make_engine
from fragscope.probes.naming.methods import discovery
from tests.fixtures.naming import start_nsd, stop_processes
from tests.test_naming_discovery import api_entry

TLDS = ("com", "libre", "geek")
UA = "fragscope-test/1.0 (discovery test)"


def _zone(origin: str, server: str) -> str:
    return (
        f"$TTL 300\n{origin} IN SOA {server} hostmaster.{server} 1 1800 900 604800 300\n"
        f"{origin} IN NS {server}\n"
    )


@dataclass(frozen=True)
class Roots:
    icann: str
    """udp:// URL of the ICANN-like view (root and com)."""
    alt_port: int
    """Port of the alternative root's view (root, com, libre, geek) on 127.0.0.1."""


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Roots]:
    base = tmp_path_factory.mktemp("discovery-roots")
    icann_ns, alt_ns = "a.root.icann.lab.", "a.root.alt."
    procs = []
    try:
        icann, icann_url = start_nsd(
            base / "icann", {".": _zone(".", icann_ns), "com.": _zone("com.", icann_ns)}
        )
        procs.append(icann)
        alt, alt_url = start_nsd(
            base / "alt", {f"{t}.": _zone(f"{t}.", alt_ns) for t in ("", *TLDS)}
        )
        procs.append(alt)
        yield Roots(icann=icann_url, alt_port=int(alt_url.rsplit(":", 1)[1]))
    finally:
        stop_processes(procs)


@pytest.fixture(autouse=True)
def _loopback_and_fresh_lists(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FRAGSCOPE_ALLOWED_NETS", "127.0.0.0/8")
    discovery.forget_lists()
    yield
    discovery.forget_lists()


def stand_in_api(
    http_server: Callable[..., Any], status: int, body: bytes
) -> tuple[str, list[str]]:
    seen: list[str] = []

    def handler(
        command: str, path: str, _body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        seen.append(f"{command} {path} {headers.get('user-agent', '')}")
        return status, {"Content-Type": "application/json"}, body

    return str(http_server(handler).url) + "/geoip/?json&res=3&ipv=4", seen


def write_campaign(tmp_path: Path, roots: Roots, api: str) -> Path:
    tlds = tmp_path / "tlds.txt"
    tlds.write_text("\n".join(TLDS) + "\n", encoding="utf-8")
    campaign = tmp_path / "discovery.toml"
    campaign.write_text(
        f"""
name = "discovery"
[[targets]]
list = "tlds"
file = "{tlds}"
format = "lines"

[[endpoints]]
label = "control"
url = "{roots.icann}"
role = "control"
filtering = "none"

# Only the API: the run finds the OpenNIC resolvers (127.0.0.3 is listed, not asked).
[[endpoints]]
label = "opennic"
url = "{api}"
operator = "OpenNIC (stand-in)"
namespace = "opennic"
options = {{ method = "discovery", servers = 1, dns_port = {roots.alt_port} }}

# As campaigns/default.toml: a TLD is asked its SOA (tld_qtypes), a host name qtypes.
[probes."dns.query"]
endpoints = ["control", "opennic"]
qtypes = ["A"]
tld_qtypes = ["SOA"]
timeout_s = 2.0

[politeness]
user_agent = "{UA}"

[safety]
allowed = ["127.0.0.0/8"]
""",
        encoding="utf-8",
    )
    return campaign


def run(campaign: Path, db: Path, *extra: str) -> Any:
    return CliRunner().invoke(
        cli.main,
        [
            "run",
            "--campaign",
            str(campaign),
            "--db",
            str(db),
            "--auto-migrate",
            "--vantage",
            scope.DEFAULT_CONTROL,
            *extra,
        ],
    )


def test_the_discovered_servers_are_dns_query_resolvers_and_n2_sees_their_tlds(
    tmp_path: Path,
    roots: Roots,
    http_server: Callable[..., Any],
) -> None:
    listed = [api_entry("127.0.0.1", "ns1.alt"), api_entry("127.0.0.3", "ns2.alt")]
    api, seen = stand_in_api(http_server, 200, json.dumps(listed).encode())
    campaign = write_campaign(tmp_path, roots, api)
    db = tmp_path / "db.sqlite"
    result = run(campaign, db)
    assert result.exit_code == 0, result.output
    # The volunteer API was asked once, with the campaign's User-Agent.
    assert seen == [f"GET /geoip/?json&res=3&ipv=4 {UA}"]
    con = sqlite3.connect(db)
    try:
        (run_id, config_text) = con.execute("SELECT id, config FROM runs").fetchone()
        rows = con.execute(
            "SELECT endpoint, task_key, resolver_namespace, resolver_role, resolver_operator,"
            " target, rcode_name, failure FROM dns_observations ORDER BY endpoint, target"
        ).fetchall()
        qtypes = {q for (q,) in con.execute("SELECT DISTINCT qtype FROM dns_observations")}
    finally:
        con.close()
    record = json.loads(config_text)["_discovered"]["opennic"]
    assert record["api"] == api and record["error"] is None
    assert record["listed"] == ["127.0.0.1", "127.0.0.3"] and record["measured"] == ["127.0.0.1"]
    assert record["port"] == roots.alt_port and record["asked_at"]
    alt_url = f"udp://127.0.0.1:{roots.alt_port}"
    found = [r for r in rows if r[0] == alt_url]
    assert [r[5] for r in found] == sorted(TLDS)
    for _ep, key, ns, role, operator, _target, rcode, failure in found:
        assert (ns, role, operator, rcode, failure) == (
            "opennic",
            "test",
            "OpenNIC (stand-in)",
            "NOERROR",
            None,
        )
        assert "|opennic@127.0.0.1|" in key
    assert qtypes == {"SOA"}  # the TLDs were asked tld_qtypes, not qtypes
    # No DNS query went to the API, and the listed server beyond `servers` was not asked.
    assert {r[0] for r in rows} == {roots.icann, alt_url}
    engine = make_engine(str(db))
    try:
        n2 = compute(engine, scope.select_runs(engine, run=run_id)).for_run(run_id)["N2"]
    finally:
        engine.dispose()
    # The control knows com; the OpenNIC view also knows libre and geek: 2 of 3 pairs.
    assert n2.value == pytest.approx(2 / 3), n2
    assert n2.params["extra_tld_pairs"] == 2 and n2.params["missing_tld_pairs"] == 0
    # A resume plans the resolvers the run recorded: the API is not asked again.
    again = run(campaign, db, "--resume", run_id)
    assert again.exit_code == 0, again.output
    assert len(seen) == 1


def test_a_failing_api_is_a_failure_row_and_a_warning_not_a_crash(
    tmp_path: Path,
    roots: Roots,
    http_server: Callable[..., Any],
) -> None:
    api, seen = stand_in_api(http_server, 503, b"maintenance")
    campaign = write_campaign(tmp_path, roots, api)
    db = tmp_path / "db.sqlite"
    result = run(campaign, db)
    assert result.exit_code == 0, result.output
    assert len(seen) == 1
    assert "discovery endpoint 'opennic'" in result.output
    assert "HTTP 503" in result.output
    con = sqlite3.connect(db)
    try:
        config = json.loads(con.execute("SELECT config FROM runs").fetchone()[0])
        rows = con.execute(
            "SELECT endpoint, purpose, failure, failure_detail, resolver_namespace"
            " FROM dns_observations WHERE purpose = 'discovery'"
        ).fetchall()
        asked = {r[0] for r in con.execute("SELECT DISTINCT endpoint FROM dns_observations")}
        done = con.execute(
            "SELECT failure FROM tasks_done WHERE task_key LIKE '%|discovery|%'"
        ).fetchall()
    finally:
        con.close()
    assert config["_discovered"]["opennic"]["error"].startswith("discovery API answered HTTP 503")
    assert config["_discovered"]["opennic"]["measured"] == []
    assert len(rows) == 1
    endpoint, purpose, failure, detail, ns = rows[0]
    assert (endpoint, purpose, failure, ns) == (api, "discovery", "http_error", "opennic")
    assert "HTTP 503" in detail
    assert done == [("http_error",)]
    # The control was still measured; nothing else was asked.
    assert asked == {roots.icann, api}


def test_the_dry_run_says_the_resolvers_come_from_discovery_and_sends_nothing(
    tmp_path: Path,
    roots: Roots,
    http_server: Callable[..., Any],
) -> None:
    api, seen = stand_in_api(http_server, 200, b"[]")
    campaign = write_campaign(tmp_path, roots, api)
    result = CliRunner().invoke(cli.main, ["run", "--campaign", str(campaign), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert seen == []
    assert (
        f"# endpoint opennic ({api}): dns.query's resolvers come from discovery at run "
        f"start: the first 1 servers the API lists, over Do53 port {roots.alt_port}"
    ) in result.output
    tasks = [line for line in result.output.splitlines() if not line.startswith("#")]
    assert len(tasks) == len(TLDS)
    assert all(f"\t{roots.icann}\t" in line for line in tasks)


def test_a_single_label_target_is_asked_tld_qtypes() -> None:
    from fragscope.probes.dns.query import DnsQueryConfig, DnsQueryProbe

    probe = DnsQueryProbe(DnsQueryConfig(qtypes=("A", "AAAA"), tld_qtypes=("SOA", "NS")))
    assert [c.key_suffix for c in probe.tasks_for("libre", None)] == ["SOA", "NS"]
    assert [c.key_suffix for c in probe.tasks_for("geek.", None)] == ["SOA", "NS"]
    assert [c.key_suffix for c in probe.tasks_for("www.libre", None)] == ["A", "AAAA"]
    # Without tld_qtypes a TLD is a name like any other.
    plain = DnsQueryProbe(DnsQueryConfig(qtypes=("A",)))
    assert [c.key_suffix for c in plain.tasks_for("libre", None)] == ["A"]
