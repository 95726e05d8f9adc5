"""lab/vantages/truth.toml against lab/truth.toml: the vantages' planted facts name real
resolvers and real hosts of the lab."""

from __future__ import annotations

from pathlib import Path

import pytest

from fragscope.lab import truth as lab_truth
from fragscope.lab.vantages import facts
from fragscope.lab.vantages.model import Action, Kind, VantageError


def _planted_addresses() -> dict[str, str]:
    """address -> owner name, over every A/AAAA record of the ICANN-like view."""
    out = {}
    for zone in lab_truth.load().dns.zones:
        for owner, rtype, rdata in zone.records:
            if rtype in ("A", "AAAA") and zone.view == "icann":
                name = zone.name if owner == "@" else f"{owner}.{zone.name}"
                out[rdata] = name
    return out


def test_vantage_facts_name_the_labs_resolvers_and_hosts() -> None:
    lab = lab_truth.load()
    vantages = lab.vantages
    assert set(vantages) == {
        "clean", "censored", "lossy", "distant", "altroot", "dpi-inline", "dpi-residual"
    }  # fmt: skip
    assert str(vantages["censored"].resolver) == lab.dns.resolvers["manip"].address
    for name in ("clean", "lossy", "distant"):
        assert str(vantages[name].resolver) == lab.dns.resolvers["icann"].address
    # The alternative-root vantage: the host, asking the resolver that iterates the
    # OpenNIC-like root.
    assert vantages["altroot"].kind is Kind.CLEAN
    assert str(vantages["altroot"].resolver) == lab.dns.resolver_for_view("alt").address
    planted = _planted_addresses()
    by_action: dict[Action, set[str]] = {}
    for b in vantages["censored"].blocks:
        by_action.setdefault(b.action, set()).add(planted[str(b.address)])
    assert by_action == {
        Action.DROP: {"www.example.test."},
        Action.REJECT_ADMIN: {"blocked.example.test."},
        Action.RESET: {"news.example.test."},
        Action.DROP_ECN_SETUP: {"tcponly.example.test."},
    }
    assert vantages["distant"].delay_ms == 150
    assert vantages["lossy"].loss is not None and vantages["lossy"].kind is Kind.LOSSY


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[vantages.far]\nkind = 'distant'\n", "'far' has no lab subnet"),
        ("[vantages.home]\nkind = 'clean'\n", "'home' of kind clean is not a host vantage"),
        ("[vantages.censored]\ndrop = ['x']\n", "field 'drop'"),
        ("[vantages.censored]\ntcp_reset = ['x']\n", "field 'tcp_reset'"),
        ("[vantages.censored]\ndrop_ecn_setup = 3\n", "field 'drop_ecn_setup'"),
        ("[vantages.censored]\nreject_with = 'reset'\n", "field 'reject_with'"),
        ("vantages = 3\n", "no [vantages.NAME] tables"),
        ("[vantages\n", "Expected"),
    ],
)
def test_bad_facts_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "truth.toml"
    path.write_text(text)
    with pytest.raises(VantageError, match=message.replace("[", r"\[")):
        facts.load(path)
