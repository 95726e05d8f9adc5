"""naming.resolve's dns method on the lab's DNS world (lab/truth.toml, real Unbound
resolvers over NSD/Knot roots): the alternative and Handshake-like roots' TLDs, the
colliding TLDs answered differently by the ICANN-view and the alternative-view resolvers
(stored, then classified by the ambiguity analysis), every transport of the ICANN-like
resolver (Do53 UDP/TCP, DoT, DoH, DoQ), and the manipulating resolver answering for
.onion. Expectations come from the truth file."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Engine

from fragscope.lab.truth import Resolver, Truth, load
from fragscope.lab.world import Lab
from fragscope.probes.base import Endpoint, Observation, Task
from fragscope.probes.naming.ambiguity import ambiguity
from fragscope.probes.naming.probe import NamingConfig, NamingProbe
from fragscope.probes.naming.store import store
from fragscope.probes.safety import NetworkPolicy

pytestmark = pytest.mark.lab
TRUTH: Truth = load()
ICANN = TRUTH.dns.resolvers["icann"]
NAMESPACE_OF_VIEW = {"icann": "icann", "alt": "opennic", "hns": "handshake"}


def resolve(lab: Lab, name: str, url: str, *, namespace: str, **options: Any) -> Observation:
    probe = NamingProbe(NamingConfig(timeout_s=5.0), policy=NetworkPolicy.from_env())
    opts = {
        "method": "dns",
        "ca_file": str(lab.ca_file),
        "server_hostname": TRUTH.tls_hostname,
        "qtypes": ["A"],
        **options,
    }
    ep = Endpoint(url=url, operator="lab", namespace=namespace, options=opts)
    task = Task(
        key=f"{name}|{url}",
        probe=probe.name,
        target=name,
        endpoint=ep,
        params={"namespace": namespace},
    )
    return asyncio.run(probe.measure(task))


def a_answers(obs: Observation) -> set[str]:
    return {v["value"] for _t, v in obs.children if v["kind"] == "a"}


def udp(r: Resolver) -> str:
    return f"udp://{r.address}:{r.udp}"


def a_names(view: str) -> list[str]:
    """Every name with an A record in a view's served zones, from the truth file."""
    return sorted(
        {
            z.fqdn(owner).rstrip(".")
            for z in TRUTH.dns.zones_in(view)
            if z.is_served
            for owner, rdtype, _rdata in z.records
            if rdtype.upper() == "A"
        }
    )


@pytest.mark.parametrize("view", ["alt", "hns"])
def test_alternative_roots_resolve_their_tlds(lab: Lab, view: str) -> None:
    resolver = TRUTH.dns.resolver_for_view(view)
    names = a_names(view)
    assert names
    for name in names:
        obs = resolve(lab, name, udp(resolver), namespace=NAMESPACE_OF_VIEW[view])
        assert obs.failure is None, (name, obs.failure_detail)
        assert a_answers(obs) == set(TRUTH.dns.expected(name, "A", view)), name
        tld = name.rsplit(".", 1)[-1]
        if tld not in TRUTH.dns.roots["icann"].tlds:
            # Not in the ICANN-like root: the ICANN-view resolver says it does not exist.
            via_icann = resolve(lab, name, udp(ICANN), namespace=NAMESPACE_OF_VIEW[view])
            assert via_icann.failure is None and via_icann.fields["outcome"] == "not_found"


def test_colliding_tlds_are_ambiguous(lab: Lab, migrated_engine: Engine) -> None:
    rows = []
    expected = {}
    for view in ("alt", "hns"):
        for tld in TRUTH.dns.roots[view].collides_with_icann:
            for name in a_names(view):
                if not name.endswith("." + tld):
                    continue
                for v in ("icann", view):
                    url = udp(TRUTH.dns.resolver_for_view(v))
                    rows.append((f"{v}:{name}", resolve(lab, name, url, namespace="icann")))
                icann_answer = set(TRUTH.dns.expected(name, "A", "icann"))
                view_answer = set(TRUTH.dns.expected(name, "A", view))
                assert view_answer and icann_answer != view_answer
                expected[name] = "conflicting" if icann_answer else "partial"
    assert expected, "the truth file plants colliding TLDs"
    run_id = store(migrated_engine, rows, probe="naming.resolve", version=1)
    verdicts = {a.name: a.verdict for a in ambiguity(migrated_engine, run_id)}
    assert verdicts == expected


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls", "https", "quic"])
def test_every_transport_of_the_icann_resolver(lab: Lab, transport: str) -> None:
    name = "www.example.test"
    if transport == "quic":
        doq = TRUTH.dns.resolvers["doq"]
        url = f"quic://{doq.address}:{doq.quic}"
    elif transport == "https":
        assert ICANN.doh_url
        url = ICANN.doh_url
    else:
        url = f"{transport}://{ICANN.address}:{getattr(ICANN, transport)}"
    obs = resolve(lab, name, url, namespace="icann")
    assert obs.failure is None, (transport, obs.failure_detail)
    assert a_answers(obs) == set(TRUTH.dns.expected(name, "A", "icann"))
    assert obs.fields["depends_on_icann_dns"] is False


def test_manipulating_resolver_answers_for_onion(lab: Lab) -> None:
    manip = TRUTH.dns.resolvers["manip"]
    assert manip.policy is not None
    onion = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"
    leaked = resolve(lab, onion, udp(manip), namespace="onion")
    assert leaked.failure is None and a_answers(leaked) == {manip.policy.onion_answer}
    # RFC 7686 section 2: a resolver not built for Tor must answer NXDOMAIN.
    honest = resolve(lab, onion, udp(ICANN), namespace="onion")
    assert honest.failure is None and honest.fields["outcome"] == "not_found"
