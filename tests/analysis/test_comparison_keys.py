"""C1's outcome keys for DNS: each vantage's only test resolver meets the control run's,
whatever its address; resolvers sharing a role stay keyed by address. No I/O."""

from __future__ import annotations

from fragscope.analysis import comparison
from fragscope.analysis.facts import RunFacts
from fragscope.analysis.naming import DnsFacts, View


def _dns(rows: list[tuple[str, str, str, str]]) -> DnsFacts:
    d = DnsFacts()
    for name, resolver, role, rcode in rows:
        d.views.setdefault((name, "A"), {})[resolver] = View(role=role, rcode=rcode)
    return d


def test_a_vantages_own_resolver_meets_the_controls() -> None:
    clean = _dns(
        [("a.test.", "10.0.0.1", "test", "NOERROR"), ("a.test.", "fd::1", "control", "NOERROR")]
    )
    censored = _dns(
        [("a.test.", "10.0.0.30", "test", "NXDOMAIN"), ("a.test.", "fd::1", "control", "NOERROR")]
    )
    mine = comparison.outcomes(RunFacts(), censored).as_dict()
    theirs = comparison.outcomes(RunFacts(), clean).as_dict()
    assert mine.keys() == theirs.keys()
    assert mine[("dns", "a.test.", "A", "role:test")] == ("a.test.", "dns:NXDOMAIN")
    assert theirs[("dns", "a.test.", "A", "role:test")] == ("a.test.", "dns:NOERROR")


def test_resolvers_sharing_a_role_keep_their_addresses() -> None:
    d = _dns(
        [("a.test.", "10.0.0.1", "test", "NOERROR"), ("a.test.", "10.0.0.2", "test", "SERVFAIL")]
    )
    keys = set(comparison.outcomes(RunFacts(), d).as_dict())
    assert keys == {("dns", "a.test.", "A", "10.0.0.1"), ("dns", "a.test.", "A", "10.0.0.2")}
