"""Canary sets: deterministic per run, distinct across runs, valid names, every set present."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from fragscope.probes.dns.canaries import ICANN_TLD_SAMPLE, OPENNIC_TLDS, CanaryConfig, canaries
from fragscope.probes.dns.names import normalize


def test_sets_and_expectations() -> None:
    run = str(uuid.uuid4())
    got = canaries(run)
    lists = {c.list_name for c in got}
    assert lists == {
        "random_sld",
        "random_tld",
        "dnssec_broken",
        "dnssec_signed",
        "special_use",
        "tld",
    }
    assert all(c.role == "canary" for c in got)
    sld = [c for c in got if c.list_name == "random_sld"]
    assert len(sld) == len(ICANN_TLD_SAMPLE) and all(c.expect == "nxdomain" for c in sld)
    assert {c.name.rsplit(".", 1)[1] for c in sld} == set(ICANN_TLD_SAMPLE)
    special = {c.name.rsplit(".", 1)[1] for c in got if c.list_name == "special_use"}
    assert special == {"onion", "invalid", "test", "alt"}
    onion = next(c for c in got if c.name.endswith(".onion"))
    assert len(onion.name.split(".")[0]) == 56
    tlds = [c for c in got if c.list_name == "tld"]
    assert {c.namespace for c in tlds} == {"icann", "opennic"}
    assert {c.name for c in tlds if c.namespace == "opennic"} == set(OPENNIC_TLDS)
    random_tlds = [c.name for c in got if c.list_name == "random_tld"]
    assert len(random_tlds) == 5 and not set(random_tlds) & (
        set(ICANN_TLD_SAMPLE) | set(OPENNIC_TLDS)
    )


@given(st.uuids())
@settings(max_examples=25, deadline=None)
def test_reproducible_per_run_and_valid(run: uuid.UUID) -> None:
    a = canaries(str(run))
    assert a == canaries(str(run))
    assert all(normalize(c.name).ascii == c.name.lower() + "." for c in a)
    other = canaries(str(uuid.UUID(int=(run.int + 1) % 2**128)))
    random_a = {c.name for c in a if c.list_name.startswith("random")}
    random_b = {c.name for c in other if c.list_name.startswith("random")}
    assert not random_a & random_b


def test_configurable_lab_names() -> None:
    cfg = CanaryConfig(
        tlds=("test", "lab"),
        alt_tlds={},
        broken=("www.broken.test", "www.expired.test"),
        signed=("www.example.test", "example.test"),
        per_tld=3,
    )
    got = canaries(str(uuid.uuid4()), cfg)
    assert [c.name for c in got if c.list_name == "dnssec_broken"] == list(cfg.broken)
    assert len([c for c in got if c.list_name == "random_sld"]) == 6
