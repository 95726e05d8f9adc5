"""C1's outcome keys for DNS: each vantage's own resolver endpoints meet the control run's
per (role, transport) slot, whatever their address; endpoints sharing a slot stay keyed by
address and port; a key's outcome is N1's answer class. No I/O."""

from __future__ import annotations

from fragscope.analysis import comparison
from fragscope.analysis.facts import RunFacts
from fragscope.analysis.naming import DnsFacts, Endpoint, View

CONTROL = Endpoint("fd::1", 443, "https", "control")


def _dns(rows: list[tuple[str, Endpoint, str, set[str]]]) -> DnsFacts:
    d = DnsFacts()
    for name, endpoint, rcode, addresses in rows:
        view = View(role=endpoint.role, rcode=rcode, addresses=addresses)
        d.views.setdefault((name, "A"), {})[endpoint] = view
    return d


def test_a_vantages_own_resolver_meets_the_controls() -> None:
    own_clean = Endpoint("10.0.0.1", 53, "udp", "test")
    own_censored = Endpoint("10.0.0.30", 53, "udp", "test")
    clean = _dns(
        [
            ("a.test", own_clean, "NOERROR", {"192.0.2.1"}),
            ("a.test", CONTROL, "NOERROR", {"192.0.2.1"}),
        ]
    )
    censored = _dns(
        [("a.test", own_censored, "NXDOMAIN", set()), ("a.test", CONTROL, "NOERROR", {"192.0.2.1"})]
    )
    mine = comparison.outcomes(RunFacts(), censored).as_dict()
    theirs = comparison.outcomes(RunFacts(), clean).as_dict()
    assert mine.keys() == theirs.keys() == {("dns", "a.test", "A", "test/udp")}
    assert mine[("dns", "a.test", "A", "test/udp")] == ("a.test", "dns:NXDOMAIN")
    assert theirs[("dns", "a.test", "A", "test/udp")] == ("a.test", "dns:consistent")


def test_a_rewrite_is_a_class_of_its_own() -> None:
    # Both NOERROR: the rcode alone (C1 version 1) saw no difference.
    own = Endpoint("10.0.0.30", 53, "udp", "test")
    d = _dns(
        [
            ("a.test", own, "NOERROR", {"198.51.100.9"}),
            ("a.test", CONTROL, "NOERROR", {"192.0.2.1"}),
        ]
    )
    assert comparison.outcomes(RunFacts(), d).as_dict() == {
        ("dns", "a.test", "A", "test/udp"): ("a.test", "dns:rewrite")
    }


def test_endpoints_sharing_a_slot_keep_their_addresses() -> None:
    a, b = Endpoint("10.0.0.1", 53, "udp", "test"), Endpoint("10.0.0.2", 53, "udp", "test")
    dot = Endpoint("10.0.0.1", 853, "tls", "test")
    d = _dns(
        [
            ("a.test", a, "NOERROR", {"192.0.2.1"}),
            ("a.test", b, "SERVFAIL", set()),
            ("a.test", dot, "NOERROR", {"192.0.2.1"}),
            ("a.test", CONTROL, "NOERROR", {"192.0.2.1"}),
        ]
    )
    got = comparison.outcomes(RunFacts(), d).as_dict()
    assert got == {
        ("dns", "a.test", "A", "test/udp 10.0.0.1:53"): ("a.test", "dns:consistent"),
        ("dns", "a.test", "A", "test/udp 10.0.0.2:53"): ("a.test", "dns:SERVFAIL"),
        ("dns", "a.test", "A", "test/tls"): ("a.test", "dns:consistent"),
    }


def test_names_the_control_did_not_answer_are_left_out() -> None:
    # A lost control query cannot class the test endpoint's answer: no key at all.
    d = _dns([("a.test", Endpoint("10.0.0.1", 53, "udp", "test"), "NOERROR", {"192.0.2.1"})])
    assert comparison.outcomes(RunFacts(), d).as_dict() == {}
