"""The "Encrypted handshake" section and chart (T10 with its TCP/QUIC split, T11, T12) in
every format: the several-vantages world's planted values (tests/fixtures/reports.py,
SNI_VERDICTS and ECH_VERDICTS), the "no data" line for runs without transport.sni or
transport.ech rows, and a hostile vantage label escaped inside the section. No lab."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fragscope.reports import render
from tests.fixtures.analysis import STANDARD_PLANTS, Plant, build_world
from tests.fixtures.reports import add_handshake_world, summary_doc

Doc = dict[str, Any]
NO_DATA = "No transport.sni or transport.ech measurements in these runs"


def _section(text: str, start: str, end: str) -> str:
    """The slice of a rendered report from the section heading to the next one."""
    i = text.index(start)
    return text[i : text.index(end, i + len(start))]


def _handshake_md(doc: Doc) -> str:
    return _section(render(doc, "markdown"), "## Encrypted handshake", "\n## ")


def test_section_shows_the_planted_values_in_every_format(vantages_doc: Doc) -> None:
    md = _handshake_md(vantages_doc)
    # censored: 10 decided tests (t2, t3 lost their QUIC control), 3 filtered, one of them
    # residual; TCP 1 of 6, QUIC 2 of 4. T12: t0 and t1 of the three ECH-capable targets.
    assert (
        "| censored | T10 | SNI filtering rate | 0.300 | [0.106, 0.608] | 6 | "
        "TCP 0.167; QUIC 0.500; residual 1; undecided 2 |  |" in md
    )
    assert "| censored | T11 | ECH adoption | 0.375 |" in md
    assert "| censored | T12 | ECH interference | 0.667 |" in md
    assert "accepted 1; rejected 0; undecided 0" in md
    assert "| lossy | T12 | ECH interference | 0.000 |" in md
    assert "accepted 2; rejected 1; undecided 0" in md
    assert "| clean | T10 | SNI filtering rate | 0.000 |" in md
    assert "SNI filtering is not UDP blocking: T2 leaves these QUIC pairs out" in md
    # T10-T12 left the transport table for their own section.
    transport = _section(render(vantages_doc, "markdown"), "## Transport layer", "\n## ")
    assert "| T10 |" not in transport and "see Encrypted handshake" in transport

    text = _section(render(vantages_doc, "text"), "ENCRYPTED HANDSHAKE", "ALTERNATIVE NAMESPACES")
    assert re.search(r"censored\s+T10\s+SNI filtering rate\s+0\.300", text)
    assert re.search(r"censored\s+T12\s+ECH interference\s+0\.667", text)

    html = render(vantages_doc, "html")
    section = _section(html, '<section id="handshake">', "</section>")
    assert "<td>censored</td><td>T10</td><td>SNI filtering rate</td><td>0.300</td>" in section
    assert "TCP 0.167; QUIC 0.500; residual 1; undecided 2" in section
    assert "<td>censored</td><td>T12</td><td>ECH interference</td><td>0.667</td>" in section
    # The chart sits in the section, an inline SVG with its bar labels as text.
    figure = _section(section, '<figure class="chart chart-handshake">', "</figure>")
    assert "<svg" in figure
    for label in ("T10 TCP", "T10 QUIC", "T12 ECH", "0.17", "0.50", "0.67"):
        assert label in figure


def test_runs_without_sni_or_ech_show_the_no_data_line(tmp_path: Path) -> None:
    w = build_world(f"sqlite:///{tmp_path / 'plain.sqlite'}", STANDARD_PLANTS)
    try:
        doc = summary_doc(w.engine, round_name="r1")
    finally:
        w.engine.dispose()
    md = _handshake_md(doc).strip()
    assert md.startswith(f"## Encrypted handshake\n\n{NO_DATA}") and "|" not in md
    text = _section(render(doc, "text"), "ENCRYPTED HANDSHAKE", "ALTERNATIVE NAMESPACES")
    assert NO_DATA in text
    html = render(doc, "html")
    section = _section(html, '<section id="handshake">', "</section>")
    assert NO_DATA in section
    assert "chart-handshake" not in html


def test_hostile_vantage_label_is_escaped_in_the_section(tmp_path: Path) -> None:
    label = '<img src=x onerror=alert("sni")>'
    plants = {label: Plant(label, quic_blocked={0, 1}), "clean": STANDARD_PLANTS["clean"]}
    w = build_world(f"sqlite:///{tmp_path / 'hostile.sqlite'}", plants, extra=add_handshake_world)
    try:
        doc = summary_doc(w.engine, round_name="r1")
    finally:
        w.engine.dispose()
    html = render(doc, "html")
    section = _section(html, '<section id="handshake">', "</section>")
    assert "<img" not in section
    assert "<td>&lt;img src=x onerror=alert(&#34;sni&#34;)&gt;</td><td>T10</td>" in section
    # The chart's legend names the vantage as SVG text, XML-escaped by matplotlib.
    assert "&lt;img src=x onerror=alert(" in section.split("<svg", 1)[1]
    md = _handshake_md(doc)
    assert "<img" not in md and '&lt;img src=x onerror=alert("sni")&gt;' in md
