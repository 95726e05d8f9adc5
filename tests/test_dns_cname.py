"""CNAME chains are judged by where they lead (issue 18, finding 5). NSD on loopback.

The signed ``example.test.`` of the DNS test world holds ``loop1 -> loop2 -> loop1`` and
``notype -> mail`` (mail has an A record, no AAAA). Asked of its authoritative server,
the loop comes back NOERROR with both CNAMEs and no address: that used to be stored as an
answer. Now the loop is ``dns_cname_loop``, the chain that never reaches the asked type
is ``dns_no_answer``, and the chain's records are stored either way.
"""

from __future__ import annotations

from fragscope.db.vocab import Failure
from tests.dns.run import run_query, task
from tests.dns.world import DnsWorld


def test_cname_loop_and_chain_without_the_type_are_flagged(dns_world: DnsWorld) -> None:
    url = f"udp://{dns_world.sld}"
    loop, notype, chain = run_query(
        [
            task("loop1.example.test.", url, "A"),
            task("notype.example.test.", url, "AAAA"),
            task("alias.example.test.", url, "A"),
        ]
    )
    assert loop.fields["rcode_name"] == "NOERROR"
    assert loop.failure == Failure.DNS_CNAME_LOOP, loop.failure_detail
    assert "loop1.example.test -> loop2.example.test -> loop1.example.test" in (
        loop.failure_detail or ""
    )
    loop_answers = [(r["name"], r["rtype"]) for t, r in loop.children if r["section"] == "answer"]
    assert ("loop1.example.test.", "CNAME") in loop_answers  # the chain is stored
    assert notype.failure == Failure.DNS_NO_ANSWER, notype.failure_detail
    assert "ends without records of type AAAA" in (notype.failure_detail or "")
    assert any(r["rtype"] == "CNAME" for _t, r in notype.children)
    # A chain that reaches the asked type is an answer, as before.
    assert chain.failure is None, chain.failure_detail
