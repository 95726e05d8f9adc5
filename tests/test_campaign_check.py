"""``fragscope campaign check``: the shipped campaign passes; each rule, broken, exits 2 naming it.

Every broken campaign is campaigns/default.toml with one edit, written next to the test
(its list paths made absolute). Nothing is sent: the check plans as ``run --dry-run``
does, and the tests run with FRAGSCOPE_ALLOWED_NETS at loopback.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fragscope.cli import main
from fragscope.probes.engine.campaign import load_campaign
from fragscope.probes.engine.check import ROOT_ANCHORS, check_campaign

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "campaigns" / "default.toml"
DATA = ROOT / "data"
KSK_2017 = ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n"
KSK_2024 = ". IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16\n"


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAGSCOPE_ALLOWED_NETS", "127.0.0.0/8")


def _variant(tmp_path: Path, *edits: tuple[str, str], append: str = "") -> Path:
    text = DEFAULT.read_text(encoding="utf-8").replace('"../data/', f'"{DATA}/')
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "variant.toml"
    path.write_text(text + append, encoding="utf-8")
    return path


def _check(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["campaign", "check", str(path)])
    return result.exit_code, result.output


def test_the_shipped_campaign_passes_and_lists_undocumented_endpoints() -> None:
    code, out = _check(DEFAULT)
    assert code == 0, out
    assert "passes: 0 errors" in out and "nothing sent" in out
    assert "fragscope: error" not in out
    # Endpoints whose operator's page was not checked are listed, the checked one is not.
    assert "'quad9-dot': no last_documented" in out
    for documented in ("ethlimo-gateway", "cloudflare-do53", "cloudflare-dot", "mullvad-doh"):
        assert f"'{documented}': no last_documented" not in out


def test_an_endpoint_without_tasks_is_an_error(tmp_path: Path) -> None:
    spare = '\n[[endpoints]]\nlabel = "spare-do53"\nurl = "udp://192.0.2.53"\n'
    text = DEFAULT.read_text(encoding="utf-8")
    cut = text.index(
        "# ---------------------------------------------------------------------------- probes"
    )
    path = tmp_path / "idle.toml"
    path.write_text(
        (text[:cut] + spare + text[cut:]).replace('"../data/', f'"{DATA}/'), encoding="utf-8"
    )
    code, out = _check(path)
    assert code == 2, out
    assert "[endpoint-idle] endpoint 'spare-do53' receives no task" in out
    assert f"{path}:" in out and "endpoints[41].label" in out


def test_a_namespace_with_canaries_and_no_endpoint_of_its_own_is_an_error(
    tmp_path: Path,
) -> None:
    # Without "namecoin" the OpenNIC resolvers are only a catch-all for .bit: not enough.
    path = _variant(tmp_path, ('namespaces = ["*", "namecoin"]', 'namespaces = ["*"]'))
    code, out = _check(path)
    assert code == 2, out
    assert "[namespace-unreached] namespace 'namecoin' has canaries (nx.bit, ...)" in out
    assert "canaries.txt:" in out


def test_an_unknown_namespace_on_a_list_line_is_an_error(tmp_path: Path) -> None:
    canaries = tmp_path / "canaries.txt"
    text = (DATA / "targets" / "canaries.txt").read_text(encoding="utf-8")
    canaries.write_text(text.replace("jesse.cb.id ens", "jesse.cb.id enss"), encoding="utf-8")
    path = _variant(tmp_path, (f'"{DATA}/targets/canaries.txt"', f'"{canaries}"'))
    code, out = _check(path)
    assert code == 2, out
    line = text.splitlines().index("jesse.cb.id ens") + 1
    assert f"canaries.txt:{line}: [namespace-unknown] jesse.cb.id: unknown namespace 'enss'" in out


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'contact = "https://github.com/fragscope/fragscope/issues',
            'contact = "me <me@example.org> https://github.com/fragscope/fragscope/issues',
            "contact holds the placeholder 'example.org'",
        ),
        ("contact = ", "# contact = ", "contact is missing"),
        (
            "+https://github.com/fragscope/fragscope/blob/main/docs/ethics.md",
            "+https://fragscope.test/ethics",
            "user_agent holds the placeholder 'fragscope.test'",
        ),
    ],
)
def test_placeholder_or_missing_politeness_is_an_error(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    code, out = _check(_variant(tmp_path, (old, new)))
    assert code == 2, out
    assert f"[placeholder-politeness] [politeness] {expected}" in out


def test_a_lab_campaign_may_keep_placeholders(tmp_path: Path) -> None:
    path = _variant(
        tmp_path,
        ('contact = "https://github.com', 'contact = "lab <lab@example.org> https://github.com'),
        ('blocklist = "', 'allowed = ["127.0.0.0/8", "10.99.0.0/16"]\nblocklist = "'),
    )
    code, out = _check(path)
    assert code == 0, out
    assert "placeholder" not in out and "last_documented" not in out


def _with_anchor(tmp_path: Path, lines: str | None) -> Path:
    setting = ""
    if lines is not None:
        anchor = tmp_path / "anchor.txt"
        anchor.write_text(lines, encoding="utf-8")
        setting = f'trust_anchor = "{anchor}"\n'
    # The shipped campaign's dns.iterative section, with this trust_anchor.
    sample = 'lists = ["dnssec-sample"]\n'
    return _variant(tmp_path, (sample, sample + setting))


def test_a_validating_probe_without_trust_anchor_uses_the_shipped_anchors(
    tmp_path: Path,
) -> None:
    path = _with_anchor(tmp_path, None)
    report = check_campaign(load_campaign(path), today=dt.date(2026, 12, 7))
    assert not [f for f in report.errors if f.rule == "trust-anchor"], report.errors
    # The shipped file holds KSK-2017 too, which is announced before its revocation.
    assert [w.message for w in report.warnings if w.rule == "trust-anchor"] == [
        "KSK-2017 (key tag 20326) is due for revocation on 2027-01-11"
    ]


def test_an_anchor_holding_only_ksk_2017_is_an_error_since_ksk_2024_signs(
    tmp_path: Path,
) -> None:
    path = _with_anchor(tmp_path, KSK_2017)
    c = load_campaign(path)
    report = check_campaign(c, today=dt.date(2026, 12, 7))
    messages = [str(f) for f in report.errors]
    assert any(
        "[trust-anchor] no anchor matches a key that signs the root DNSKEY RRset on 2026-12-07: "
        "KSK-2024 (key tag 38696)" in m
        for m in messages
    ), messages
    assert [str(w) for w in report.warnings if w.rule == "trust-anchor"] == [
        f"{path}:{_line(path, 'trust_anchor')}: probes.dns.iterative.trust_anchor: "
        "[trust-anchor] KSK-2017 (key tag 20326) is due for revocation on 2027-01-11"
    ]
    # Before the rollover the same file was right; after 2027-01-11 the key is revoked.
    assert not check_campaign(c, today=dt.date(2026, 10, 10)).errors
    later = check_campaign(c, today=dt.date(2027, 2, 1))
    assert any("was revoked on 2027-01-11" in str(w) for w in later.warnings)
    code, out = _check(path)
    assert code == 2 and "[trust-anchor] no anchor matches" in out


def _line(path: Path, key: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(key))


def test_the_shipped_iana_anchors_pass_and_a_wrong_digest_does_not(tmp_path: Path) -> None:
    shipped = ROOT_ANCHORS.read_text(encoding="utf-8")
    assert KSK_2017.strip() in shipped and KSK_2024.strip() in shipped
    code, out = _check(_with_anchor(tmp_path, shipped))
    assert code == 0, out
    assert "KSK-2017 (key tag 20326) is due for revocation on 2027-01-11" in out
    wrong = KSK_2024.replace("683D2D0A", "683D2D0B")
    code, out = _check(_with_anchor(tmp_path, wrong))
    assert code == 2, out
    assert "KSK-2024 (key tag 38696): the digest differs from IANA's" in out


def test_endpoints_documented_over_12_months_ago_are_warnings(tmp_path: Path) -> None:
    path = _variant(
        tmp_path,
        (
            'date = 2026-12-07, url = "https://eth-limo',
            'date = 2025-11-30, url = "https://eth-limo',
        ),
    )
    c = load_campaign(path)
    report = check_campaign(c, today=dt.date(2026, 12, 7))
    assert report.ok
    stale = [str(w) for w in report.warnings if "more than 12 months" in str(w)]
    assert len(stale) == 1 and "'ethlimo-gateway': last documented 2025-11-30" in stale[0]


def test_a_malformed_last_documented_is_a_load_error(tmp_path: Path) -> None:
    path = _variant(tmp_path, ("date = 2026-12-07", 'date = "last week"'))
    code, out = _check(path)
    assert code == 2, out
    assert "last_documented.date: expected a date such as 2026-12-07" in out


def test_run_performs_the_check_first(tmp_path: Path) -> None:
    path = _variant(tmp_path, ('namespaces = ["*", "namecoin"]', 'namespaces = ["*"]'))
    db = tmp_path / "x.sqlite"
    result = CliRunner().invoke(main, ["run", "--campaign", str(path), "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert "[namespace-unreached] namespace 'namecoin'" in result.output
    assert not db.exists()


def test_the_lab_plans_campaign_passes_at_every_vantage(tmp_path: Path) -> None:
    # `fragscope demo` and the lab round run these through `fragscope run`, which checks
    # first: every lab endpoint must get tasks. Stand-ins where a running lab keeps its
    # CA, root hints and trust anchor (no lab is started).
    from fragscope.lab import plan
    from fragscope.lab.world import Lab

    lab = Lab(tmp_path / "lab-run")
    stand_in = ". 3600 IN NS a.root.lab.\na.root.lab. 3600 IN A 10.99.0.1\n" + KSK_2024
    for path in (lab.ca_file, lab.paths.conf / "icann.hints", lab.paths.root_anchor):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(stand_in, encoding="utf-8")
    targets = tmp_path / "plan"
    targets.mkdir()
    plan.write_targets(plan.make_plan(lab.truth), targets)
    for vantage in plan.VANTAGES:
        toml = targets / f"{vantage}.toml"
        toml.write_text(plan.campaign_text(lab, vantage, targets, "r1"), encoding="utf-8")
        report = check_campaign(load_campaign(toml))
        assert report.errors == () and report.warnings == (), vantage


def test_a_probe_that_cannot_start_is_a_clean_error(tmp_path: Path) -> None:
    hints = tmp_path / "hints.txt"
    hints.write_text("not a zone file line\n", encoding="utf-8")
    path = _variant(tmp_path, (f'root_hints = "{DATA}/dns/named.root"', f'root_hints = "{hints}"'))
    code, out = _check(path)
    assert code == 2, out
    assert "probes: a probe cannot start: SyntaxError" in out


def test_last_seen_ok_comes_from_stored_successful_rows_per_vantage(
    tmp_path: Path, http_server: Any
) -> None:
    # A real run against a local gateway (answers) and a local JSON-RPC node (fails):
    # only the gateway has a last_seen_ok, for the run's vantage; the check warns when it
    # is more than 12 months old and about the endpoint never seen answering.
    from fragscope.db.guard import open_database
    from fragscope.db.last_seen import last_seen_ok

    gateway = http_server(lambda *_: (200, {"X-Ipfs-Path": "/ipfs/bafy"}, b"hi"))
    broken = http_server(lambda *_: (503, {}, b"busy"))
    names = tmp_path / "names.txt"
    names.write_text("alice.eth\n", encoding="utf-8")
    path = tmp_path / "seen.toml"
    path.write_text(
        f"""
name = "seen"
vantage = "fra-1"
[[targets]]
file = "{names}"
format = "lines"
[[endpoints]]
label = "gateway"
url = "{gateway.url}/"
namespace = "ens"
options = {{ method = "http-gateway", url_template = "{gateway.url}/{{name}}" }}
[[endpoints]]
label = "rpc"
url = "eth+{broken.url}/"
namespace = "ens"
options = {{ method = "eth-rpc" }}
[probes."naming.resolve"]
timeout_s = 5.0
[politeness]
contact = "https://github.com/fragscope/fragscope/issues"
user_agent = "fragscope-test/1.0"
""",
        encoding="utf-8",
    )
    db = tmp_path / "seen.sqlite"
    result = CliRunner().invoke(
        main, ["run", "--campaign", str(path), "--db", str(db), "--auto-migrate"]
    )
    assert result.exit_code == 0, result.output
    seen = last_seen_ok(open_database(str(db)))
    assert set(seen) == {f"{gateway.url}/"} and set(seen[f"{gateway.url}/"]) == {"fra-1"}
    when = seen[f"{gateway.url}/"]["fra-1"]
    c = load_campaign(path)
    recent = check_campaign(c, today=when.date(), last_seen=seen)
    texts = [str(w) for w in recent.warnings if "answer" in str(w)]
    rpc_line = _line(path, 'label = "rpc"')
    assert texts == [
        f"{path}:{rpc_line}: endpoints[1].label: "
        "[endpoint-freshness] endpoint 'rpc': no vantage has seen it answer"
    ]
    later = check_campaign(c, today=when.date() + dt.timedelta(days=400), last_seen=seen)
    assert any(
        f"endpoint 'gateway': last seen answering on {when.date()} (vantage fra-1), "
        "more than 12 months ago" in str(w)
        for w in later.warnings
    )
    code, out = _check_with_db(path, db)
    assert code == 0 and "endpoint 'rpc': no vantage has seen it answer" in out


def _check_with_db(path: Path, db: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["campaign", "check", str(path), "--db", str(db)])
    return result.exit_code, result.output


def test_a_filtering_control_is_an_error(tmp_path: Path) -> None:
    # Quad9's 9.9.9.9 blocks names (malware): as the control, every name it blocks would
    # read as divergence at the test resolvers (N1, C1).
    control = 'url = "https://9.9.9.10/dns-query#dns10.quad9.net"\noperator = "Quad9"\n'
    control += 'role = "control"\nrate = 1.0\n'
    path = _variant(tmp_path, (control + 'filtering = "none"', control + 'filtering = "malware"'))
    code, out = _check(path)
    assert code == 2, out
    assert "[control-filtered] control endpoint 'quad9-unfiltered-doh' filters (malware" in out
    assert "].filtering:" in out


def test_a_control_that_declares_no_filtering_is_an_error_outside_the_lab(
    tmp_path: Path,
) -> None:
    old = 'role = "control"\nrate = 1.0\nfiltering = "none"\n'
    path = _variant(tmp_path, (old, 'role = "control"\nrate = 1.0\n'))
    code, out = _check(path)
    assert code == 2, out
    assert "[control-filtered] control endpoint 'quad9-unfiltered-doh' declares no filtering" in out
    lab = _variant(
        tmp_path,
        (old, 'role = "control"\nrate = 1.0\n'),
        ('blocklist = "', 'allowed = ["127.0.0.0/8", "10.99.0.0/16"]\nblocklist = "'),
    )
    code, out = _check(lab)
    assert code == 0, out


def test_resolvers_without_declared_properties_are_warnings() -> None:
    code, out = _check(DEFAULT)
    assert code == 0, out
    assert "[endpoint-properties] resolver 'yandex-do53' does not declare filtering or " in out
    assert "'adguard-do53' does not declare validates_dnssec" in out
    assert "'quad9-unfiltered-doh' does not declare" not in out


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        ('filtering = "some"', "filtering: expected one of none, malware, family, ads, got 'some'"),
        ('filtering = "none"\nvalidates_dnssec = "no"', "validates_dnssec: expected true or false"),
    ],
)
def test_a_bad_endpoint_property_is_a_load_error(tmp_path: Path, new: str, expected: str) -> None:
    path = _variant(tmp_path, ('filtering = "malware"\nvalidates_dnssec = true', new))
    code, out = _check(path)
    assert code == 2, out
    assert expected in out


def test_a_uns_layer_or_endpoint_the_campaigns_safety_refuses_is_a_warning(
    tmp_path: Path,
) -> None:
    # A UNS layer is contacted like the endpoint's own URL (docs/naming.md, "UNS layers"):
    # on the campaign's blocklist it is listed, named as the layer (a warning: a lab
    # variant of a real campaign refuses every real address on purpose).
    blocklist = tmp_path / "blocklist.conf"
    blocklist.write_text("192.0.2.0/24  # asked not to be measured\n", encoding="utf-8")
    path = _variant(
        tmp_path,
        (
            '{ url = "eth+https://mainnet.base.org/", chain_id = 8453 }',
            '{ url = "eth+http://192.0.2.7:8545/", chain_id = 8453 }',
        ),
        (f'"{DATA}/targets/blocklist.conf"', f'"{blocklist}"'),
    )
    code, out = _check(path)
    assert code == 0, out
    assert (
        "options: [endpoint-blocked] endpoint 'publicnode-eth-uns': its UNS layer "
        "eth+http://192.0.2.7:8545/ goes to 192.0.2.7, which the campaign's [safety] refuses"
    ) in out
    # An endpoint's own URL outside the campaign's allowlist, likewise.
    path = _variant(
        tmp_path,
        ('blocklist = "', 'allowed = ["127.0.0.0/8", "10.99.0.0/16"]\nblocklist = "'),
    )
    code, out = _check(path)
    assert code == 0, out
    assert "[endpoint-blocked] endpoint 'cloudflare-do53': its URL goes to 1.1.1.1" in out


def test_the_dry_run_lists_and_judges_uns_layers(tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    names.write_text("brad.crypto\n", encoding="utf-8")
    campaign = tmp_path / "layers.toml"
    campaign.write_text(
        f"""
name = "layers"
[[targets]]
list = "names"
file = "{names}"
format = "lines"

[[endpoints]]
label = "uns"
url = "eth+http://127.0.0.1:8545/"
namespace = "unstoppable"
options = {{ method = "uns", chain_id = 1, namespaces = ["unstoppable"], layers = [
  {{ url = "eth+http://192.0.2.7:8545/", chain_id = 137 }},
] }}

[probes."naming.resolve"]
""",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["run", "--campaign", str(campaign), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "# endpoint eth+http://127.0.0.1:8545/ -> 127.0.0.1: allowed" in result.output
    assert "# endpoint eth+http://192.0.2.7:8545/ -> 192.0.2.7: BLOCKED" in result.output
    tasks = [line for line in result.output.splitlines() if not line.startswith("#")]
    assert len(tasks) == 1 and tasks[0].endswith("\tblocked_by_policy")
