"""truth.toml loading, its consistency checks, and the text the renderer derives from it.

No servers: these run without root.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import dns.name
import dns.rdatatype
import dns.zone
import pytest
from click.testing import CliRunner

from fragscope.cli import main
from fragscope.lab.dns import render
from fragscope.lab.dns.dnssec import bogus_ds
from fragscope.lab.truth import TruthError, default_path, load

TRUTH = load()


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = default_path().read_text()
    assert old in text, old
    path = tmp_path / "truth.toml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_packaged_truth_loads_and_is_consistent() -> None:
    assert TRUTH.dns.roots["alt"].collides_with_icann == ("test",)
    assert TRUTH.dns.roots["hns"].collides_with_icann == ("lab",)
    assert {z.dnssec for z in TRUTH.dns.zones} >= {"nsec", "nsec3", "knot", "broken", "expired"}
    assert {z.kind for z in TRUTH.dns.zones} == {"served", "lame", "dead"}
    assert TRUTH.dns.resolvers["icann"].doh_url == "https://10.99.53.1/dns-query"
    assert TRUTH.group_closure(["manip"]) == {"manip", "icann"}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('dnssec = "nsec3"', 'dnssec = "rot13"', r"zones\[\d+\] \(example.test.\)\.dnssec"),
        ('address = "10.99.2.1"', 'address = "10.99.2.x"', r"servers.sld.address"),
        ('servers = ["sld"]\ndnssec = "nsec"', 'servers = ["nope"]\ndnssec = "nsec"', "nope"),
        ('["www", "A", "10.99.81.2"]', '["www", "A"]', r"libre.*records\[0\]"),
        ('tlds = ["geek", "libre", "test"]', 'tlds = ["geek", "test"]', r"roots.alt.tlds"),
        ('collides_with_icann = ["lab"]', "collides_with_icann = []", "collides_with_icann"),
        ('onion_answer = "10.99.66.6"', 'onion_answer = "onion"', "policy.onion_answer"),
        (
            "validating = true\nudp = 53\ntcp = 53\ntls",
            "validatin = true\nudp = 53\ntcp = 53\ntls",
            "unknown field.*validatin",
        ),
    ],
)
def test_bad_truth_names_the_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(TruthError, match=message):
        load(_variant(tmp_path, old, new))


def test_unknown_group_is_an_error() -> None:
    with pytest.raises(TruthError, match="unknown group 'nope'"):
        TRUTH.group_closure(["nope"])


def test_cli_bad_truth_exits_2(tmp_path: Path) -> None:
    bad = _variant(tmp_path, 'dnssec = "nsec3"', 'dnssec = "rot13"')
    result = CliRunner().invoke(
        main, ["lab", "status", "--truth", str(bad), "--dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "dnssec" in result.output


def test_cli_lab_help() -> None:
    for cmd in (["lab", "--help"], ["lab", "up", "--help"], ["lab", "status", "--help"]):
        result = CliRunner().invoke(main, cmd)
        assert result.exit_code == 0, result.output
    assert "--only" in CliRunner().invoke(main, ["lab", "up", "--help"]).output


def test_rendered_zones_parse_and_carry_delegations() -> None:
    ds = {("icann", "test."): ["1 13 2 " + "AB" * 32]}
    ds[("icann", "broken.test.")] = [bogus_ds("broken.test.")]
    for z in TRUTH.dns.zones:
        if not z.is_served:
            continue
        text = render.render_zone(TRUTH, z, ds=ds)
        zone = dns.zone.from_text(text, origin=z.name, relativize=False, check_origin=True)
        for child in render.children_of(TRUTH, z):
            node = zone.get_node(child.name)
            assert node is not None and node.get_rdataset(1, dns.rdatatype.NS), child.name
    root = render.render_zone(TRUTH, TRUTH.dns.zone("."), ds=ds)
    assert "test. IN DS 1 13 2" in root and "ns1.nic.test. IN A 10.99.1.1" in root
    tld = render.render_zone(TRUTH, TRUTH.dns.zone("test."), ds=ds)
    assert f"broken.test. IN DS {bogus_ds('broken.test.')}" in tld
    assert "ns1.dead.test. IN A 10.99.2.99" in tld  # glue of the dead server
    assert "lame.test. IN NS ns1.example.test." in tld


def test_rpz_zone_is_generated_from_the_policy() -> None:
    manip = TRUTH.dns.resolvers["manip"]
    assert manip.policy is not None
    text = render.rpz_zone(TRUTH, manip)
    zone = dns.zone.from_text(text, origin="rpz.manip.lab.", relativize=False)
    for name, addr in manip.policy.rewrite.items():
        rel = name.rstrip(".") + ".rpz.manip.lab."
        assert zone.find_rdataset(rel, "A")[0].address == addr
    for name in manip.policy.nxdomain:
        assert zone.find_rdataset(name.rstrip(".") + ".rpz.manip.lab.", "CNAME")[
            0
        ].target.is_absolute()
    for tld in TRUTH.dns.roots["icann"].tlds:
        assert f"*.{tld} IN CNAME rpz-passthru." in text


def test_prerequisites_reported_and_cli_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    import fragscope.lab.commands as commands

    monkeypatch.setattr(commands.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(commands.shutil, "which", lambda name: None if name == "nsd" else name)
    problems = commands.missing_prerequisites()
    assert problems == [
        "must run as root (network namespaces)",
        "missing programs: nsd (see deps/apt.txt)",
    ]
    for cmd in ("up", "status", "down"):
        result = CliRunner().invoke(main, ["lab", cmd, "--dir", "/nonexistent"])
        assert result.exit_code == 2 and "must run as root" in result.output


def test_transit_link_plan_for_part_2() -> None:
    from fragscope.lab.core.guard import in_lab
    from fragscope.lab.core.topology import HOST4, SERVICE_NET4, VANTAGE_NET4, transit_link

    first, second = transit_link(0), transit_link(1)
    assert (first.a4, first.b4, str(first.net4)) == ("10.99.128.1", "10.99.128.2", "10.99.128.0/30")
    assert (second.a4, str(second.net6)) == ("10.99.128.5", "fd99:8000:0:1::/64")
    last = transit_link(VANTAGE_NET4.num_addresses // 4 - 1)
    assert last.net4.subnet_of(VANTAGE_NET4) and not last.net4.overlaps(SERVICE_NET4)
    assert not VANTAGE_NET4.overlaps(ipaddress.ip_network(f"{HOST4}/30", strict=False))
    assert all(in_lab(a) for a in (last.a4, last.b6))
    with pytest.raises(ValueError, match="outside"):
        transit_link(VANTAGE_NET4.num_addresses // 4)


# -- part 2: web hosts and chain -----------------------------------------------------------
def test_web_hosts_generate_their_zone_records() -> None:
    www = TRUTH.web["www"]
    assert TRUTH.dns.expected("www.example.test.", "A", "icann") == ["10.99.80.1"]
    assert TRUTH.dns.expected("www.example.test.", "AAAA", "icann") == ["fd99::80:1"]
    assert TRUTH.dns.expected("www.example.test.", "HTTPS", "icann") == [www.https_rdata()]
    assert TRUTH.dns.expected("v6only.example.test.", "A", "icann") == []
    noudp = TRUTH.dns.expected("noudp.example.test.", "HTTPS", "icann")
    assert noudp == ['1 . alpn="h3,h2" port=443 ipv4hint=10.99.80.8']
    # The rendered zone holds them too (what NSD serves).
    text = render.render_zone(TRUTH, TRUTH.dns.zone("example.test."), ds={})
    assert "caddy" in text and "fd99::80:7" in text


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('kind = "caddy"', 'kind = "nginx"', r"web.caddy.kind"),
        ('address = "10.99.80.12"', 'address = "fd99::80:12"', r"web.hostile.address.*IPv4"),
        ('vn_versions = ["v1", "v2"]', 'vn_versions = ["v9"]', r"web.www.vn_versions"),
        ('name = "hostile.example.test."', 'name = "hostile.nowhere."', r"web.hostile.name"),
        ('name = "tcponly.example.test."', 'name = "mail.example.test."', r"web.tcponly"),
        ('rpc_address = "10.99.90.1"', 'rpc_address = "ganache"', r"chain.rpc_address"),
        ('address = "10.99.90.4"', 'address = "stale.lab"', r"chain.bridges\[1\].address"),
        (
            'stale = { "alice.eth" = "/ipfs/',
            'stale = { "alice.eth" = "ipfs://',
            r"bridges\[1\].stale",
        ),
        ("asn = 64690", 'asn = "AS64690"', r"web.news.asn.*not an AS number"),
        ("egress_asn = 64656", "egress_asn = 0", r"resolvers.manip.egress_asn"),
    ],
)
def test_bad_part2_truth_names_the_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(TruthError, match=message):
        load(_variant(tmp_path, old, new))


# -- issue 19: the planted ASes agree with the lab's IP-to-ASN mapping ----------------------
def test_planted_ases_are_the_lab_mappings() -> None:
    """Every AS the truth plants (a resolver's egress, a web host) is what the lab's
    mapping (analysis/data/lab-*.ipasn, which `indicators compute` uses in the lab) gives
    its addresses; and there are at least two of each, so N7 and T7 can leave 1."""
    from fragscope.analysis import asn

    mapping = asn.load_lab()
    egress = {r.key: r.egress_asn for r in TRUTH.dns.resolvers.values() if r.egress_asn}
    for key, planted in egress.items():
        assert mapping.lookup(TRUTH.dns.resolvers[key].egress or "") == planted, key
    web = {h.key: h.asn for h in TRUTH.web.values() if h.asn}
    for key, planted in web.items():
        assert {mapping.lookup(a) for a in TRUTH.web[key].addresses} == {planted}, key
    assert len(set(egress.values())) >= 2 and len(set(web.values())) >= 2, (egress, web)
    # The vantages' own resolvers (censored: manip; the rest: icann) egress from different ASes.
    own = {str(v.resolver) for v in TRUTH.vantages.values()}
    by_address = {r.address: r for r in TRUTH.dns.resolvers.values()}
    assert len({by_address[a].egress_asn for a in own}) >= 2


@pytest.mark.parametrize("rule", ["nxdomain", "rewrite"])
def test_an_rpz_rule_for_a_delegated_tld_is_its_owners_only_rule(rule: str) -> None:
    # The perturbation harness (tests/analysis/lab_perturbations.py) plants NXDOMAIN for
    # the TLD lab.: the pass-through of a delegated TLD must not become a second CNAME at
    # the same owner (a CNAME owns its name alone, RFC 1034 section 3.6.2).
    manip = TRUTH.dns.resolvers["manip"]
    assert manip.policy is not None
    if rule == "nxdomain":
        policy = dataclasses.replace(manip.policy, nxdomain=(*manip.policy.nxdomain, "lab."))
    else:
        policy = dataclasses.replace(
            manip.policy, rewrite={**manip.policy.rewrite, "lab.": "10.99.66.9"}
        )
    text = render.rpz_zone(TRUTH, dataclasses.replace(manip, policy=policy))
    zone = dns.zone.from_text(text, origin="rpz.manip.lab.", relativize=False)
    node = zone.get_node("lab.rpz.manip.lab.")
    assert node is not None and len(node.rdatasets) == 1, text
    want = dns.rdatatype.CNAME if rule == "nxdomain" else dns.rdatatype.A
    assert node.rdatasets[0].rdtype == want
    assert "\nlab IN CNAME rpz-passthru." not in text, text  # one rule at the owner
    assert "*.lab IN CNAME rpz-passthru." in text  # names below it still pass through
