"""The vantage model, layouts, rendered nftables rules and command plans (no namespaces
needed, except that nft's own parser checks the rendered rules in a throwaway one)."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess

import pytest

from fragscope.lab.core import topology
from fragscope.lab.vantages import LAB_SUBNETS, lab_exec_argv, lab_layout, model, nft, plan
from fragscope.lab.vantages.layout import make_layout
from fragscope.lab.vantages.model import Action, Kind, Loss, VantageError, vantage_from_mapping

LAYOUT = make_layout("distant", upstream_ns="fsv-up", subnet="10.99.243.0/24", prefix="fsv-")


def test_presets() -> None:
    c = model.censored(drop=["10.99.240.10"], reject=["fd99:240::11"], resolver="10.99.53.66")
    assert [(str(b.address), b.action, b.protocol.value, b.port) for b in c.blocks] == [
        ("10.99.240.10", Action.DROP, "udp", 443),
        ("fd99:240::11", Action.REJECT_ADMIN, "udp", 443),
    ]
    assert str(c.resolver) == "10.99.53.66"
    assert model.lossy().loss == Loss(drop=3, every=10)
    assert model.distant().delay_ms == 150
    assert not model.clean().needs_middlebox
    assert all(v.needs_middlebox for v in (c, model.lossy(), model.distant()))


def test_from_mapping_round_trip() -> None:
    v = vantage_from_mapping(
        "censored",
        {"resolver": "10.99.53.66", "drop": ["10.99.80.1"], "reject": ["10.99.80.2"],
         "reject_with": "reject-port-unreachable"},
    )  # fmt: skip
    assert v.kind is Kind.CENSORED
    assert [b.action for b in v.blocks] == [Action.DROP, Action.REJECT_PORT]
    assert vantage_from_mapping("far", {"kind": "distant", "delay_ms": 80}).delay_ms == 80
    assert vantage_from_mapping("lossy", {"drop": 1, "every": 4}).loss == Loss(1, 4)
    assert vantage_from_mapping("clean", {}).kind is Kind.CLEAN
    also = vantage_from_mapping("censored", {"also_resolvers": ["10.99.53.1", "fd99::53:1"]})
    assert [str(a) for a in also.also_resolvers] == ["10.99.53.1", "fd99::53:1"]


@pytest.mark.parametrize(
    ("name", "data", "field"),
    [
        ("x", {"kind": "tunnel"}, "'kind'"),
        ("censored", {"drop": ["not-an-ip"]}, "'drop'"),
        ("censored", {"drop": "10.99.80.1"}, "'drop'"),
        ("censored", {"reject_with": "drop"}, "'reject_with'"),
        ("censored", {"port": 70000}, "'port'"),
        ("censored", {"resolver": "nope"}, "'resolver'"),
        ("censored", {"also_resolvers": ["nope"]}, "'also_resolvers'"),
        ("censored", {"also_resolvers": "10.99.53.1"}, "'also_resolvers'"),
        ("lossy", {"also_resolvers": ["10.99.53.1"]}, "'also_resolvers'"),
        ("distant", {"delay_ms": -1}, "'delay_ms'"),
        ("distant", {"delay_ms": "150"}, "'delay_ms'"),
        ("distant", {"dealy_ms": 150}, "'dealy_ms'"),
        ("lossy", {"drop": 10, "every": 10}, "'loss'"),
        ("clean", {"delay_ms": 5}, "'delay_ms'"),
        ("Bad_Name", {"kind": "lossy"}, "'name'"),
        ("muchtoolongname", {"kind": "lossy"}, "'name'"),
    ],
)
def test_bad_input_names_the_field(name: str, data: dict[str, object], field: str) -> None:
    with pytest.raises(VantageError) as err:
        vantage_from_mapping(name, data)
    assert field in str(err.value)
    assert repr(name) in str(err.value)


def test_layout_splits_the_subnet() -> None:
    v4 = LAYOUT.v4
    assert (str(v4.lan), str(v4.transit)) == ("10.99.243.0/25", "10.99.243.128/25")
    assert (str(v4.client), str(v4.mbox_lan)) == ("10.99.243.1", "10.99.243.2")
    assert (str(v4.mbox_transit), str(v4.upstream)) == ("10.99.243.129", "10.99.243.130")
    assert LAYOUT.namespaces == ("fsv-v-distant", "fsv-m-distant")
    assert LAYOUT.upstream_if == "vu-distant"
    named = make_layout(
        "d", upstream_ns="u", subnet="10.99.243.0/29", upstream_address="10.99.243.5"
    )
    assert (str(named.v4.upstream), str(named.v4.mbox_transit)) == ("10.99.243.5", "10.99.243.6")
    explicit = make_layout(
        "d", upstream_ns="up", subnet="10.99.243.0/29", client_ns="c1", mbox_ns="m1"
    )
    assert explicit.namespaces == ("c1", "m1")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subnet": "10.99.243.0/30"}, "smaller than a /29"),
        ({"subnet": "10.99.243.0/24", "upstream_address": "10.99.243.5"}, "'upstream_address'"),
        ({"subnet": "10.99.243.1/24"}, "has host bits set"),
        ({"subnet": "10.99.243.0/24", "subnet6": "fd99::/127"}, "smaller than a /125"),
        ({"subnet": "10.99.243.0/29", "client_ns": "../etc"}, "'client_ns'"),
    ],
)
def test_bad_layout(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(VantageError, match=message):
        make_layout("d", upstream_ns="u", **kwargs)


def test_lab_subnets_are_disjoint_and_outside_the_test_block() -> None:
    nets = [ipaddress.ip_network(v4) for v4, _ in LAB_SUBNETS.values()]
    nets6 = [ipaddress.ip_network(v6) for _, v6 in LAB_SUBNETS.values()]
    assert all(n.subnet_of(topology.VANTAGE_NET4) for n in nets)
    assert all(n.subnet_of(topology.VANTAGE_NET6) for n in nets6)
    for group in (nets, nets6):
        assert not any(a.overlaps(b) for i, a in enumerate(group) for b in group[i + 1 :])
    assert not any(n.overlaps(ipaddress.ip_network("10.99.240.0/20")) for n in nets)
    with pytest.raises(VantageError, match="no lab subnet"):
        lab_layout("clean", upstream_ns="fs-net")


@pytest.mark.parametrize(("i", "name"), list(enumerate(LAB_SUBNETS)))
def test_lab_layout_is_the_labs_transit_link_plan(i: int, name: str) -> None:
    # lab.core.topology.transit_link: vantage i uses links 2i (client<->middlebox) and 2i+1
    # (middlebox<->fs-net); side a, nearer the client, takes the first address.
    layout = lab_layout(name)
    assert (layout.client_ns, layout.mbox_ns, layout.upstream_ns) == (
        f"fs-v-{name}", f"fs-m-{name}", topology.NAMESPACE
    )  # fmt: skip
    lan, transit = topology.transit_link(2 * i), topology.transit_link(2 * i + 1)
    assert layout.v6 is not None
    got = [
        (layout.v4.lan, str(layout.v4.client), str(layout.v4.mbox_lan)),
        (layout.v4.transit, str(layout.v4.mbox_transit), str(layout.v4.upstream)),
        (layout.v6.lan, str(layout.v6.client), str(layout.v6.mbox_lan)),
        (layout.v6.transit, str(layout.v6.mbox_transit), str(layout.v6.upstream)),
    ]
    assert got == [
        (lan.net4, lan.a4, lan.b4),
        (transit.net4, transit.a4, transit.b4),
        (lan.net6, lan.a6, lan.b6),
        (transit.net6, transit.a6, transit.b6),
    ]


def test_rendered_rules() -> None:
    v = model.censored(
        drop=["10.99.240.10"], reject=["fd99:240::11"], reject_with=Action.REJECT_PORT
    )
    assert nft.rules(v) == [
        'iifname "vm-c" ip daddr 10.99.240.10 udp dport 443 counter drop comment "drop udp/443"',
        'iifname "vm-c" ip6 daddr fd99:240::11 udp dport 443 counter reject with icmpx type '
        'port-unreachable comment "reject-port-unreachable udp/443"',
    ]
    assert nft.rules(model.lossy()) == [
        'iifname "vm-c" numgen inc mod 10 < 3 counter drop comment "lossy: 3 of every 10"'
    ]
    assert nft.rules(model.distant()) == []


def test_rendered_tcp_interference_rules() -> None:
    # TCP/443 reset (T9's TCP-side censorship) and ECN-setup SYNs dropped (O1's ossified
    # path): both TCP only; the ECN rule matches SYN+ECE+CWR without ACK (RFC 3168
    # section 6.1.1), so the plain SYN passes.
    v = model.censored(
        drop=[], reject=[], tcp_reset=["10.99.240.12"], drop_ecn_setup=["fd99:240::13"]
    )
    assert nft.rules(v) == [
        'iifname "vm-c" ip daddr 10.99.240.12 tcp dport 443 counter reject with tcp reset '
        'comment "reset tcp/443"',
        'iifname "vm-c" ip6 daddr fd99:240::13 tcp dport 443 tcp flags & (syn | ack | ecn | '
        'cwr) == syn | ecn | cwr counter drop comment "drop-ecn-setup tcp/443"',
    ]
    with pytest.raises(VantageError, match="'reset' is TCP only"):
        model.Vantage("x", Kind.CENSORED, blocks=(model.Block(v.blocks[0].address, Action.RESET),))


@pytest.mark.skipif(shutil.which("unshare") is None or shutil.which("nft") is None,
                    reason="needs unshare (util-linux) and nft (nftables)")  # fmt: skip
@pytest.mark.parametrize(
    "vantage",
    [
        model.censored(drop=["10.99.240.10", "fd99:240::10"], reject=["10.99.240.11"]),
        model.censored(drop=[], reject=["10.99.240.11"], reject_with=Action.REJECT_PORT),
        model.lossy(drop=7, every=100),
        model.censored(
            drop=[], reject=[], tcp_reset=["10.99.240.12"], drop_ecn_setup=["fd99:240::13"]
        ),
    ],
    ids=["censored", "censored-port", "lossy", "censored-tcp"],
)
def test_nft_accepts_the_rendered_ruleset(vantage: model.Vantage) -> None:
    # `nft -c` parses and validates against the kernel without committing; unshare -n
    # gives it a throwaway network namespace, so nothing on the host is touched.
    import os

    if os.geteuid() != 0:
        pytest.skip("nft -c needs root (CAP_NET_ADMIN)")
    done = subprocess.run(
        ["unshare", "-n", "nft", "-c", "-f", "-"],
        input=nft.render(vantage), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def _ip_targets(argv: tuple[str, ...]) -> str:
    """Which namespace an `ip` command acts in (or 'host')."""
    if argv[:3] == ("ip", "netns", "exec"):
        return argv[3]
    if argv[:2] == ("ip", "-n"):
        return argv[2]
    if argv[:3] in (("ip", "netns", "add"), ("ip", "netns", "del")):
        return argv[3]
    if argv[:3] == ("ip", "link", "add"):
        # both ends must be created inside namespaces
        assert argv.count("netns") == 2, argv
        return argv[argv.index("netns") + 1]
    return "host"


@pytest.mark.parametrize("vantage", [model.censored(drop=["10.99.240.10"], reject=[]),
                                     model.lossy(), model.distant()], ids=str)  # fmt: skip
def test_plan_never_touches_the_host(vantage: model.Vantage) -> None:
    layout = make_layout(
        vantage.name, upstream_ns="fsv-up", subnet="10.99.241.0/24",
        subnet6="fd99:241::/64", prefix="fsv-",
    )  # fmt: skip
    cmds = plan.build_commands(vantage, layout) + plan.teardown_commands(layout)
    allowed = {"fsv-up", *layout.namespaces}
    for cmd in cmds:
        assert cmd.argv[0] == "ip"
        assert _ip_targets(cmd.argv) in allowed, cmd.argv
    has_nft = any("nft" in c.argv for c in cmds)
    has_tun = any("tuntap" in c.argv for c in cmds)
    assert has_nft == (vantage.kind is not Kind.DISTANT)
    assert has_tun == (vantage.kind is Kind.DISTANT)


def test_distant_plan_routes_both_directions_into_the_tun() -> None:
    cmds = [c.argv for c in plan.build_commands(model.distant(), LAYOUT)]
    rules = [a for a in cmds if "rule" in a]
    assert [a[a.index("iif") + 1] for a in rules] == ["vm-c", "vm-u"]
    assert ("ip", "-n", "fsv-m-distant", "-4", "route", "add", "default", "dev", "dly0",
            "table", "100") in cmds  # fmt: skip
    assert plan.relay_argv(LAYOUT, 150, python="py") == [
        "ip", "netns", "exec", "fsv-m-distant", "py", "-m", "fragscope.lab.vantages.delay",
        "--dev", "dly0", "--delay-ms", "150", "--max-queue", str(plan.DEFAULT_MAX_QUEUE),
    ]  # fmt: skip


def test_exec_argv() -> None:
    assert plan.exec_argv(LAYOUT, ["dig", "x"]) == [
        "ip",
        "netns",
        "exec",
        "fsv-v-distant",
        "dig",
        "x",
    ]
    assert plan.exec_argv(None, ["dig", "x"]) == ["dig", "x"]
    with pytest.raises(ValueError, match="no command"):
        plan.exec_argv(LAYOUT, [])


def test_lab_exec_argv() -> None:
    assert lab_exec_argv("clean", ["dig", "x"]) == ["dig", "x"]
    # The alternative-root vantage is the host with another resolver: no namespace.
    assert lab_exec_argv("altroot", ["dig", "x"]) == ["dig", "x"]
    assert lab_exec_argv("censored", ["fragscope", "run"]) == [
        "ip", "netns", "exec", "fs-v-censored", "fragscope", "run"
    ]  # fmt: skip
    with pytest.raises(VantageError, match="'moon': unknown; known: clean, altroot, censored"):
        lab_exec_argv("moon", ["dig"])
