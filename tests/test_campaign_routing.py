"""Routing: every canary of campaigns/default.toml is planned against its own namespace.

Dry-run planning only (probes/engine/planonly.py): nothing is sent. A list line may name
the namespace its TLD cannot (``jesse.cb.id ens``); the Handshake TLD data covers the
Handshake canaries; Basenames (``*.base.eth``) are ENS names.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from fragscope.probes.engine.campaign import CampaignError, TargetSource, load_campaign
from fragscope.probes.engine.planonly import build_policy, planning_runner
from fragscope.probes.engine.targets import TargetEntry, read_targets, validate

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "campaigns" / "default.toml"

# The namespace each canary belongs to, from the projects' own naming (not from the code).
EXPECTED = {
    "vitalik.eth": "ens",
    "ur.gtest.eth": "ens",
    "331.moo.nft-owner.eth": "ens",
    "jesse.base.eth": "ens",
    "jesse.cb.id": "ens",
    "brad.crypto": "unstoppable",
    "welcome.nb": "handshake",
    "rough": "handshake",
    "opennic.glue": "opennic",
    "register.geek": "opennic",
    "nx.bit": "namecoin",
}


def test_every_canary_is_planned_against_endpoints_of_its_namespace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FRAGSCOPE_ALLOWED_NETS", "127.0.0.0/8")
    campaign = load_campaign(DEFAULT)
    asked: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for task in planning_runner(campaign, policy=build_policy(campaign)).tasks():
        if task.probe == "naming.resolve" and task.endpoint is not None:
            ep = task.endpoint
            asked[task.target].add((str(task.params["namespace"]), ep.label or ep.url))
    labels_of = defaultdict(set)
    for ep in campaign.endpoints:
        for ns in {ep.namespace, *ep.options.get("namespaces", ())}:
            labels_of[ns].add(ep.label)
    for name, namespace in EXPECTED.items():
        assert asked[name], name
        assert {ns for ns, _ in asked[name]} == {namespace}, (name, asked[name])
        own = {label for _, label in asked[name]} & labels_of[namespace]
        assert own, (name, asked[name])
    ens_rpc = {"publicnode-eth", "drpc-eth"}
    for name in ("jesse.cb.id", "jesse.base.eth"):
        assert ens_rpc <= {label for _, label in asked[name]}, name
    # UNS on L1, Polygon and Base, two providers each; OpenNIC through its GeoIP API.
    uns = {"publicnode-eth-uns", "drpc-eth-uns", "drpc-polygon", "publicnode-polygon"}
    uns |= {"base-uns", "publicnode-base-uns"}
    assert uns <= {label for _, label in asked["brad.crypto"]}
    for name in ("opennic.glue", "register.geek", "nx.bit"):
        assert "opennic-geoip" in {label for _, label in asked[name]}, name
    handshake = {"hnsdoh-doh", "hnsto-gateway"}
    for name in ("welcome.nb", "rough"):
        assert handshake <= {label for _, label in asked[name]}, name


def _lines(tmp_path: Path, text: str) -> TargetSource:
    path = tmp_path / "names.txt"
    path.write_text(text, encoding="utf-8")
    return TargetSource("names", path, "lines", namespace="mixed")


def test_a_lines_list_may_name_a_namespace_after_the_name(tmp_path: Path) -> None:
    source = _lines(tmp_path, "# c\nvitalik.eth\njesse.cb.id   ens\n")
    assert list(read_targets(source)) == [
        TargetEntry("vitalik.eth", None, None),
        TargetEntry("jesse.cb.id", None, None, "ens"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a.example ens extra", "expected a name and at most a namespace, got 3 columns"),
        ("a.example Bad_NS", "namespace 'Bad_NS' is not a namespace label"),
    ],
)
def test_a_bad_namespace_column_names_the_line(tmp_path: Path, line: str, message: str) -> None:
    source = _lines(tmp_path, f"ok.example\n{line}\n")
    with pytest.raises(CampaignError) as err:
        validate(source)
    assert str(err.value) == f"{source.path}:2: {message}"
