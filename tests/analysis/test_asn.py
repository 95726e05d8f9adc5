"""IP-to-ASN mapping: pyasn IPASN text, longest prefix, dates, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from fragscope.analysis import asn

SAMPLE = """; IP-ASN32-DAT file
; Original source:\thttp://archive.routeviews.org/bgpdata/2024.01/RIBS/rib.20240101.0000.bz2
; Converted on  :\tMon Jan  1 12:00:00 2024
; Prefixes-v4   :\t3
10.0.0.0/8\t100
10.1.0.0/16\t200
10.1.2.0/24\t300
2001:db8::/32\t400
"""


def test_longest_prefix_wins() -> None:
    m = asn.parse(SAMPLE, source="x.dat")
    assert m.lookup("10.9.9.9") == 100
    assert m.lookup("10.1.9.9") == 200
    assert m.lookup("10.1.2.3") == 300
    assert m.lookup("2001:db8::1") == 400
    assert m.lookup("192.0.2.1") is None
    assert m.lookup("not-an-ip") is None
    assert m.date == "2024-01-01"


def test_date_from_file_name(tmp_path: Path) -> None:
    p = tmp_path / "ipasn_20240315.dat"
    p.write_text("10.0.0.0/8\t1\n")
    assert asn.load(p).date == "2024-03-15"


def test_bad_line_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.dat"
    p.write_text("10.0.0.0/8\t1\n10.0.0.0/8 x\n")
    with pytest.raises(asn.MappingError, match=r"bad\.dat:2"):
        asn.load(p)


def test_lab_mapping_covers_the_lab_plan() -> None:
    m = asn.load_lab()
    assert m.date == "2026-11-28"
    assert m.lookup("10.99.53.101") == 64653  # a resolver's egress
    assert m.lookup("10.99.80.1") == 64680  # a web host
    assert m.lookup("fd99::80:1") == 64680
    assert m.lookup("10.99.66.1") == 64666  # the manipulating resolver's rewrite target
