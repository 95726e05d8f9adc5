"""Hostile strings planted in the lab reach every report as text (issue 18, "Hostile input
to the reports").

lab/truth.toml plants them where the network puts them: the hostile web host's Server header
(a script tag, markdown markup, ESC sequences and a C1 CSI), a TXT record with a script tag
(script.example.test), and an owner name with ESC bytes whose TXT holds ESC sequences
(esc.example.test, a CNAME to it). A small campaign measures them with the real probes
(`fragscope run`: dns.query TXT through the lab's Unbound, transport.tls to the hostile
host), then `fragscope summarize` renders the text, markdown and html reports.

Does I/O: runs `fragscope run` against the lab (addresses in 10.99.0.0/16 only).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from markupsafe import escape

from fragscope.cli import main
from fragscope.lab.truth import load
from fragscope.lab.world import Lab

pytestmark = [pytest.mark.lab, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
TRUTH = load()
HOSTILE = TRUTH.web["hostile"]
RESOLVER = TRUTH.dns.resolver_for_view("icann")
EXAMPLE = TRUTH.dns.zone("example.test.")
SCRIPT_TXT = EXAMPLE.rdatas("script.example.test.", "TXT")[0]
(ESC_OWNER,) = EXAMPLE.rdatas("esc.example.test.", "CNAME")
ESC_TXT = EXAMPLE.rdatas(ESC_OWNER, "TXT")[0]
# Terminal controls: C0 (ESC, BEL, ...), DEL and C1 (CSI U+009B) characters.
CONTROLS = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) != "\n"]


def campaign(lab: Lab, work: Path) -> Path:
    (work / "names.txt").write_text("script.example.test\nesc.example.test\n")
    (work / "hosts.csv").write_text(f"1,{HOSTILE.name.rstrip('.')},{HOSTILE.address}\n")
    toml = work / "hostile.toml"
    toml.write_text(
        f"""name = "hostile"
vantage = "clean"
round = "hostile"

[[targets]]
list = "names"
file = "names.txt"
format = "lines"

[[targets]]
list = "hosts"
file = "hosts.csv"

[[endpoints]]
label = "icann-do53"
url = "udp://{RESOLVER.address}"
operator = "lab-unbound"
role = "test"

[probes."dns.query"]
lists = ["names"]
endpoints = ["icann-do53"]
qtypes = ["TXT"]
timeout_s = 2.0

[probes."transport.tls"]
lists = ["hosts"]
ca_file = "{lab.ca_file}"

[limits]
retries = 2

[safety]
allowed = ["10.99.0.0/16", "fd99::/16"]
"""
    )
    return toml


def measure(lab: Lab, db: Path, work: Path) -> None:
    argv = [sys.executable, "-c", "import cli; cli.main()", "run", "--campaign"]
    argv += [str(campaign(lab, work)), "--db", str(db), "--auto-migrate", "--no-progress"]
    env = {**os.environ, "FRAGSCOPE_ALLOWED_NETS": "10.99.0.0/16,fd99::/16"}
    done = subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, (done.stdout, done.stderr)


def report(db: Path, fmt: str) -> str:
    res = CliRunner().invoke(
        main, ["summarize", "--db", str(db), "--round", "hostile", "--format", fmt]
    )
    assert res.exit_code == 0, res.output
    return res.output


def test_lab_hostile_strings_escaped_in_every_report(lab: Lab, tmp_path: Path) -> None:
    db = tmp_path / "hostile.sqlite"
    measure(lab, db, tmp_path)
    doc = json.loads(report(db, "json"))
    observed = {(o["kind"], o["key"], o["value"]) for o in doc["observed"]}
    # Measured verbatim: the Server header's raw control characters, the TXT and owner in
    # DNS presentation form (RFC 1035 section 5.1: ESC is the text \027).
    assert ("http_server", None, HOSTILE.server_header) in observed
    assert ("dns_txt", "script.example.test.", SCRIPT_TXT) in observed
    assert ("dns_txt", ESC_OWNER, ESC_TXT) in observed
    assert "\x1b" in HOSTILE.server_header and "\x9b" in HOSTILE.server_header

    text, markdown, page = (report(db, f) for f in ("text", "markdown", "html"))
    for out in (text, markdown, page):
        assert not [c for c in CONTROLS if c in out], "a control character reached a report"
    assert "<script" not in markdown.lower() and "<script" not in page.lower()
    # Text: each control character shown as its \xNN escape; the rest verbatim.
    assert "<script>alert(1)</script> *x*|y \\x1b[31mred\\x1b]0;pwned\\x07 \\x9b2J" in text
    assert ESC_OWNER in text and "<script>alert('txt')</script>" in text
    # Markdown: the untrusted strings are entity- and backslash-escaped, so they render as
    # the text itself (no tag, no emphasis, no table cell break, no code span).
    assert "&lt;script&gt;alert(1)&lt;/script&gt; \\*x\\*\\|y \\\\x1b[31mred" in markdown
    assert "&lt;script&gt;alert('txt')&lt;/script&gt; \\*\\*md\\*\\* \\| \\`tick\\`" in markdown
    assert "| esc\\\\027[31mred.example.test. |" in markdown
    # Html: autoescaped, control characters shown as \xNN.
    assert escape("<script>alert(1)</script> *x*|y \\x1b[31mred\\x1b]0;pwned\\x07") in page
    assert escape(SCRIPT_TXT) in page and escape(ESC_OWNER) in page
