"""``fragscope probe dns NAME``: run the DNS probes once and print (or store) the rows.

Thin: checks the options, builds tasks, runs ``dns.query`` (or ``dns.iterative``), and
prints JSON lines (not a terminal) or a dig-like table (a terminal). Does I/O.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from fragscope.db.cli_option import DB_OPTION
from fragscope.db.vocab import Role

if TYPE_CHECKING:
    from sqlalchemy import Engine


def _fail(message: str) -> None:
    click.echo(f"fragscope: error: {message}", err=True)
    sys.exit(2)


@click.command(name="dns")
@click.argument("name")
@click.option(
    "-t",
    "--type",
    "qtypes",
    multiple=True,
    metavar="TYPE",
    help="Record type (A, AAAA, HTTPS, TYPE65, ...); repeatable. Default: A.",
)
@click.option(
    "-r",
    "--resolver",
    "resolvers",
    multiple=True,
    metavar="URL",
    help="Resolver URL: udp://IP[:port], tcp://, tls://IP:853#authname, "
    "https://IP/dns-query#authname, quic://IP:853#authname; repeatable.",
)
@click.option("--control", metavar="URL", help="Also ask this resolver, with role control.")
@click.option("--iterative", is_flag=True, help="Resolve from root hints (dns.iterative).")
@click.option(
    "--root-hints",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Root hints file (zone-file lines: NS and A/AAAA of the roots); with --iterative.",
)
@click.option(
    "--trust-anchor",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Root DNSKEY/DS lines to validate DNSSEC from (with --iterative); default: the "
    "shipped IANA root anchors.",
)
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False),
    help="CA bundle for tls://, https:// and quic:// resolvers.",
)
@click.option(
    "--doh-method",
    type=click.Choice(["post", "get"]),
    default="post",
    show_default=True,
    help="RFC 8484 request method for https:// resolvers.",
)
@click.option("--timeout", default=3.0, show_default=True, type=click.FloatRange(min=0.01))
@click.option("--no-dnssec", is_flag=True, help="Do not set the DO bit.")
@click.option("--store", is_flag=True, help="Also store the observations in the database.")
@DB_OPTION
@click.option("--wire", is_flag=True, help="Include the raw response (hex) in JSON output.")
def dns_command(
    name: str,
    qtypes: tuple[str, ...],
    resolvers: tuple[str, ...],
    control: str | None,
    iterative: bool,
    root_hints: Path | None,
    trust_anchor: Path | None,
    ca_file: str | None,
    doh_method: str,
    timeout: float,
    no_dnssec: bool,
    store: bool,
    db_url: str | None,
    wire: bool,
) -> None:
    """Ask resolvers (or iterate from the roots) for NAME and print every attempt."""
    from fragscope.probes.base import Endpoint
    from fragscope.probes.dns import codec
    from fragscope.probes.dns.names import InvalidName, normalize
    from fragscope.probes.dns.resolvers import BadResolverURL, parse_resolver

    try:
        normalize(name)
    except InvalidName as exc:
        _fail(f"NAME: {exc}")
    types = [t.upper() for t in qtypes] or ["A"]
    for t in types:
        try:
            codec.type_code(t)
        except ValueError as exc:
            _fail(f"--type: {exc}")
    endpoints: list[Endpoint] = []
    for url, role in [(u, Role.TEST) for u in resolvers] + (
        [(control, Role.CONTROL)] if control else []
    ):
        try:
            parse_resolver(url)
        except BadResolverURL as exc:
            _fail(f"--resolver: {exc}")
        endpoints.append(Endpoint(url=url, role=role))
    if iterative:
        if root_hints is None:
            _fail("--iterative needs --root-hints FILE (fragscope never assumes the real roots)")
    elif not endpoints:
        _fail("give at least one --resolver URL (or --iterative --root-hints FILE)")

    from fragscope.db.guard import open_to_store

    # Before measuring: a database that cannot take the rows is refused first.
    engine = open_to_store(db_url) if store else None
    pairs = asyncio.run(
        _measure(
            name,
            types,
            endpoints,
            iterative=iterative,
            root_hints=root_hints,
            trust_anchor=trust_anchor,
            ca_file=ca_file,
            timeout=timeout,
            dnssec=not no_dnssec,
            doh_method=doh_method,
        )
    )
    if engine is not None:
        _store(pairs, engine)
    if sys.stdout.isatty():
        _print_table(pairs)
    else:
        from fragscope.probes.dns.rows import as_json

        for task, obs in pairs:
            click.echo(
                json.dumps(as_json(task, obs, keep_wire=wire), default=str, ensure_ascii=False)
            )
    sys.exit(1 if any(o.failure == "unknown_failure" for _, o in pairs) else 0)


async def _measure(
    name: str,
    types: list[str],
    endpoints: list[Any],
    *,
    iterative: bool,
    root_hints: Path | None,
    trust_anchor: Path | None,
    ca_file: str | None,
    timeout: float,
    dnssec: bool,
    doh_method: str = "post",
) -> list[tuple[Any, Any]]:
    from fragscope.probes.base import FollowUp, Task
    from fragscope.probes.dns.query import DnsQueryConfig, DnsQueryProbe
    from fragscope.probes.safety import NetworkPolicy

    policy = NetworkPolicy.from_env()
    pairs: list[tuple[Task, Any]] = []
    if iterative:
        from fragscope.probes.dns.iterative import DnsIterativeConfig, DnsIterativeProbe

        it = DnsIterativeProbe(
            DnsIterativeConfig(
                qtypes=tuple(types),
                root_hints=str(root_hints),
                trust_anchor=str(trust_anchor) if trust_anchor else None,
                timeout_s=timeout,
            ),
            policy=policy,
        )
        for t in types:
            task = Task(
                key=f"{name}/iterative/{t}", probe=it.name, target=name, params={"qtype": t}
            )
            pairs.append((task, await it.measure(task)))
    if endpoints:
        probe = DnsQueryProbe(
            DnsQueryConfig(
                qtypes=tuple(types),
                ca_file=ca_file,
                timeout_s=timeout,
                dnssec_ok=dnssec,
                doh_method=doh_method,
            ),
            policy=policy,
        )
        try:
            tasks = [
                Task(
                    key=f"{name}/{ep.url}/{t}",
                    probe=probe.name,
                    target=name,
                    endpoint=ep,
                    params={"qtype": t},
                )
                for ep in endpoints
                for t in types
            ]
            while tasks:
                results = await probe.measure_many(tasks)
                pairs.extend(zip(tasks, results, strict=True))
                follow: list[Task] = []
                for task, obs in zip(tasks, results, strict=True):
                    for fu in obs.follow_ups:
                        assert isinstance(fu, FollowUp)
                        follow.append(
                            Task(
                                key=f"{task.key}/{fu.key_suffix}",
                                probe=fu.probe,
                                target=fu.target,
                                endpoint=fu.endpoint,
                                params=fu.params,
                                parent_key=task.key,
                            )
                        )
                tasks = follow
        finally:
            await probe.close()
        pairs.extend(probe.drain_late())
    return pairs


def _store(pairs: list[tuple[Any, Any]], engine: Engine) -> None:
    from fragscope.probes.dns.rows import finish_run, sequence_counts, start_run, store_observations

    run_id, vantage = start_run(engine, campaign="probe dns")
    for probe_name in {t.probe for t, _ in pairs}:
        from fragscope.probes.registry import get

        cls = get(probe_name)
        store_observations(
            engine,
            [(t, o) for t, o in pairs if t.probe == probe_name],
            run_id=run_id,
            vantage=vantage,
            probe=probe_name,
            version=cls.version,
        )
    finish_run(engine, run_id, counts=sequence_counts([o for _, o in pairs]), exit_code=0)
    click.echo(f"stored {len(pairs)} observations in run {run_id}", err=True)


def _print_table(pairs: list[tuple[Any, Any]]) -> None:
    for _task, obs in pairs:
        f = obs.fields
        flags = " ".join(n for n in ("aa", "tc", "rd", "ra", "ad", "cd") if f.get(f"flag_{n}"))
        head = (
            f";; {obs.target} {f.get('qtype')} via {obs.endpoint or 'iteration'}"
            f" ({f.get('transport') or '-'}): {f.get('rcode_name') or '-'}"
            f" flags: {flags or '-'}"
        )
        if f.get("rtt_ms") is not None:
            head += f"  rtt {f['rtt_ms']:.1f} ms"
        if f.get("validation"):
            head += f"  dnssec {f['validation']}"
        click.echo(head)
        if obs.failure:
            click.echo(f";; failure: {obs.failure} ({obs.failed_operation}): {obs.failure_detail}")
        if f.get("ede"):
            for code, text in f["ede"]:
                click.echo(f";; EDE {code}: {text}")
        for table, row in obs.children:
            if table == "dns_answers":
                click.echo(
                    f"{row['name']:<32} {row['ttl']:>7} IN {row['rtype']:<7} {row['value']}"
                    + ("" if row["section"] == "answer" else f"   ; {row['section']}")
                )
            elif table == "dns_iterative_steps":
                click.echo(
                    f";   step {row['step']} {row['zone']:<18} @{row['server_address']:<15}"
                    f" {row['qname']} {row['qtype']} -> {row['outcome']}"
                )
        click.echo("")
