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
    assert set(vantages) == {"clean", "censored", "lossy", "distant"}
    assert str(vantages["censored"].resolver) == lab.dns.resolvers["manip"].address
    for name in ("clean", "lossy", "distant"):
        assert str(vantages[name].resolver) == lab.dns.resolvers["icann"].address
    planted = _planted_addresses()
    blocks = {str(b.address): b.action for b in vantages["censored"].blocks}
    assert {planted[a] for a, act in blocks.items() if act is Action.DROP} == {"www.example.test."}
    assert {planted[a] for a, act in blocks.items() if act is not Action.DROP} == {
        "blocked.example.test."
    }
    assert vantages["distant"].delay_ms == 150
    assert vantages["lossy"].loss is not None and vantages["lossy"].kind is Kind.LOSSY


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[vantages.far]\nkind = 'distant'\n", "'far' has no lab subnet"),
        ("[vantages.censored]\ndrop = ['x']\n", "field 'drop'"),
        ("vantages = 3\n", "no [vantages.NAME] tables"),
        ("[vantages\n", "Expected"),
    ],
)
def test_bad_facts_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "truth.toml"
    path.write_text(text)
    with pytest.raises(VantageError, match=message.replace("[", r"\[")):
        facts.load(path)
