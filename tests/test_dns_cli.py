"""``fragscope probe dns`` through click's CliRunner, against the loopback DNS world."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from fragscope.db.connection import make_engine
from fragscope.probes.dns.commands import dns_command
from tests.dns.world import DnsWorld


def test_help() -> None:
    result = CliRunner().invoke(dns_command, ["--help"])
    assert result.exit_code == 0 and "--resolver" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a..b"], "NAME: empty label"),
        (["www.example.test", "-t", "BOGUS", "-r", "udp://127.0.0.1"], "--type: unknown"),
        (["www.example.test", "-r", "udp://resolver.test"], "--resolver: udp://resolver.test"),
        (["www.example.test"], "give at least one --resolver"),
        (["www.example.test", "--iterative"], "--iterative needs --root-hints"),
    ],
)
def test_bad_input_exits_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(dns_command, args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_json_lines_and_store(dns_world: DnsWorld, sqlite_url: str) -> None:
    args = [
        "www.example.test",
        "-t", "A",
        "-t", "HTTPS",
        "-r", dns_world.urls["udp"],
        "-r", dns_world.urls["tls"],
        "--control", dns_world.urls["tcp"],
        "--ca-file", dns_world.ca_file,
        "--iterative",
        "--root-hints", str(dns_world.files["hints"]),
        "--trust-anchor", str(dns_world.files["anchor"]),
        "--store",
        "--db", sqlite_url,
    ]  # fmt: skip
    result = CliRunner().invoke(dns_command, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2 + 3 * 2  # iterative x 2 types, 3 resolvers x 2 types
    roles = {(r["endpoint"], r["resolver_role"]) for r in lines if r["endpoint"]}
    assert (dns_world.urls["tcp"], "control") in roles
    assert all(r["failure"] is None for r in lines), [r["failure_detail"] for r in lines]
    iterative = [r for r in lines if r["endpoint"] is None]
    assert {r["validation"] for r in iterative} == {"secure"}
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "select resolver_role, transport, qtype, value, svc_alpn from dns_answers_flat "
                "where rtype in ('A', 'HTTPS') and section = 'answer' order by 1, 2, 3"
            )
        ).all()
        steps = conn.execute(text("select count(*) from dns_iterative_steps")).scalar_one()
        run = conn.execute(text("select status, campaign from runs")).one()
    engine.dispose()
    assert ("control", "tcp", "A", "127.80.0.1", None) in rows
    assert any(r[2] == "HTTPS" and r[4] == "h3,h2" for r in rows)
    assert len([r for r in rows if r[2] == "A"]) == 4  # 3 resolvers + iteration
    assert steps > 0 and run == ("finished", "probe dns")


def test_observation_rows_match_the_writer_spec() -> None:
    """The fast row builder puts every value in the column the writer's spec expects."""
    import datetime as dt

    from fragscope.db.ids import child_id, row_id
    from fragscope.db.writer import datetime_text, spec_for
    from fragscope.probes.base import Endpoint, Observation, Task
    from fragscope.probes.dns.rows import observation_rows

    obs = Observation(
        table="dns_observations",
        target="www.example.test",
        endpoint="udp://127.0.0.1",
        started_at=dt.datetime(2026, 11, 28, tzinfo=dt.UTC),
        duration_ms=1.5,
        fields={"qname": "www.example.test.", "qtype": "A", "rcode": 0, "flag_ad": True},
        children=[("dns_answers", {"section": "answer", "position": 0, "name": "x.", "rtype": "A",
                                   "ttl": 5, "value": "127.0.0.1"})],
    )  # fmt: skip
    task = Task(key="k", probe="dns.query", target="www.example.test",
                endpoint=Endpoint(url="udp://127.0.0.1"))  # fmt: skip
    rows = observation_rows(obs, run_id="r", vantage="v", task=task, probe="dns.query", version=1)
    (spec, row), (child_spec, child) = rows
    rid = row_id("r", "k", 0)
    expected = spec.row(
        id=rid, run_id="r", vantage_id="v", task_key="k", attempt=0, probe="dns.query",
        probe_version=1, target="www.example.test", endpoint="udp://127.0.0.1",
        started_at=obs.started_at, duration_ms=1.5, **obs.fields,
    )  # fmt: skip
    # The fast builder keeps the datetime (the writer's adapter formats it on its own
    # thread); TableSpec.row hands over the same stored text.
    stored = tuple(datetime_text(v) if isinstance(v, dt.datetime) else v for v in row)
    assert stored == expected
    assert child == spec_for("dns_answers").row(
        id=child_id(rid, 0), observation_id=rid, **obs.children[0][1]
    )
    assert child_spec.name == "dns_answers"
