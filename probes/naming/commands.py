"""Click commands: ``fragscope naming ...`` and ``fragscope probe name NAME``. Thin.

``naming_group`` holds the offline analyses (collisions, namespaces, fidelity);
``name_command`` is attached by the integrator to the engine's ``probe`` group. I/O: the
network (probe name), the database (--store, fidelity) and the terminal.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from fragscope.db.cli_option import DB_OPTION
from fragscope.probes.base import Endpoint, Task
from fragscope.probes.naming.collisions import analyse, render_csv, render_json, render_text
from fragscope.probes.naming.methods import METHODS
from fragscope.probes.naming.namespaces import RegistryError, load_registry, shipped_registry
from fragscope.probes.naming.probe import NamingConfig, NamingProbe, row_dict
from fragscope.probes.safety import NetworkPolicy


@click.group(name="naming")
def naming_group() -> None:
    """Alternative naming systems: namespaces, TLD collisions, bridge fidelity."""


def _registry(path: str | None) -> Any:
    try:
        return load_registry(Path(path)) if path else shipped_registry()
    except RegistryError as exc:
        raise click.UsageError(str(exc)) from exc


@naming_group.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "csv"]),
    default="text",
    show_default=True,
    help="Output format (csv: one row per namespace pair).",
)
@click.option(
    "--registry-dir",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="A directory with namespaces.toml and tlds/ (default: the shipped data).",
)
def collisions(fmt: str, registry_dir: str | None) -> None:
    """TLD collisions between namespaces, the ICANN root and special-use names.

    Counts and shares of each namespace's TLDs that are also ICANN TLDs or special-use
    names, and for every pair of namespaces the common labels and their Jaccard index.
    """
    report = analyse(_registry(registry_dir))
    render = {"text": render_text, "json": render_json, "csv": render_csv}[fmt]
    click.echo(render(report), nl=False)


@naming_group.command()
@click.option(
    "--registry-dir",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="A directory with namespaces.toml and tlds/ (default: the shipped data).",
)
def namespaces(registry_dir: str | None) -> None:
    """List the namespaces, their TLD lists (size, date, source) and access methods."""
    for ns in _registry(registry_dir).namespaces.values():
        click.echo(f"{ns.name}: {ns.title}")
        click.echo(
            f"  tlds: {len(ns.tlds.labels)} ({ns.tlds.coverage}), {ns.tlds.date}, {ns.tlds.source}"
        )
        click.echo(
            f"  methods: {', '.join(ns.methods) or '(none implemented)'}; "
            f"normalisation: {ns.normalization}"
        )


@naming_group.command()
@DB_OPTION
@click.option("--run-id", required=True, help="The run whose bridge rows are judged.")
def fidelity(db_url: str | None, run_id: str) -> None:
    """Judge bridge/gateway rows of a run against its on-chain rows (sets `fidelity`)."""
    from fragscope.db.guard import open_database
    from fragscope.probes.naming.fidelity import update_run

    counts = update_run(open_database(db_url, writes=True), run_id)
    click.echo(json.dumps(counts, sort_keys=True))


@naming_group.command(name="ambiguity")
@DB_OPTION
@click.option("--run-id", required=True, help="The run whose DNS rows are compared.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def ambiguity_command(db_url: str | None, run_id: str, fmt: str) -> None:
    """Names answered differently by different DNS endpoints of a run (RFC 2826)."""
    from dataclasses import asdict

    from fragscope.db.guard import open_database
    from fragscope.probes.naming.ambiguity import ambiguity

    found = ambiguity(open_database(db_url), run_id)
    if fmt == "json":
        click.echo(json.dumps([asdict(a) for a in found], indent=2, ensure_ascii=False))
        return
    for a in found:
        click.echo(f"{a.verdict:<12} {a.namespace}:{a.name}")
        for endpoint, answers in a.answers.items():
            click.echo(f"    {endpoint}: {'; '.join(answers)}")


def _options(pairs: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--option")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


@click.command(name="name")
@click.argument("name")
@click.option("--namespace", default=None, help="Namespace (default: inferred from the TLD).")
@click.option(
    "--method",
    type=click.Choice(sorted(METHODS)),
    default=None,
    help="Access method (default: the namespace's first).",
)
@click.option(
    "--endpoint",
    required=True,
    help="Resolver URL, JSON-RPC URL, gateway URL template ({name}) or Namecoin RPC.",
)
@click.option("--operator", default=None, help="Who runs the endpoint (stored on the row).")
@click.option(
    "--registry",
    "ens_registry",
    default=None,
    help="ENS registry address for the registry walk (default: mainnet 0x00000000000C2E07...2e1e).",
)
@click.option(
    "--universal-resolver",
    default=None,
    help="ENSIP-23 Universal Resolver address, ENS method eth-rpc (default on mainnet: "
    "0xeEeEEEeE14D7...EeEe).",
)
@click.option("--chain-id", type=int, default=None, help="Expected chain id (checked).")
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Extra endpoint option (proxy_reader, host_template, qtypes, ...).",
)
@click.option("--text-key", "text_keys", multiple=True, help="ENS text keys to read.")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds per request.")
@click.option("--store", is_flag=True, help="Also store the rows (an ad-hoc run).")
@DB_OPTION
@click.option("--json", "as_json", is_flag=True, help="JSON lines even on a terminal.")
def name_command(
    name: str,
    namespace: str | None,
    method: str | None,
    endpoint: str,
    operator: str | None,
    ens_registry: str | None,
    universal_resolver: str | None,
    chain_id: int | None,
    options: tuple[str, ...],
    text_keys: tuple[str, ...],
    timeout: float,
    store: bool,
    db_url: str | None,
    as_json: bool,
) -> None:
    """Resolve NAME in its naming system and print the row(s).

    A readable table on a terminal, JSON lines otherwise. Exit 2 when the name is not
    valid in its namespace (the invalid_input row is still printed and stored).
    """
    registry = shipped_registry()
    if namespace is not None and namespace not in registry.namespaces:
        raise click.BadParameter(
            f"unknown namespace {namespace!r}; known: {', '.join(registry.names())}",
            param_hint="--namespace",
        )
    opts = _options(options)
    if method:
        opts["method"] = method
    if ens_registry:
        opts["registry"] = ens_registry
    if universal_resolver:
        opts["universal_resolver"] = universal_resolver
    if chain_id is not None:
        opts["chain_id"] = chain_id
    config = NamingConfig(timeout_s=timeout)
    if text_keys:
        config = NamingConfig(timeout_s=timeout, text_keys=text_keys)
    probe = NamingProbe(config, policy=NetworkPolicy.from_env(), registry=registry)
    ns = namespace or probe.namespace_of(name)
    ep = Endpoint(url=endpoint, operator=operator, namespace=ns, options=opts)
    digest = hashlib.blake2b(f"{ns}\x1f{name}\x1f{endpoint}".encode(), digest_size=8).hexdigest()
    task = Task(
        key=f"naming.resolve:{digest}",
        probe=probe.name,
        target=name,
        endpoint=ep,
        params={"namespace": ns},
        deadline_s=timeout * 6,
    )
    engine = None
    if store:
        from fragscope.db.guard import open_database

        # Checked before measuring: a database that cannot take the row is refused first.
        engine = open_database(db_url, writes=True)
    obs = asyncio.run(probe.measure(task))
    row = row_dict(obs)
    if as_json or not sys.stdout.isatty():
        click.echo(json.dumps(row, default=str, ensure_ascii=False))
    else:
        _print_table(row)
    if engine is not None:
        from fragscope.probes.naming.store import store as store_rows

        run_id = store_rows(engine, [(task.key, obs)], probe=probe.name, version=probe.version)
        click.echo(f"stored in run {run_id}", err=True)
    if obs.failure == "invalid_input":
        sys.exit(2)


def _print_table(row: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    table = Table(title=f"{row['namespace']}: {row['name']}", show_header=False)
    for key in (
        "name_normalized",
        "method",
        "endpoint",
        "endpoint_namespace",
        "endpoint_operator",
        "outcome",
        "failure",
        "failure_detail",
        "chain_id",
        "block_number",
        "resolver_address",
        "wildcard",
        "offchain",
        "latency_ms",
        "depends_on_icann_dns",
    ):
        if row.get(key) is not None:
            # Text(): values come from servers and must not be read as rich markup.
            table.add_row(key, Text(str(row[key])))
    for v in row["values"]:
        label = v["kind"] + (f" [{v['key']}]" if v["key"] else "")
        table.add_row(Text(label), Text(v["value"]))
    console.print(table)
