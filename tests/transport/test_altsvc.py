"""Alt-Svc parser: RFC 7838 section 3 examples, malformed values, hypothesis round trips."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fragscope.probes.transport.altsvc import (
    DEFAULT_MAX_AGE,
    AltSvc,
    AltSvcEntry,
    AltSvcError,
    format_alt_svc,
    parse_alt_svc,
)


def test_rfc7838_examples() -> None:
    (e,) = parse_alt_svc('h2="new.example.org:80"').entries
    assert (e.alpn, e.host, e.port, e.max_age, e.persist) == (
        "h2",
        "new.example.org",
        80,
        DEFAULT_MAX_AGE,
        False,
    )
    (e,) = parse_alt_svc('h2=":8000"').entries
    assert (e.host, e.port) == ("", 8000)
    svc = parse_alt_svc('h2="alt.example.com:8000", h2=":443"')
    assert [(e.host, e.port) for e in svc.entries] == [("alt.example.com", 8000), ("", 443)]
    (e,) = parse_alt_svc('h2=":443"; ma=2592000; persist=1').entries
    assert (e.max_age, e.persist) == (2592000, True)
    # Section 3: the ALPN id "w=x:y#z" is percent-encoded in the header.
    (e,) = parse_alt_svc('w%3Dx%3Ay#z=":443"').entries
    assert e.alpn == "w=x:y#z"
    assert parse_alt_svc("clear") == AltSvc(clear=True, entries=())


def test_real_servers_headers_and_multiple_lines() -> None:
    svc = parse_alt_svc(['h3=":4433"; ma=3600', 'h3=":8443"; ma=2592000,h3-29=":8443"'])
    assert svc.alpns == ("h3", "h3", "h3-29")
    assert [e.port for e in svc.entries] == [4433, 8443, 8443]
    (e,) = parse_alt_svc('h3=":443";ma=86400; quic="1"').entries
    assert e.params == (("ma", "86400"), ("quic", "1"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "protocol-id"),
        ("h3", "'='"),
        ("h3=:443", "quoted alt-authority"),
        ('h3=":443', "unterminated"),
        ('h3="host"', "host]:port"),
        ('h3=":99999"', "host]:port"),
        ('h3=":443"; ma=soon', "delta-seconds"),
        ('h3=":443" junk', "','"),
        ('h3=":443";', "parameter name"),
        ('h%FF3=":443"', "percent-encoding"),
        ("<script>alert(1)</script>", "protocol-id"),
    ],
)
def test_malformed_values_are_named(value: str, message: str) -> None:
    with pytest.raises(AltSvcError, match=message):
        parse_alt_svc(value)


_alpn = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF, blacklist_characters="\x7f"),
    min_size=1,
    max_size=12,
)
_host = st.from_regex(r"[a-z0-9.\-]{0,20}", fullmatch=True)


@st.composite
def _entries(draw: st.DrawFn) -> AltSvcEntry:
    ma = draw(st.none() | st.integers(min_value=0, max_value=2**31))
    persist = draw(st.booleans())
    params: list[tuple[str, str]] = []
    if ma is not None:
        params.append(("ma", str(ma)))
    if persist:
        params.append(("persist", "1"))
    params += draw(
        st.lists(
            st.tuples(
                st.sampled_from(["x", "quic", "v"]), st.text(max_size=8).filter(str.isprintable)
            ),
            max_size=2,
        )
    )
    return AltSvcEntry(
        alpn=draw(_alpn),
        host=draw(_host),
        port=draw(st.integers(min_value=1, max_value=65535)),
        max_age=DEFAULT_MAX_AGE if ma is None else ma,
        persist=persist,
        params=tuple(params),
    )


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(st.lists(_entries(), min_size=1, max_size=4))
def test_round_trip(entries: list[AltSvcEntry]) -> None:
    svc = AltSvc(clear=False, entries=tuple(entries))
    assert parse_alt_svc(format_alt_svc(svc)) == svc


@settings(deadline=None)  # shared 2-core machine: no per-example deadline
@given(st.text(max_size=60))
def test_parser_raises_only_altsvcerror(value: str) -> None:
    with contextlib.suppress(AltSvcError):
        parse_alt_svc(value)
