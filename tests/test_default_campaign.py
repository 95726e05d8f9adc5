"""campaigns/default.toml, the real-Internet campaign: it loads; a dry run plans it, sends nothing.

The dry run happens in-process with FRAGSCOPE_ALLOWED_NETS=127.0.0.0/8 and with every
AF_INET/AF_INET6 socket creation refused and recorded: the plan must come out complete
while no Internet socket is ever opened (only the event loop's AF_UNIX self-pipe).
"""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from fragscope.probes.engine import campaign as campaign_mod

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN = ROOT / "campaigns" / "default.toml"


def _entries(path: Path) -> list[str]:
    return [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_default_campaign_loads_with_sources_and_polite_rates() -> None:
    c = campaign_mod.load_campaign(CAMPAIGN)
    assert c.politeness.contact and c.politeness.user_agent
    assert "fragscope" in c.politeness.user_agent
    assert c.safety.blocklist is not None and c.safety.blocked
    assert c.safety.allowed == ()  # the real Internet, minus the blocklist
    assert c.limits.concurrency <= 16 and c.limits.rate <= 1.0 and c.limits.retries <= 1
    operators = {e.operator for e in c.endpoints}
    assert len(operators) >= 10
    controls = [e for e in c.endpoints if e.role.value == "control"]
    assert len(controls) == 1
    schemes = Counter(e.url.split(":", 1)[0] for e in c.endpoints)
    for scheme in ("udp", "tls", "https", "quic", "eth+https"):
        assert schemes[scheme] >= 2, scheme
    namespaces = {e.namespace for e in c.endpoints}
    assert {"icann", "opennic", "handshake", "ens", "unstoppable"} <= namespaces
    for e in c.endpoints:
        # Every entry says where it comes from and when it was last known to work.
        assert e.options.get("source") and e.options.get("last_known"), e.label
        assert e.rate is not None and e.rate <= 2.0, e.label
        if e.url.startswith("eth+"):
            assert e.rate <= 0.2 and e.options.get("chain_id") in (1, 137, 8453), e.label
    chains = {e.options.get("chain_id") for e in c.endpoints if e.url.startswith("eth+")}
    assert chains == {1, 137, 8453}  # Ethereum, Polygon and Base


def test_shipped_lists_have_source_and_date() -> None:
    for name in ("top-sites.csv", "canaries.txt", "whoami.txt", "quic-anycast.csv"):
        text = (ROOT / "data" / "targets" / name).read_text(encoding="utf-8")
        head = "\n".join(line for line in text.splitlines() if line.startswith("#")).lower()
        assert "source" in head and "2026-11" in head, name
    top = _entries(ROOT / "data" / "targets" / "top-sites.csv")
    assert 300 <= len(top) <= 1000
    assert len({line.split(",")[1] for line in top}) == len(top)  # no duplicate domain


def test_dnssec_sample_is_modest_and_asked_of_every_resolver_too() -> None:
    """dns.iterative runs over a documented sample of 20-50 names, all in top-sites, so
    that dns.query asks each of them and N6 can compare resolvers with its verdicts."""
    targets = ROOT / "data" / "targets"
    text = (targets / "dnssec-sample.txt").read_text(encoding="utf-8")
    head = "\n".join(line for line in text.splitlines() if line.startswith("#")).lower()
    assert "source" in head and "2026-12" in head
    sample = _entries(targets / "dnssec-sample.txt")
    assert 20 <= len(sample) <= 50 and len(set(sample)) == len(sample)
    top = {line.split(",")[1] for line in _entries(targets / "top-sites.csv")}
    assert set(sample) <= top
    c = campaign_mod.load_campaign(CAMPAIGN)
    settings = {p.name: p for p in c.probes}
    iterative = settings["dns.iterative"]
    assert list(iterative.lists or ()) == ["dnssec-sample"]
    assert iterative.config.trust_anchor is None  # the shipped IANA anchors
    assert iterative.config.root_hints is not None
    assert Path(iterative.config.root_hints).name == "named.root"
    assert {"top-sites"} <= set(settings["dns.query"].lists)


def test_dry_run_plans_everything_and_opens_no_socket(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from fragscope.cli import main

    opened: list[tuple[int, int]] = []
    real_socket = socket.socket

    class GuardedSocket(real_socket):  # type: ignore[misc,valid-type]
        def __init__(self, family: int = -1, type: int = -1, *args: object, **kw: object) -> None:
            if family in (socket.AF_INET, socket.AF_INET6, -1):
                opened.append((family, type))
                raise PermissionError("test: no Internet socket may be opened by a dry run")
            super().__init__(family, type, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "socket", GuardedSocket)
    monkeypatch.setenv("FRAGSCOPE_ALLOWED_NETS", "127.0.0.0/8")
    db = tmp_path / "plan.sqlite"
    result = CliRunner().invoke(
        main, ["run", "--campaign", str(CAMPAIGN), "--db", str(db), "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert not db.exists() or db.stat().st_size == 0  # a dry run writes nothing
    assert opened == []

    c = campaign_mod.load_campaign(CAMPAIGN)
    lines = [line.split("\t") for line in result.output.splitlines() if line and line[0] != "#"]
    by_probe = Counter(cols[1] for cols in lines)
    verdicts = Counter(cols[-1] for cols in lines if cols[1] != "dns.iterative")
    assert set(verdicts) == {"blocked_by_policy"}  # nothing would be sent here
    # dns.iterative has no endpoint to judge in advance: each query it sends is checked
    # against the policy then (probes/dns/iterative.py, _Resolution.ask).
    assert {cols[-1] for cols in lines if cols[1] == "dns.iterative"} == {"allowed"}

    targets = ROOT / "data" / "targets"
    n_top = len(_entries(targets / "top-sites.csv"))
    n_canaries = len(_entries(targets / "canaries.txt"))
    n_whoami = len(_entries(targets / "whoami.txt"))
    n_pinned = len(_entries(targets / "quic-anycast.csv"))
    settings = {p.name: p for p in c.probes}
    dns = settings["dns.query"]
    # The OpenNIC discovery endpoint's resolvers are found at run start: the dry run
    # names the API and plans the panel without them (probes/engine/discovered.py).
    discovered = [
        e.label
        for e in c.endpoints
        if e.label in (dns.endpoints or ()) and e.options.get("method") == "discovery"
    ]
    assert discovered == ["opennic-geoip"]
    n_dns_endpoints = len(dns.endpoints or ()) - len(discovered)
    assert n_dns_endpoints >= 25
    canaries = _entries(targets / "canaries.txt")
    # A single-label name is a TLD: asked tld_qtypes (SOA, for N2), not qtypes.
    n_tld_canaries = sum("." not in name.split()[0] for name in canaries)
    n_tlds = len(_entries(targets / "tlds.txt")) + n_tld_canaries
    assert dns.config.tld_qtypes == ("SOA",) and n_tlds >= 40
    expected_dns = (n_top + n_canaries - n_tld_canaries) * n_dns_endpoints * len(dns.config.qtypes)
    expected_dns += n_tlds * n_dns_endpoints * len(dns.config.tld_qtypes)
    expected_dns += n_whoami * n_dns_endpoints  # one whoami query per resolver
    assert by_probe["dns.query"] == expected_dns
    for probe in ("transport.tls", "transport.quic", "transport.quic_vn"):
        assert by_probe[probe] == n_pinned, probe
    n_sample = len(_entries(targets / "dnssec-sample.txt"))
    assert by_probe["dns.iterative"] == n_sample * len(settings["dns.iterative"].config.qtypes)
    naming_targets = {cols[2] for cols in lines if cols[1] == "naming.resolve"}
    for canary in ("vitalik.eth", "brad.crypto", "welcome.nb", "opennic.glue"):
        assert canary in naming_targets
    endpoint_lines = [line for line in result.output.splitlines() if line.startswith("# endpoint")]
    notes = [line for line in endpoint_lines if "resolvers come from discovery" in line]
    assert len(notes) == 1 and notes[0].startswith("# endpoint opennic-geoip (https://api.")
    endpoint_lines = [line for line in endpoint_lines if line not in notes]
    assert len(endpoint_lines) == len({e.url for e in c.endpoints})
    assert all("BLOCKED" in line for line in endpoint_lines)
