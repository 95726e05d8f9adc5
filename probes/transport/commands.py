"""``fragscope probe transport HOST``: TLS, QUIC, VN and path probes from the command line.

Does I/O (the network, the database with ``--store``). Prints a table on a terminal and
JSON lines otherwise. The engine's ``probe`` group attaches :data:`transport_command`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import socket
import sys
from typing import TYPE_CHECKING, Any

import click

from fragscope.db.cli_option import DB_OPTION
from fragscope.db.vocab import Failure
from fragscope.probes.base import Observation, Task
from fragscope.probes.safety import NetworkPolicy
from fragscope.probes.transport.path import PathConfig, PathProbe
from fragscope.probes.transport.quic import QuicConfig, QuicProbe
from fragscope.probes.transport.quic_wire import VERSION_1, VERSION_2
from fragscope.probes.transport.tls import TlsConfig, TlsProbe
from fragscope.probes.transport.vn import VnConfig, VnProbe

if TYPE_CHECKING:
    from sqlalchemy import Engine


def _addresses(host: str, ips: tuple[str, ...], port: int) -> list[str]:
    for ip in ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise click.BadParameter(f"{ip!r} is not an IP address", param_hint="--ip") from None
    if ips:
        return [ipaddress.ip_address(i).compressed for i in ips]
    try:
        return [ipaddress.ip_address(host).compressed]
    except ValueError:
        pass
    # IPv4 and IPv6 are probed separately when both exist (issue 8).
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise click.BadParameter(f"cannot resolve {host!r}: {exc}", param_hint="HOST") from None
    seen: list[str] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0]).compressed
        if address not in seen:
            seen.append(address)
    return seen


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def observation_record(probe: str, obs: Observation) -> dict[str, Any]:
    """One observation as a JSON-ready dict: envelope, columns, children by table."""
    children: dict[str, list[dict[str, Any]]] = {}
    for table, row in obs.children:
        children.setdefault(table, []).append(row)
    record = {"probe": probe, **obs.envelope(), **obs.fields}
    if children:
        record["children"] = children
    return {k: _plain(v) for k, v in record.items()}


def _summary(probe: str, f: dict[str, Any]) -> str:
    if probe == "transport.tls":
        alt = ",".join(f"{a['alpn']}@{a['host']}:{a['port']}" for a in f.get("alt_svc") or [])
        cert = "valid" if f.get("cert_valid") else (f.get("cert_failure") or "-")
        return (
            f"{f.get('tls_version')} alpn={f.get('alpn')} status={f.get('http_status')} "
            f"server={f.get('http_server')!r} alt-svc={alt or '-'} cert={cert}"
        )
    if probe == "transport.quic":
        hs = f.get("handshake_ms")
        hs_text = f"{hs:.1f}ms" if isinstance(hs, float) else "-"
        return (
            f"stage={f.get('stage')} version={f.get('quic_version_label')} alpn={f.get('alpn')} "
            f"handshake={hs_text} status={f.get('http_status')} server={f.get('http_server')!r}"
        )
    if probe == "transport.quic_vn":
        labels = ",".join(r["label"] for r in f.get("children", {}).get("quic_vn_versions", []))
        return f"reply={f.get('reply')} versions={labels or '-'}"
    return (
        f"{f.get('test')}: {f.get('outcome')} baseline={f.get('baseline')} "
        f"experiment={f.get('experiment')}"
    )


def _print_table(records: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False)
    for column in ("probe", "endpoint", "result", "ms", "details"):
        table.add_column(column)
    for r in records:
        result = r["failure"] or "ok"
        ms = f"{r['duration_ms']:.1f}" if r.get("duration_ms") is not None else "-"
        details = _summary(r["probe"], r)
        if r["failure"]:
            details = f"{r['failed_operation']}: {r['failure_detail']} | {details}"
        # Text(...) never interprets markup: server headers are attacker-controlled.
        table.add_row(*(Text(str(x)) for x in (r["probe"], r["endpoint"], result, ms, details)))
    Console().print(table)


# Versions `--quic-version` accepts, by the labels the rows use (RFC 9000, RFC 9369).
QUIC_VERSIONS = {"v1": VERSION_1, "v2": VERSION_2}


async def _attempts(probe: Any, task: Task, retries: int) -> list[Observation]:
    """Every attempt of one task: another one while the probe marks its row retryable
    (a lost Initial or SYN on a lossy path), at most ``retries`` more, like the engine."""
    done = [await probe.measure(task)]
    while done[-1].retryable and len(done) <= retries:
        done.append(await probe.measure(task))
    return done


async def _run(jobs: list[tuple[Any, Task]], retries: int = 0) -> list[list[Observation]]:
    return list(await asyncio.gather(*(_attempts(p, t, retries) for p, t in jobs)))


def _store(
    engine: Engine,
    jobs: list[tuple[Any, Task]],
    results: list[list[Observation]],
    config: dict[str, Any],
    started: dt.datetime,
) -> int:
    from fragscope.db.writer import Writer
    from fragscope.probes.transport.store import cli_run_rows, observation_rows

    run_id, vid, rows = cli_run_rows(
        label="cli", config=config, started_at=started, finished_at=dt.datetime.now(dt.UTC)
    )
    for (probe, task), attempts in zip(jobs, results, strict=True):
        for attempt, obs in enumerate(attempts):
            rows += observation_rows(
                obs,
                task,
                run_id=run_id,
                vantage=vid,
                probe=probe.name,
                probe_version=probe.version,
                attempt=attempt,
            )
    Writer(engine).write(rows)
    engine.dispose()
    return len(rows)


@click.command("transport")
@click.argument("host")
@click.option(
    "--ip", "ips", multiple=True, help="Address to test (repeatable); default: resolve HOST."
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=443,
    show_default=True,
    help="TCP and UDP port.",
)
@click.option("--no-quic", is_flag=True, help="Skip the QUIC handshake.")
@click.option(
    "--quic-version",
    "quic_versions",
    multiple=True,
    type=click.Choice(sorted(QUIC_VERSIONS)),
    help="One QUIC task offering only this version (repeatable); default: one task "
    "offering v1 and v2.",
)
@click.option("--vn", is_flag=True, help="Also send a Version Negotiation probe.")
@click.option("--path", "path_tests", is_flag=True, help="Also run the scapy path tests (root).")
@click.option(
    "--ca-file", type=click.Path(exists=True, dir_okay=False), help="Extra trust anchor (PEM)."
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 120),
    default=5.0,
    show_default=True,
    help="Per-step deadline in seconds.",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 10),
    default=0,
    show_default=True,
    help="Extra attempts for a retryable failure (no reply, timeout); each is a row.",
)
@click.option("--store", is_flag=True, help="Also store the rows in the database.")
@DB_OPTION
@click.option(
    "--json/--table",
    "as_json",
    default=None,
    help="Output format (default: table on a terminal, JSON lines otherwise).",
)
def transport_command(
    host: str,
    ips: tuple[str, ...],
    port: int,
    no_quic: bool,
    quic_versions: tuple[str, ...],
    vn: bool,
    path_tests: bool,
    ca_file: str | None,
    timeout: float,
    retries: int,
    store: bool,
    db_url: str | None,
    as_json: bool | None,
) -> None:
    """Probe HOST over TCP+TLS and QUIC (and optionally VN and path tests), per address."""
    started = dt.datetime.now(dt.UTC)
    addresses = _addresses(host, ips, port)
    policy = NetworkPolicy.from_env()
    sni = None if _is_ip(host) else host
    probes: list[Any] = [
        TlsProbe(
            TlsConfig(
                port=port,
                ca_file=ca_file,
                connect_timeout_s=timeout,
                handshake_timeout_s=timeout,
                http_timeout_s=timeout,
            ),
            policy=policy,
        )
    ]
    if not no_quic:
        # Without --quic-version one task offers v1 then v2; with it, one task per version
        # offering that version alone, so each version's handshake is measured on its own.
        offers: list[tuple[int, ...]] = [
            (QUIC_VERSIONS[v],) for v in dict.fromkeys(quic_versions)
        ] or [(VERSION_1, VERSION_2)]
        for versions in offers:
            quic_config = QuicConfig(
                port=port,
                ca_file=ca_file,
                versions=versions,
                handshake_timeout_s=timeout,
                http_timeout_s=timeout,
            )
            probes.append(QuicProbe(quic_config, policy=policy))
    if vn:
        probes.append(VnProbe(VnConfig(port=port, timeout_s=min(timeout, 2.0)), policy=policy))
    if path_tests:
        probes.append(PathProbe(PathConfig(port=port, timeout_s=min(timeout, 2.0)), policy=policy))
    jobs: list[tuple[Any, Task]] = []
    for address in addresses:
        for probe in probes:
            for tp in probe.tasks_for(host, None):
                params = {"address": address, "port": port, "sni": sni, **tp.params}
                key = f"cli/{probe.name}/{host}/{address}/{port}/{tp.key_suffix}"
                if quic_versions and isinstance(probe, QuicProbe):
                    offered = "+".join(f"{v:08x}" for v in probe.config.versions)
                    key += f"/{offered}"
                jobs.append(
                    (
                        probe,
                        Task(
                            key=key,
                            probe=probe.name,
                            target=host,
                            params=params,
                            deadline_s=timeout * 3,
                        ),
                    )
                )
    from fragscope.db.guard import open_to_store

    # Before measuring: a database that cannot take the rows is refused first.
    engine = open_to_store(db_url) if store else None
    results = asyncio.run(_run(jobs, retries))
    records = [
        {"attempt": attempt, **observation_record(p.name, o)}
        for (p, _), attempts in zip(jobs, results, strict=True)
        for attempt, o in enumerate(attempts)
    ]
    if as_json is None:
        as_json = not sys.stdout.isatty()
    if as_json:
        for r in records:
            click.echo(json.dumps(r, ensure_ascii=False, sort_keys=False))
    else:
        _print_table(records)
    if engine is not None:
        config = {
            "host": host,
            "addresses": addresses,
            "port": port,
            "quic": not no_quic,
            "quic_versions": list(quic_versions),
            "retries": retries,
            "vn": vn,
            "path": path_tests,
        }
        n = _store(engine, jobs, results, config, started)
        click.echo(f"stored {n} rows", err=True)
    if any(o.failure == Failure.UNKNOWN_FAILURE for attempts in results for o in attempts):
        sys.exit(1)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
