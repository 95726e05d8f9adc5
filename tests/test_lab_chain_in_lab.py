"""The lab's chain group (part 2): ganache and the CCIP-read gateway on their lab addresses
inside fs-net, deployed by `lab up`. The planted-fact tests of tests/test_lab_chain.py
(raw eth_call over JSON-RPC, real HTTP to the gateway) run again here against the lab's
chain: this module's ``chain_lab`` fixture overrides the loopback one for them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import cast

import pytest
from click.testing import CliRunner

from fragscope.cli import main
from fragscope.lab.chain.rpc import JsonRpc
from fragscope.lab.world import Lab
from tests.fixtures.chain import ChainLab

# Imported so pytest collects them in this module, where `chain_lab` is the lab's chain.
from tests.test_lab_chain import (  # noqa: F401
    test_chain_json_holds_the_facts,
    test_contracts_sit_at_the_truth_addresses,
    test_deploy_refuses_a_used_chain,
    test_ens_addr,
    test_ens_contenthash,
    test_ens_hostile_text_record_is_planted_verbatim,
    test_ens_multicoin_addr,
    test_ens_name_without_resolver,
    test_ens_text_records,
    test_ens_unregistered_name,
    test_offchain_forged_answer_is_rejected_by_the_callback,
    test_offchain_gateway_failure_is_an_http_error,
    test_offchain_lookup_revert_data,
    test_offchain_records_through_gateway,
    test_uns_get_data_through_the_proxy_reader,
    test_uns_records_read_back,
    test_uns_tlds_minted,
    test_uns_unminted_name,
    test_wildcard_rejects_bad_requests,
    test_wildcard_resolves_any_label,
)

pytestmark = pytest.mark.lab


@pytest.fixture
def chain_lab(lab: Lab) -> Iterator[ChainLab]:
    """The lab's own chain, shaped like tests.fixtures.chain.ChainLab."""
    c = lab.truth.chain
    assert c is not None
    facts = json.loads(lab.chain_json.read_text())
    view = SimpleNamespace(
        chain=SimpleNamespace(url=c.rpc_url),
        gateway=SimpleNamespace(url=c.gateway_url),
        facts=SimpleNamespace(**facts),
        truth=c.plan,
        rpc=JsonRpc(c.rpc_url),
        run_dir=lab.run_dir,
    )
    yield cast(ChainLab, view)


def test_chain_runs_on_its_lab_addresses(lab: Lab) -> None:
    c = lab.truth.chain
    assert c is not None
    facts = json.loads(lab.chain_json.read_text())
    # The naming probe reads these: where to call, and which registry/reader to ask.
    assert facts["rpc_url"] == c.rpc_url == "http://10.99.90.1:8545"
    assert facts["gateway_url"] == c.gateway_url
    assert facts["addresses"]["ens_registry"] == c.plan.addresses["ens_registry"]
    assert {"uns_registry", "proxy_reader"} <= set(facts["addresses"])
    rows = [r for r in lab.status() if r.group == c.group]
    assert {(r.service, r.address, r.port, r.health) for r in rows} == {
        ("ganache", c.rpc_address, c.rpc_port, "ok"),
        ("ccip-gateway", c.gateway_address, c.gateway_port, "ok"),
        *((b.name, b.address, b.port, "ok") for b in c.bridges),
    }


def test_up_without_node_modules_exits_2(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    import fragscope.lab.chain.component as chain_component

    monkeypatch.setattr(
        chain_component, "GANACHE_CLI", chain_component.NODE_MODULES / "no-such-ganache.js"
    )
    result = CliRunner().invoke(main, ["lab", "up", "--dir", str(lab.run_dir), "--only", "chain"])
    assert result.exit_code == 2
    assert "make npm" in result.output
    # Nothing was touched: the session lab still answers.
    assert all(r.health == "ok" for r in lab.status() if r.group == "chain")


def test_up_without_caddy_or_node_exits_2(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda p: None if p in {"caddy", "node"} else real(p))
    result = CliRunner().invoke(main, ["lab", "up", "--dir", str(lab.run_dir)])
    assert result.exit_code == 2
    assert "caddy is not installed" in result.output and "node is not installed" in result.output
    monkeypatch.undo()
    assert all(r.health == "ok" for r in lab.status() if r.group in {"web", "chain"})
