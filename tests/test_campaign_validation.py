"""Issue 18 finding 4 and 9: everything a campaign or the command line can get wrong is
caught when the campaign loads (exit 2, ``file:line: key: message``, nothing written).

Record types, IP literals, numbers (finite, positive, in range), files the campaign names,
an allowlist of a whole address family, target-list errors (all at once, values cut),
labels (length, control characters), ``--vantage ""`` and ``runs show %``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fragscope.probes.engine.campaign import CampaignError, load_campaign
from fragscope.probes.engine.targets import MAX_REPORTED, TargetListErrors, validate
from tests.fixtures.engine import cli, null_campaign, query, run_cli, write_targets

DNS = """\
name = "v"
vantage = "clean"

[[targets]]
file = "targets.csv"

[[endpoints]]
url = "udp://127.0.0.1:5353"
label = "local"

[probes."dns.query"]
qtypes = ["A"]
timeout_s = 1.0

[limits]
rate = 10
"""
"""A dns.query campaign: line 8 is the endpoint URL, 12 the qtypes, 13 timeout_s, 16 rate."""


def _write(tmp_path: Path, text: str, *, name: str = "c.toml") -> Path:
    write_targets(tmp_path / "targets.csv", 3)
    path = tmp_path / name
    path.write_text(text)
    return path


def _load_error(path: Path) -> CampaignError:
    with pytest.raises(CampaignError) as info:
        load_campaign(path)
    return info.value


def _assert_load_error(tmp_path: Path, text: str, line: int, key: str, words: str) -> None:
    """Loading ``text`` fails at ``line``, naming ``key``, with ``words`` in the message."""
    err = _load_error(_write(tmp_path, text))
    assert (err.line, err.key) == (line, key), str(err)
    assert words in err.message, str(err)
    assert len(err.message) < 400, "a long value is cut, not echoed"


def _fresh_db(tmp_path: Path) -> Path:
    """An empty database at the latest schema."""
    from fragscope.db import migrate
    from fragscope.db.connection import make_engine

    db = tmp_path / "out.sqlite"
    engine = make_engine(f"sqlite:///{db}")
    migrate.upgrade(engine)
    engine.dispose()
    return db


@pytest.mark.parametrize(
    ("probe", "line"),
    [("dns.query", 12), ("dns.iterative", 12)],
)
def test_unknown_qtype_is_a_load_error(tmp_path: Path, probe: str, line: int) -> None:
    text = DNS.replace('[probes."dns.query"]', f'[probes."{probe}"]').replace(
        'qtypes = ["A"]', 'qtypes = ["A", "BOGUS"]'
    )
    if probe == "dns.iterative":
        text = text.replace("timeout_s = 1.0", "timeout_s = 1.5")
    _assert_load_error(tmp_path, text, line, f'probes."{probe}".qtypes', "BOGUS")


def test_cli_unknown_qtype_exits_2_and_writes_no_run(tmp_path: Path) -> None:
    path = _write(tmp_path, DNS.replace('qtypes = ["A"]', 'qtypes = ["BOGUS"]'))
    db = _fresh_db(tmp_path)
    result = run_cli("run", "--campaign", str(path), "--db", str(db))
    assert result.returncode == 2, result.stderr
    assert f'{path}:12: probes."dns.query".qtypes: ' in result.stderr
    assert "Traceback" not in result.stderr
    assert query(db, "SELECT COUNT(*) FROM runs") == [(0,)]


@pytest.mark.parametrize("url", ["udp://127.81.0.999", "udp://1.2.3", "tls://10.99.0.256:853"])
def test_invalid_ip_literals_are_not_host_names(tmp_path: Path, url: str) -> None:
    text = DNS.replace("udp://127.0.0.1:5353", url)
    _assert_load_error(tmp_path, text, 8, "endpoints[0].url", "not a valid IP address")


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "words"),
    [
        ("timeout_s = 1.0", "timeout_s = -1", 13, 'probes."dns.query".timeout_s', "> 0"),
        ("timeout_s = 1.0", "timeout_s = 0.0", 13, 'probes."dns.query".timeout_s', "> 0"),
        ("timeout_s = 1.0", "timeout_s = inf", 13, 'probes."dns.query".timeout_s', "finite"),
        ("timeout_s = 1.0", "edns_size = 70000", 13, 'probes."dns.query".edns_size', "65535"),
        ("timeout_s = 1.0", 'doh_method = "put"', 13, 'probes."dns.query".doh_method', "post"),
        ("rate = 10", "rate = nan", 16, "limits.rate", "finite"),
        ("rate = 10", "rate = inf", 16, "limits.rate", "finite"),
        ("rate = 10", "deadline = -inf", 16, "limits.deadline", "finite"),
        ('label = "local"', 'label = "local"\nrate = inf', 10, "endpoints[0].rate", "finite"),
    ],
)
def test_numbers_must_be_finite_positive_and_in_range(
    tmp_path: Path, old: str, new: str, line: int, key: str, words: str
) -> None:
    assert old in DNS
    _assert_load_error(tmp_path, DNS.replace(old, new), line, key, words)


@pytest.mark.parametrize(
    ("probe", "setting", "value", "words"),
    [
        ("transport.tls", "port", "70000", "<= 65535"),
        ("transport.tls", "connect_timeout_s", "0", "> 0"),
        ("transport.quic", "port", "0", ">= 1"),
        ("transport.quic_vn", "datagram_size", "100", ">= 1200"),
        ("path.udp443", "tries", "0", ">= 1"),
        ("naming.resolve", "timeout_s", "nan", "finite"),
        ("dns.iterative", "max_steps", "0", ">= 1"),
    ],
)
def test_probe_settings_out_of_range(
    tmp_path: Path, probe: str, setting: str, value: str, words: str
) -> None:
    text = DNS.replace('[probes."dns.query"]', f'[probes."{probe}"]').replace(
        'qtypes = ["A"]\ntimeout_s = 1.0', f"{setting} = {value}"
    )
    _assert_load_error(tmp_path, text, 12, f'probes."{probe}".{setting}', words)


def _with_setting(probe: str, setting: str) -> str:
    return DNS.replace('[probes."dns.query"]', f'[probes."{probe}"]').replace(
        'qtypes = ["A"]\ntimeout_s = 1.0', setting
    )


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        (_with_setting("dns.query", 'ca_file = "pki/ca.pem"'), 12, 'probes."dns.query".ca_file'),
        (
            _with_setting("dns.iterative", 'trust_anchor = "anchors/root.key"'),
            12,
            'probes."dns.iterative".trust_anchor',
        ),
        (
            _with_setting("dns.iterative", 'root_hints = "hints/root.hints"'),
            12,
            'probes."dns.iterative".root_hints',
        ),
        (
            _with_setting("transport.tls", 'ca_file = "pki/ca.pem"'),
            12,
            'probes."transport.tls".ca_file',
        ),
        (
            DNS.replace('label = "local"', 'label = "local"\noptions = { ca_file = "pki/ca.pem" }'),
            10,
            "endpoints[0].options.ca_file",
        ),
        (DNS.replace('file = "targets.csv"', 'file = "lists/top.csv"'), 5, "targets[0].file"),
        (DNS + '\n[safety]\nblocklist = "block.conf"\n', 19, "safety.blocklist"),
    ],
)
def test_missing_files_are_load_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, line: int, key: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _assert_load_error(tmp_path, text, line, key, "does not exist")


def test_relative_files_resolve_next_to_the_campaign_then_in_the_working_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign_dir, work = tmp_path / "campaigns", tmp_path / "work"
    (work / "pki").mkdir(parents=True)
    campaign_dir.mkdir()
    (work / "pki" / "ca.pem").write_text("working-dir CA\n")
    path = _write(campaign_dir, _with_setting("dns.query", 'ca_file = "pki/ca.pem"'))
    monkeypatch.chdir(work)
    config = load_campaign(path).probes[0].config
    assert config.ca_file == str(work / "pki" / "ca.pem")  # absolute: cwd no longer matters
    (campaign_dir / "pki").mkdir()
    (campaign_dir / "pki" / "ca.pem").write_text("campaign CA\n")
    assert load_campaign(path).probes[0].config.ca_file == str(campaign_dir / "pki" / "ca.pem")


def test_cli_lab_campaign_from_another_directory_exits_2(tmp_path: Path) -> None:
    # The case: a campaign naming lab-run/pki/ca.pem (the lab's CA), run where no
    # lab is up.
    path = _write(tmp_path, _with_setting("dns.query", 'ca_file = "lab-run/pki/ca.pem"'))
    result = subprocess.run(
        cli("run", "--campaign", str(path), "--db", str(tmp_path / "x.sqlite")),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert 'probes."dns.query".ca_file: ca_file ' in result.stderr
    assert "does not exist" in result.stderr
    assert not (tmp_path / "x.sqlite").exists()


@pytest.mark.parametrize(
    ("allowed", "family"),
    [
        ('["0.0.0.0/0"]', "IPv4"),
        ('["::/0"]', "IPv6"),
        ('["10.99.0.0/0"]', "IPv4"),  # a slip for /16
        ('["127.0.0.0/8", "0.0.0.0/1", "128.0.0.0/1"]', "IPv4"),
    ],
)
def test_whole_family_allowlist_needs_acknowledgement(
    tmp_path: Path, allowed: str, family: str
) -> None:
    text = DNS + f"\n[safety]\nallowed = {allowed}\n"
    err = _load_error(_write(tmp_path, text))
    assert (err.line, err.key) == (19, "safety.allowed"), str(err)
    assert f"every {family} address" in err.message and "allow_whole_family" in err.message
    campaign = load_campaign(_write(tmp_path, text + "allow_whole_family = true\n"))
    assert campaign.safety.allow_whole_family
    assert len(campaign.warnings) == 1 and family in campaign.warnings[0]


def test_cli_acknowledged_whole_family_prints_a_warning(tmp_path: Path) -> None:
    text = DNS + '\n[safety]\nallowed = ["0.0.0.0/0"]\nallow_whole_family = true\n'
    path = _write(tmp_path, text)
    result = run_cli("run", "--campaign", str(path), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "fragscope: warning: " in result.stderr and "every IPv4 address" in result.stderr


def test_target_errors_are_listed_at_once_and_values_cut(tmp_path: Path) -> None:
    path = _write(tmp_path, DNS)
    targets = tmp_path / "targets.csv"
    lines = [f"{i},ok{i}.test" for i in range(1, 11)]
    lines += [f"x{i},bad{i}.test" for i in range(25)]  # lines 11..35: bad ranks
    lines[3] = "4," + "n" * 5000  # line 4: an over-long name
    targets.write_text("\n".join(lines) + "\n")
    with pytest.raises(TargetListErrors) as info:
        validate(load_campaign(path).targets[0])
    err = info.value
    assert err.total == 26 and len(err.errors) == MAX_REPORTED
    assert [e.line for e in err.errors] == [4, *range(11, 11 + MAX_REPORTED - 1)]
    text = str(err)
    assert text.count("\n") == MAX_REPORTED  # 20 lines, then "6 more bad lines not shown"
    assert text.splitlines()[0].startswith(f"{targets}:4: ")
    assert "(5000 characters)" in text and "n" * 100 not in text
    assert text.endswith("6 more bad lines not shown")


def test_cli_lists_target_errors_in_one_run(tmp_path: Path) -> None:
    path = _write(tmp_path, DNS)
    (tmp_path / "targets.csv").write_text("".join(f"r{i},bad{i}.test\n" for i in range(1, 10)))
    result = run_cli("run", "--campaign", str(path), "--dry-run")
    assert result.returncode == 2, result.stderr
    assert [f"targets.csv:{n}: " in result.stderr for n in range(1, 10)] == [True] * 9


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "words"),
    [
        ('vantage = "clean"', 'vantage = "cle\\nan"', 2, "vantage", "U+000A"),
        ('vantage = "clean"', 'vantage = "\\u001b[31mred"', 2, "vantage", "U+001B"),
        ('vantage = "clean"', f'vantage = "{"v" * 65}"', 2, "vantage", "longer than 64"),
        ('vantage = "clean"', f'vantage = "{"v" * 100_000}"', 2, "vantage", "(100000 char"),
        ('name = "v"', f'name = "{"c" * 129}"', 1, "name", "longer than 128"),
        ('vantage = "clean"', 'vantage = "clean"\nround = "r\\u202e"', 3, "round", "U+202E"),
        ('label = "local"', 'label = "lo\\tcal"', 9, "endpoints[0].label", "U+0009"),
        (
            'label = "local"',
            'label = "local"\noperator = "o\\r"',
            10,
            "endpoints[0].operator",
            "U+000D",
        ),
        (
            'label = "local"',
            f'label = "local"\nnamespace = "{"n" * 33}"',
            10,
            "endpoints[0].namespace",
            "32",
        ),
        (
            'file = "targets.csv"',
            'file = "targets.csv"\nlist = "a\\u0000"',
            6,
            "targets[0].list",
            "U+0000",
        ),
        (
            "rate = 10",
            'rate = 10\n[politeness]\nuser_agent = "ua\\r\\nX: 1"',
            18,
            "politeness.user_agent",
            "U+000D",
        ),
    ],
)
def test_labels_fit_their_column_and_have_no_control_characters(
    tmp_path: Path, old: str, new: str, line: int, key: str, words: str
) -> None:
    assert old in DNS
    _assert_load_error(tmp_path, DNS.replace(old, new), line, key, words)


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--vantage", "", "must not be empty"),
        ("--vantage", "a\nb", "U+000A"),
        ("--vantage", "v" * 65, "longer than 64"),
        ("--round", "", "must not be empty"),
    ],
)
def test_label_options_are_checked(tmp_path: Path, option: str, value: str, words: str) -> None:
    from fragscope.probes.engine.console import Reporter
    from fragscope.probes.engine.prepared_run import RunOptions
    from fragscope.probes.engine.runs import UsageError, execute

    db = _fresh_db(tmp_path)
    given = {"vantage": value} if option == "--vantage" else {"round": value}
    opts = RunOptions(campaign=null_campaign(tmp_path, targets=3), db=str(db), **given)
    with pytest.raises(UsageError) as info:
        execute(opts, reporter=Reporter())
    assert str(info.value).startswith(f"{option}: ") and words in str(info.value)
    assert query(db, "SELECT COUNT(*) FROM runs") == [(0,)]


def test_cli_empty_vantage_exits_2(tmp_path: Path) -> None:
    path = null_campaign(tmp_path, targets=3)
    result = run_cli("run", "--campaign", str(path), "--vantage", "", "--dry-run")
    assert result.returncode == 2, result.stderr
    assert "--vantage: must not be empty" in result.stderr


def test_runs_show_prefix_is_literal_not_a_like_pattern(tmp_path: Path) -> None:
    from fragscope.db.connection import make_engine
    from fragscope.probes.engine.runlookup import NoSuchRun, resolve_run

    path = null_campaign(tmp_path, targets=3, fail_every=0, follow_ups=0)
    db = tmp_path / "out.sqlite"
    result = run_cli("run", "--campaign", str(path), "--db", str(db), "--auto-migrate")
    assert result.returncode == 0, result.stderr
    (run_id,) = query(db, "SELECT id FROM runs")[0]
    assert isinstance(run_id, str)
    engine = make_engine(f"sqlite:///{db}")
    for pattern in ("_", f"{run_id[:4]}%", "________", run_id[:7] + "_"):
        with pytest.raises(NoSuchRun, match="no run"):
            resolve_run(engine, pattern)
    assert resolve_run(engine, run_id[:8]) == run_id
    engine.dispose()
    result = run_cli("runs", "show", "%", "--db", str(db))
    assert result.returncode == 2, result.stdout
    assert "no run '%'" in result.stderr
