"""Collision analysis: counts, shares and Jaccard on a hand-computed fixture; the shipped
registry loads and its report renders; the CLI in every format; bad registry files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fragscope.probes.naming.collisions import analyse, render_csv, render_json, render_text
from fragscope.probes.naming.commands import naming_group
from fragscope.probes.naming.namespaces import RegistryError, load_registry, shipped_registry

FIXTURE = Path(__file__).parent / "data" / "naming_registry"

# Hand computation over the fixture lists:
#   icann   = {com, net, org, shop, xyz}              (5)
#   alt     = {geek, shop, free, test}                (4)
#   chain   = {eth, crypto, shop, free, xyz, geek}    (6)
#   special = {test, localhost, onion}                (3)
# alt & icann = {shop}              -> 1, share 1/4
# alt & special = {test}            -> 1, share 1/4
# chain & icann = {shop, xyz}       -> 2, share 2/6
# chain & special = {}              -> 0
# icann|alt = 8 -> J = 1/8;  icann|chain = 9, & = 2 -> 2/9
# alt|chain = 7, & = {geek,shop,free} -> 3/7
# icann|special = 8, & = 0 -> 0;  alt|special = 6, & = {test} -> 1/6;  chain|special = 9 -> 0


def test_fixture_counts_shares_and_jaccard() -> None:
    report = analyse(load_registry(FIXTURE))
    per = {n.namespace: n for n in report.namespaces}
    assert per["alt"].n_tlds == 4 and per["alt"].with_icann == 1
    assert per["alt"].share_icann == pytest.approx(1 / 4)
    assert per["alt"].icann_labels == ["shop"]
    assert per["alt"].special_use_labels == ["test"]
    assert per["alt"].share_special_use == pytest.approx(1 / 4)
    assert per["alt"].coverage == "partial" and per["alt"].list_date == "2026-01-02"
    assert per["chain"].with_icann == 2 and per["chain"].share_icann == pytest.approx(2 / 6)
    assert per["chain"].icann_labels == ["shop", "xyz"]
    assert per["chain"].with_special_use == 0 and per["chain"].share_special_use == 0
    assert per["icann"].share_icann is None  # not compared with itself
    assert per["special-use"].share_special_use is None

    pairs = {(p.a, p.b): p for p in report.pairs}
    assert len(pairs) == 6
    expected = {
        ("icann", "alt"): (1, 8, 1 / 8, ["shop"]),
        ("icann", "chain"): (2, 9, 2 / 9, ["shop", "xyz"]),
        ("alt", "chain"): (3, 7, 3 / 7, ["free", "geek", "shop"]),
        ("icann", "special-use"): (0, 8, 0.0, []),
        ("alt", "special-use"): (1, 6, 1 / 6, ["test"]),
        ("chain", "special-use"): (0, 9, 0.0, []),
    }
    for key, (inter, union, jac, labels) in expected.items():
        p = pairs[key]
        assert (p.intersection, p.union, p.labels) == (inter, union, labels), key
        assert p.jaccard == pytest.approx(jac), key


def test_renderers_agree() -> None:
    report = analyse(load_registry(FIXTURE))
    doc = json.loads(render_json(report))
    assert {p["a"] + "/" + p["b"]: p["intersection"] for p in doc["pairs"]}["alt/chain"] == 3
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    alt_chain = next(r for r in rows if (r["a"], r["b"]) == ("alt", "chain"))
    assert alt_chain["jaccard"] == f"{3 / 7:.4f}" and alt_chain["labels"] == "free geek shop"
    text = render_text(report)
    assert "alt           chain               3      7   0.4286  free, geek, shop" in text


def test_shipped_registry_report() -> None:
    reg = shipped_registry()
    assert {
        "icann",
        "opennic",
        "handshake",
        "namecoin",
        "emercoin",
        "ens",
        "unstoppable",
        "gns",
        "onion",
        "special-use",
    } <= set(reg.names())
    assert len(reg["icann"].tlds.labels) > 1000 and "com" in reg["icann"].tlds.labels
    assert "onion" not in reg["icann"].tlds.labels
    report = analyse(reg)
    pairs = {(p.a, p.b): p for p in report.pairs}
    # Documented collisions (docs/sources.md [S13], [S15]): .coin Emercoin/UD (UD retired
    # it, so the shipped UD list no longer has it), .wallet Handshake/UD.
    assert "wallet" in pairs[("handshake", "unstoppable")].labels
    per = {n.namespace: n for n in report.namespaces}
    assert per["special-use"].with_icann == 0
    assert per["onion"].special_use_labels == ["onion"]


def test_cli_formats() -> None:
    runner = CliRunner()
    for fmt in ("text", "json", "csv"):
        result = runner.invoke(
            naming_group, ["collisions", "--format", fmt, "--registry-dir", str(FIXTURE)]
        )
        assert result.exit_code == 0, result.output
    result = runner.invoke(
        naming_group, ["collisions", "--format", "json", "--registry-dir", str(FIXTURE)]
    )
    assert json.loads(result.output)["pairs"][0]["a"] == "icann"
    result = runner.invoke(naming_group, ["collisions"])
    assert result.exit_code == 0 and "unstoppable" in result.output


def test_bad_registry_files_name_the_line(tmp_path: Path) -> None:
    (tmp_path / "tlds").mkdir()
    (tmp_path / "namespaces.toml").write_text(
        '[namespace.x]\ntitle = "x"\ntld_list = "tlds/x.txt"\nnormalization = "idna"\n'
    )
    (tmp_path / "tlds" / "x.txt").write_text("# source: t\n# date: 2026-01-01\nok\nnot ok\n")
    with pytest.raises(RegistryError, match=r"x\.txt:4: 'not ok'"):
        load_registry(tmp_path)
    (tmp_path / "tlds" / "x.txt").write_text("ok\n")
    with pytest.raises(RegistryError, match="missing '# source:'"):
        load_registry(tmp_path)
    result = CliRunner().invoke(naming_group, ["collisions", "--registry-dir", str(tmp_path)])
    assert result.exit_code == 2 and "source" in result.output


def test_public_endpoints_are_data_and_never_local() -> None:
    from fragscope.probes.endpoints import parse_endpoint_url
    from fragscope.probes.naming.http import depends_on_icann_dns
    from fragscope.probes.naming.methods import METHODS
    from fragscope.probes.naming.public_endpoints import load_public_endpoints
    from fragscope.probes.safety import NetworkPolicy

    endpoints = load_public_endpoints()
    assert len(endpoints) >= 8
    reg = shipped_registry()
    policy = NetworkPolicy.from_env()
    for ep in endpoints:
        assert ep.method in (*METHODS, "discovery"), ep
        assert set(ep.namespaces) <= set(reg.names()), ep
        assert ep.source and ep.last_known_working and ep.status
        # Every public endpoint is reached through an ICANN host name, and the test
        # suite's policy refuses any address such a name could be pinned to here.
        assert ep.depends_on_icann_dns and depends_on_icann_dns(ep.url)
        assert parse_endpoint_url(ep.url).host == ep.url.split("/")[2]
        assert not policy.allows(ep.url.split("/")[2])
