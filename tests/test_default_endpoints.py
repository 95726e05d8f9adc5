"""campaigns/default.toml's endpoints: no dead ones, two independent providers per chain,
and the resolver properties the control and N6 rely on. Reads the file; sends nothing."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

from fragscope.probes.base import Endpoint
from fragscope.probes.engine.campaign import load_campaign

DEFAULT = Path(__file__).resolve().parent.parent / "campaigns" / "default.toml"

# Gone from the public Internet (issue 20): polygon-rpc.com ended public access on
# 2026-02-16, eth.llamarpc.com left the public RPC lists on 2026-05-20, and OpenNIC's
# anycast pair was retired in November 2021.
DEAD_HOSTS = {"polygon-rpc.com", "eth.llamarpc.com", "185.121.177.177", "169.239.202.202"}


def endpoints() -> tuple[Endpoint, ...]:
    return load_campaign(DEFAULT).endpoints


def test_no_dead_endpoint_is_left() -> None:
    hosts = {urlsplit(ep.url).hostname for ep in endpoints()}
    assert not hosts & DEAD_HOSTS, hosts & DEAD_HOSTS


def test_every_chain_has_two_independent_providers() -> None:
    providers: dict[tuple[str, int], set[str]] = defaultdict(set)
    for ep in endpoints():
        if ep.options.get("method") in ("eth-rpc", "uns"):
            key = (str(ep.options["method"]), int(ep.options["chain_id"]))
            providers[key].add(str(ep.operator))
    expected = {("eth-rpc", 1), ("uns", 1), ("uns", 137), ("uns", 8453)}
    assert set(providers) == expected, providers
    for key, operators in providers.items():
        assert len(operators) >= 2, (key, operators)


def test_the_control_does_not_filter_and_quad9s_filtering_service_is_a_test() -> None:
    eps = {ep.label: ep for ep in endpoints()}
    controls = [ep for ep in eps.values() if str(ep.role) == "control"]
    assert [ep.label for ep in controls] == ["quad9-unfiltered-doh"]
    control = controls[0]
    assert control.url.startswith("https://9.9.9.10/")
    assert (control.filtering, control.validates_dnssec) == ("none", False)
    for label in ("quad9-do53", "quad9-dot", "quad9-doh"):
        assert eps[label].filtering == "malware" and str(eps[label].role) == "test", label


def test_opennic_is_reached_through_its_geoip_api() -> None:
    eps = {ep.label: ep for ep in endpoints()}
    opennic = [ep for ep in eps.values() if ep.namespace == "opennic"]
    assert [ep.label for ep in opennic] == ["opennic-geoip"]
    ep = opennic[0]
    assert ep.options["method"] == "discovery"
    assert urlsplit(ep.url).hostname == "api.opennicproject.org" and "json" in ep.url
