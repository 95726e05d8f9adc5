"""Campaign loading: every kind of mistake is reported with file, line and key; exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from fragscope.probes.endpoints import EndpointURLError, parse_endpoint_url
from fragscope.probes.engine.campaign import CampaignError, load_campaign
from fragscope.probes.engine.targets import read_targets, validate
from fragscope.probes.engine.tomlpos import key_lines
from tests.fixtures.engine import REPO, run_cli, write_targets

GOOD = """\
name = "t"
vantage = "clean"

[[targets]]
file = "targets.csv"

[[endpoints]]
url = "udp://127.0.0.1:5353"
label = "local"
role = "control"

[[endpoints]]
url = "tls://127.0.0.1:853#dns.lab.test"

[probes."engine.null"]
delay_s = 0.0

[limits]
concurrency = 8
rate = 10

[safety]
allowed = ["127.0.0.0/8"]

[politeness]
contact = "ops@example.invalid"
"""


def _write(tmp_path: Path, text: str) -> Path:
    write_targets(tmp_path / "targets.csv", 5)
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_good_campaign_loads(tmp_path: Path) -> None:
    c = load_campaign(_write(tmp_path, GOOD))
    assert c.name == "t" and c.vantage == "clean" and c.repeat == 1
    assert [e.url for e in c.endpoints] == [
        "udp://127.0.0.1:5353",
        "tls://127.0.0.1:853#dns.lab.test",
    ]
    assert c.endpoints[0].role == "control" and c.endpoints[0].label == "local"
    assert c.limits.concurrency == 8 and c.limits.rate == 10.0
    assert c.probes[0].name == "engine.null"
    assert len(c.snapshot["_sha256"]) == 64


def test_shipped_null_lab_campaign_loads() -> None:
    from fragscope.campaigns import find, shipped

    assert "null-lab" in shipped()
    c = load_campaign(find("null-lab"))
    assert validate(c.targets[0]) == 1000


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "words"),
    [
        ('vantage = "clean"', 'vantage = "clean"\ncolour = "red"', 3, "colour", "unknown key"),
        ("concurrency = 8", "concurency = 8", 19, "limits.concurency", "unknown key"),
        ("concurrency = 8", 'concurrency = "many"', 19, "limits.concurrency", "integer"),
        ("concurrency = 8", "concurrency = 0", 19, "limits.concurrency", ">= 1"),
        (
            'url = "udp://127.0.0.1:5353"',
            'url = "udp://127.0.0.1:99999"',
            8,
            "endpoints[0].url",
            "bad URL",
        ),
        (
            'url = "tls://127.0.0.1:853#dns.lab.test"',
            'url = "ftp://127.0.0.1"',
            13,
            "endpoints[1].url",
            "scheme",
        ),
        ('role = "control"', 'role = "boss"', 10, "endpoints[0].role", "control"),
        ('file = "targets.csv"', 'file = "missing.csv"', 5, "targets[0].file", "does not exist"),
        ("delay_s = 0.0", 'delay_s = "slow"', 16, 'probes."engine.null".delay_s', "float"),
        ("delay_s = 0.0", "delay_s = -1.0", 16, 'probes."engine.null".delay_s', ">= 0"),
        (
            '[probes."engine.null"]',
            '[probes."engine.nul"]',
            15,
            'probes."engine.nul"',
            "unknown probe",
        ),
        (
            'allowed = ["127.0.0.0/8"]',
            'allowed = ["127.0.0.300/8"]',
            23,
            "safety.allowed",
            "network",
        ),
    ],
)
def test_bad_campaign_names_file_line_key(
    tmp_path: Path, old: str, new: str, line: int, key: str, words: str
) -> None:
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(CampaignError) as info:
        load_campaign(path)
    err = info.value
    assert (err.line, err.key) == (line, key), str(err)
    assert words in err.message
    assert str(err).startswith(f"{path}:{line}: {key}: ")


def test_toml_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("concurrency = 8", "concurrency = = 8"))
    with pytest.raises(CampaignError) as info:
        load_campaign(path)
    assert info.value.line == 19


def test_bad_target_line_names_the_target_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    with (tmp_path / "targets.csv").open("a") as fh:
        fh.write("6,ok.test\nseven,bad.test\n")
    c = load_campaign(path)
    with pytest.raises(CampaignError) as info:
        validate(c.targets[0])
    assert info.value.line == 7 and info.value.file.endswith("targets.csv")
    assert "rank 'seven'" in info.value.message


def test_blocklist_file_in_zmap_format(tmp_path: Path) -> None:
    (tmp_path / "block.conf").write_text("# comment\n127.0.0.2/32  # lab host\n\n10.0.0.0/8\n")
    text = GOOD.replace(
        'allowed = ["127.0.0.0/8"]', 'allowed = ["127.0.0.0/8"]\nblocklist = "block.conf"'
    )
    c = load_campaign(_write(tmp_path, text))
    assert c.safety.blocked == ("127.0.0.2/32", "10.0.0.0/8")
    (tmp_path / "block.conf").write_text("127.0.0.2/32\nnot-a-net\n")
    with pytest.raises(CampaignError) as info:
        load_campaign(_write(tmp_path, text))
    assert info.value.line == 2 and info.value.file.endswith("block.conf")


def test_cli_bad_campaign_exits_2_with_its_line_and_writes_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("concurrency = 8", "concurrency = -3"))
    db = tmp_path / "out.sqlite"
    result = run_cli("run", "--campaign", str(path), "--db", str(db), "--auto-migrate")
    assert result.returncode == 2, result.stderr
    assert f"{path}:19: limits.concurrency:" in result.stderr
    assert not db.exists()


def test_targets_stream_tranco_with_addresses_and_plain_lines(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(
        "# header comment\n1,a.test\n2,b.test,10.99.0.1\n\n3, c.test , \n"
    )
    (tmp_path / "t.txt").write_text("a.test\n# skip\nb.test\n")
    path = tmp_path / "c.toml"
    path.write_text(
        'name = "x"\n[[targets]]\nfile = "t.csv"\n'
        '[[targets]]\nlist = "plain"\nfile = "t.txt"\nlimit = 1\n'
        '[probes."engine.null"]\n'
    )
    c = load_campaign(path)
    assert [tuple(e) for e in read_targets(c.targets[0])] == [
        ("a.test", 1, None, None),
        ("b.test", 2, "10.99.0.1", None),
        ("c.test", 3, None, None),
    ]
    assert c.targets[1].format == "lines"
    assert [e.name for e in read_targets(c.targets[1])] == ["a.test"]


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "path", "auth"),
    [
        ("udp://127.0.0.1", "udp", "127.0.0.1", 53, "", None),
        ("tcp://[::1]:5353", "tcp", "::1", 5353, "", None),
        ("tls://10.99.0.2:853#dns.lab.test", "tls", "10.99.0.2", 853, "", "dns.lab.test"),
        ("https://doh.lab.test/dns-query", "https", "doh.lab.test", 443, "/dns-query", None),
        ("https://10.99.0.2", "https", "10.99.0.2", 443, "/dns-query", None),
        ("quic://10.99.0.2:853", "quic", "10.99.0.2", 853, "", None),
        ("eth+http://127.0.0.1:8545", "eth+http", "127.0.0.1", 8545, "", None),
        ("http://10.99.90.3:8080/", "http", "10.99.90.3", 8080, "/", None),
        ("http://gw.lab.test", "http", "gw.lab.test", 80, "", None),
    ],
)
def test_endpoint_urls(
    url: str, scheme: str, host: str, port: int, path: str, auth: str | None
) -> None:
    p = parse_endpoint_url(url)
    assert (p.scheme, p.host, p.port, p.path, p.auth_name) == (scheme, host, port, path, auth)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "127.0.0.1",
        "ftp://x",
        "udp://",
        "udp://127.0.0.9:0",
        "udp://127.0.0.9:70000",
        "udp://127.0.0.9/path",
        "udp://127.0.0.9#name",
        "tls://u:p@127.0.0.9",
        "udp://bad host",
    ],
)
def test_bad_endpoint_urls(url: str) -> None:
    with pytest.raises(EndpointURLError):
        parse_endpoint_url(url)


def test_key_lines_follow_tables_arrays_and_quoted_keys() -> None:
    src = (
        'a = 1\n[t]\nb = [\n  "x",\n  "[y]",\n]\nc = 2\n'
        '[[arr]]\nd = 1\n[[arr]]\nd = 2\n[p."x.y"]\ne = 3\n'
    )
    lines = key_lines(src)
    assert lines[("a",)] == 1
    assert lines[("t", "b")] == 3 and lines[("t", "c")] == 7
    assert lines[("arr", 0, "d")] == 9 and lines[("arr", 1, "d")] == 11
    assert lines[("p", "x.y", "e")] == 13


def test_every_shipped_campaign_is_valid() -> None:
    # (The lab's campaigns are generated per vantage by lab/plan.py: tests/test_lab_plan.py.)
    for path in sorted((REPO / "campaigns").glob("*.toml")):
        c = load_campaign(path)
        for source in c.targets:
            validate(source)
