"""`fragscope probe name` (name_command) and `fragscope naming ...` through click's CliRunner:
JSON lines off a terminal, --store into a migrated database, exit 2 on bad input, help."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import Engine, text

from fragscope.cli import main
from fragscope.probes.naming.commands import name_command, naming_group
from tests.fixtures.naming import ALICE_ADDR, HOSTILE_TEXT, DnsViews, EnsWorld


def test_probe_name_prints_json_and_stores(
    ens_world: EnsWorld, migrated_engine: Engine, sqlite_url: str
) -> None:
    result = CliRunner().invoke(
        name_command,
        [
            "alice.eth",
            "--endpoint",
            ens_world.chain.url,
            "--registry",
            ens_world.registry,
            "--universal-resolver",
            ens_world.universal,
            "--chain-id",
            "1337",
            "--operator",
            "lab",
            "--store",
            "--db",
            sqlite_url,
        ],
    )
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout.splitlines()[0])
    assert row["namespace"] == "ens" and row["method"] == "eth-rpc"
    assert {"kind": "addr", "key": "60", "value": ALICE_ADDR, "raw": None} in row["values"]
    with migrated_engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT o.endpoint_operator, o.outcome, v.value FROM naming_observations o "
                "JOIN naming_values v ON v.observation_id = o.id WHERE v.kind = 'addr' "
                "AND v.key = '60'"
            )
        ).one()
        run = conn.execute(text("SELECT campaign, status FROM runs")).one()
        hostile = conn.execute(
            text("SELECT value, raw FROM naming_values WHERE key = 'description'")
        ).one()
    assert tuple(stored) == ("lab", "resolved", ALICE_ADDR)
    assert tuple(run) == ("adhoc:probe-name", "finished")
    assert hostile.value == HOSTILE_TEXT.replace("\x00", "\ufffd")
    assert bytes.fromhex(hostile.raw[2:]).decode() == HOSTILE_TEXT


def test_probe_name_dns_method_and_options(dns_views: DnsViews) -> None:
    result = CliRunner().invoke(
        name_command,
        [
            "www.libre",
            "--endpoint",
            dns_views.alt,
            "--option",
            'qtypes=["A"]',
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)
    assert row["namespace"] == "opennic" and row["values"][0]["value"] == "127.81.0.70"


def test_probe_name_bad_input_exits_2(ens_world: EnsWorld) -> None:
    runner = CliRunner()
    invalid = runner.invoke(name_command, ["a..eth", "--endpoint", ens_world.chain.url])
    assert invalid.exit_code == 2
    assert json.loads(invalid.output)["failure"] == "invalid_input"
    unknown = runner.invoke(name_command, ["x.eth", "--namespace", "nope", "--endpoint", "x"])
    assert unknown.exit_code == 2 and "--namespace" in unknown.output
    no_endpoint = runner.invoke(name_command, ["alice.eth"])
    assert no_endpoint.exit_code == 2 and "--endpoint" in no_endpoint.output
    bad_option = runner.invoke(name_command, ["alice.eth", "--endpoint", "x", "--option", "zz"])
    assert bad_option.exit_code == 2 and "KEY=VALUE" in bad_option.output


def test_probe_name_refuses_unmigrated_database(ens_world: EnsWorld, tmp_path) -> None:
    result = CliRunner().invoke(
        name_command,
        [
            "alice.eth",
            "--endpoint",
            ens_world.chain.url,
            "--registry",
            ens_world.registry,
            "--store",
            "--db",
            f"sqlite:///{tmp_path / 'empty.sqlite'}",
        ],
    )
    assert result.exit_code == 2 and "db upgrade" in result.output


def test_every_naming_command_has_help() -> None:
    runner = CliRunner()
    for args in (
        ["naming", "--help"],
        ["naming", "collisions", "--help"],
        ["naming", "namespaces", "--help"],
        ["naming", "fidelity", "--help"],
    ):
        result = runner.invoke(main, args)
        assert result.exit_code == 0 and "Usage" in result.output, args
    assert runner.invoke(name_command, ["--help"]).exit_code == 0
    listing = runner.invoke(naming_group, ["namespaces"])
    assert listing.exit_code == 0 and "unstoppable" in listing.output


def test_tasks_for_matches_endpoint_namespaces() -> None:
    from fragscope.probes.base import Endpoint
    from fragscope.probes.naming.probe import NamingProbe

    probe = NamingProbe()
    ens_rpc = Endpoint(url="http://127.0.0.1:8545", namespace="ens")
    alt_dns = Endpoint(url="udp://127.0.0.1", namespace="opennic")
    every = Endpoint(url="udp://127.0.0.1", namespace="icann", options={"namespaces": ["*"]})
    assert [t.params["namespace"] for t in probe.tasks_for("alice.eth", ens_rpc)] == ["ens"]
    assert list(probe.tasks_for("www.libre", ens_rpc)) == []
    assert [t.params["namespace"] for t in probe.tasks_for("www.libre", alt_dns)] == ["opennic"]
    assert [t.params["namespace"] for t in probe.tasks_for("www.libre", every)] == ["opennic"]
    assert [t.params["namespace"] for t in probe.tasks_for("example.com", every)] == ["icann"]
    assert list(probe.tasks_for("alice.eth", None)) == []
    # A TLD in several namespaces goes to the alternative one (collision), e.g. .wallet.
    assert probe.namespace_of("x.wallet") in ("handshake", "unstoppable")
    assert probe.namespace_of("x.onion") == "onion"
