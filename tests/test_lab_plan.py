"""The lab's plan (lab/plan.py): one campaign per vantage, valid, retrying, and complete.

Issue 19 finding 6: the demo's campaigns (then campaigns/lab*.toml) lacked dns.iterative,
whoami, the TLDs' SOA, canaries, the path probe, the Retry host and the chain, so the demo
withheld N2, N6, N7, N8 and O1 at every vantage. The demo now runs the plan the lab
indicator tests run; here each vantage's rendered campaign is loaded by the real campaign
loader (against stand-in files where a running lab would keep its CA, root hints and
trust anchor) and checked for what the indicators need. No lab is started.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fragscope.lab import plan
from fragscope.lab import truth as lab_truth
from fragscope.lab.demo import Demo
from fragscope.lab.vantages.model import Kind
from fragscope.lab.world import Lab
from fragscope.probes.engine.campaign import load_campaign
from fragscope.probes.engine.targets import read_targets, validate
from tests.analysis import lab_expectations as expect


@pytest.fixture
def lab_dir(tmp_path: Path) -> Lab:
    """A Lab object over a run directory holding stand-ins for the files a campaign names."""
    lab = Lab(tmp_path / "lab-run")
    for path in (lab.ca_file, lab.paths.conf / "icann.hints", lab.paths.root_anchor):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("stand-in\n")
    return lab


def test_the_demo_runs_the_plan_at_every_lab_vantage() -> None:
    # The dpi vantages join the round too (issue 21): every vantage of the truth.
    vantages = lab_truth.load().vantages
    assert set(plan.VANTAGES) == set(vantages)
    assert Demo(workdir=Path("unused"), report=Path("unused.html")).vantages == plan.VANTAGES
    # Every vantage but dpi-residual (its censor's draw is over kernel-chosen ports) is
    # exactly derivable, the dpi-inline one included.
    dpi = {n for n, v in vantages.items() if v.kind is Kind.DPI}
    assert set(vantages) - set(plan.EXACT_VANTAGES) == {"dpi-residual"} and dpi - {"dpi-residual"}


@pytest.mark.parametrize("vantage", plan.VANTAGES)
def test_every_vantage_campaign_loads_retries_and_asks_what_the_indicators_need(
    lab_dir: Lab, tmp_path: Path, vantage: str
) -> None:
    p = plan.make_plan(lab_dir.truth)
    targets = tmp_path / "plan"
    targets.mkdir()
    plan.write_targets(p, targets)
    toml = targets / f"{vantage}.toml"
    toml.write_text(plan.campaign_text(lab_dir, vantage, targets, "r1"), encoding="utf-8")
    c = load_campaign(toml)
    for source in c.targets:
        validate(source)
    assert c.vantage == vantage and c.round == "r1"
    # Issue 19: a failure counts only when all k >= 3 attempts failed.
    assert c.limits.retries >= 2
    probes = {s.name: s for s in c.probes}
    expected = {"dns.query", "dns.iterative", "transport.tls", "transport.quic"}
    expected |= {"transport.quic_vn", "naming.resolve", "path.udp443"}  # O1 at every vantage
    expected |= {"transport.sni"}  # T10 at every vantage (issue 21)
    expected |= {"transport.ech"}  # T11, T12 at every vantage (issue 21)
    assert set(probes) == expected
    # transport.ech asks the vantage's own resolver for the HTTPS records (adoption as
    # seen from there) and tries each step more than once (the loss rule).
    ech = probes["transport.ech"].config
    assert ech.resolver == str(lab_truth.load().vantages[vantage].resolver)
    assert ech.tries >= 2
    roles = {e.role.value for e in c.endpoints if e.label in ("own", "control")}
    assert roles == {"test", "control"}  # the vantage's resolver against the control
    names = {e.name.rstrip(".") for s in c.targets for e in read_targets(s)}
    assert plan.WHOAMI.rstrip(".") in names  # N7's whoami
    assert {n.rstrip(".") for n in plan.CANARIES} <= names  # N8: >= 3 canaries
    assert {n.rstrip(".") for n in p.tlds} <= names  # N2: the TLDs' SOA
    assert "retry.example.test" in names  # the Retry host
    control = {s.list_name: s for s in c.targets}["path-control"]
    assert control.role.value == "control"
    assert [(e.name, e.address) for e in read_targets(control)] == [p.path_control]
    # T10's SNI tests: the IPv6 addresses; those of the names a censor blocks are pinned by
    # no other probe of the run (a residual block stays on its own 3-tuples).
    sni = {s.list_name: s for s in c.targets}["sni"]
    assert [(e.name, e.address) for e in read_targets(sni)] == list(p.sni_pins)
    blocked = {n for v in lab_dir.truth.vantages.values() if v.dpi for n in v.dpi.blocked_sni}
    assert blocked <= {n for n, _ in p.sni_pins}
    assert not {a for n, a in p.sni_pins if n in blocked} & {a for _, a in p.pins}
    assert probes["transport.sni"].deadline is not None


def test_the_path_control_is_a_host_no_vantage_touches() -> None:
    t = lab_truth.load()
    name, address = plan.path_control(t)
    touched = {str(b.address) for v in t.vantages.values() for b in v.blocks}
    assert address not in touched and (name, address) in plan.make_plan(t).pins


def test_the_plan_asks_every_planted_chain_name_the_expectations_know() -> None:
    facts = plan.chain_facts(lab_truth.load())
    assert plan.planted_chain_names(facts) == set(expect.chain_outcomes(facts))
