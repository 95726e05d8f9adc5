"""The lab's structure: one truth schema with a section per component, one TruthError, one
address guard, and lab.world's services coming from its component list. No lab needed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fragscope.lab.chain.health import GatewayCheck, RpcCheck
from fragscope.lab.chain.schema import load_plan
from fragscope.lab.core.guard import NotALabAddress, in_lab, require_lab_address
from fragscope.lab.core.health import Target
from fragscope.lab.core.topology import Topology, TopologyError
from fragscope.lab.dns.doq import parse_upstream
from fragscope.lab.dns.health import DnsCheck
from fragscope.lab.truth import TruthError, default_path, load
from fragscope.lab.vantages import facts
from fragscope.lab.web.health import QuicCheck, TlsHttpCheck
from fragscope.lab.world import COMPONENTS, Lab

OUTSIDE = ["127.0.0.1", "::1", "192.0.2.1", "2001:db8::1", "10.98.0.1"]


def test_one_truth_has_a_section_per_component() -> None:
    truth = load()
    assert [c.name for c in COMPONENTS] == ["dns", "web", "chain", "vantages"]
    assert truth.dns.resolvers["icann"].validating
    assert truth.web["www"].name == "www.example.test."
    assert truth.chain is not None and truth.chain.plan == load_plan(truth.chain.facts_path)
    assert truth.vantages == facts.load()


def test_a_copied_truth_file_finds_its_component_files(tmp_path: Path) -> None:
    """Next to the copy first, else the packaged ones: a copy may bring its own vantages."""
    copy = tmp_path / "truth.toml"
    shutil.copy(default_path(), copy)
    assert load(copy).vantages == facts.load()
    mine = tmp_path / "vantages" / "truth.toml"
    mine.parent.mkdir()
    mine.write_text("[vantages.clean]\nkind = 'clean'\nresolver = '10.99.53.1'\n")
    assert list(load(copy).vantages) == ["clean"]


@pytest.mark.parametrize("section", ["chain", "vantages"])
def test_every_section_raises_the_one_truth_error(tmp_path: Path, section: str) -> None:
    copy = tmp_path / "truth.toml"
    shutil.copy(default_path(), copy)
    (tmp_path / section).mkdir()
    (tmp_path / section / "truth.toml").write_text("[chain]\nchain_id = 'x'\n")
    with pytest.raises(TruthError):
        load(copy)


@pytest.mark.parametrize("address", OUTSIDE)
def test_the_guard_refuses_everything_but_the_lab_ranges(address: str) -> None:
    assert not in_lab(address)
    with pytest.raises(NotALabAddress, match="not a lab address"):
        require_lab_address(address)


@pytest.mark.parametrize("address", ["10.99.0.1", "10.99.255.1", "fd99::53:1", "fd99:8000::1"])
def test_the_guard_passes_the_lab_ranges(address: str) -> None:
    assert require_lab_address(address) == address


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_every_health_check_refuses_loopback(address: str) -> None:
    """The DNS check once let 127.* through while the others did not: one rule now."""
    target = Target(address, 53, "udp", timeout=0.2)
    result = DnsCheck("example.test.").run(target)
    assert not result.ok and "not a lab address" in result.detail
    for check in (TlsHttpCheck("www.example.test"), QuicCheck("www.example.test")):
        with pytest.raises(NotALabAddress):
            check.run(target)
    for check in (RpcCheck(1337), GatewayCheck()):
        with pytest.raises(NotALabAddress):
            check.run(target)


def test_doq_upstream_and_topology_use_the_same_guard() -> None:
    assert parse_upstream("10.99.53.1:53") == ("10.99.53.1", 53)
    with pytest.raises(SystemExit, match="not a lab address"):
        parse_upstream("127.0.0.1:53")
    with pytest.raises(TopologyError, match="outside the lab networks"):
        Topology(("127.0.0.1",)).up()  # refused before any `ip` command runs


def test_the_lab_services_are_its_components_services(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    per_component = [[s.name for s in c.services(lab.site)] for c in lab.components]
    assert [name for names in per_component for name in names] == [s.name for s in lab.services]
    web, chain, vantages = per_component[1:]
    assert {s.removeprefix("web-") for s in web} == set(lab.truth.web)
    assert lab.truth.chain is not None
    bridges = [b.name for b in lab.truth.chain.bridges]
    assert chain == ["ganache", "ccip-gateway", *bridges] and vantages == []
    assert bridges == ["bridge-faithful", "bridge-stale"]
    assert "unbound-icann" in per_component[0] and "doq" in per_component[0]
