"""Part 2's services as lab Service records: the web hosts and the chain. No I/O except
:func:`write_web_files` (config files into the run directory) and :func:`deploy_chain`
(JSON-RPC to the lab's ganache, chain.json into the run directory).

Web hosts come from truth.toml's ``[web.*]`` through lab.web's argv/config builders and
use the lab PKI's certificate (its ``*.example.test`` SAN covers every host name). The
chain is ganache (``chain_service_argv``) and the CCIP-read gateway
(``gateway_service_argv``) on the addresses of ``[chain]``; :func:`deploy_chain` runs
after both answer (the lab's post-start step).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from fragscope.lab.chain.artifacts import NODE_MODULES
from fragscope.lab.chain.service import CHAIN_ID, GANACHE_CLI, chain_service_argv
from fragscope.lab.health_web import GatewayCheck, QuicCheck, RpcCheck, TlsHttpCheck
from fragscope.lab.render import RunPaths
from fragscope.lab.services import Listener, Service
from fragscope.lab.truth import QUIC_VERSIONS, Truth
from fragscope.lab.truth import WebHost as WebFact
from fragscope.lab.web import hosts as web_hosts
from fragscope.lab.web.hosts import WebHost

# lab.* must be importable inside the namespace, installed or not (as for lab.doq).
PYTHONPATH = {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}


def _retry_host(
    addresses: list[str], port: int, cert: Path, key: Path, run_dir: Path, *, name: str
) -> WebHost:
    # lab.web's Retry server binds one address (truth.py requires exactly one).
    return web_hosts.aioquic_retry(addresses[0], port, cert, key, run_dir, name=name)


BUILDERS: dict[str, Callable[..., WebHost]] = {
    "h3": web_hosts.hypercorn_h3,
    "caddy": web_hosts.caddy,
    "tcponly": web_hosts.hypercorn_tcp_only,
    "advertised": web_hosts.hypercorn_advertised_no_udp,
    "hostile": web_hosts.hypercorn_hostile,
    "retry": _retry_host,
}


def web_dir(paths: RunPaths) -> Path:
    return paths.root / "web"


def web_host(fact: WebFact, paths: RunPaths) -> WebHost:
    """lab.web's description of the host ``fact`` (argv, config files, listeners)."""
    return BUILDERS[fact.kind](
        list(fact.addresses),
        fact.port,
        paths.pki / "fullchain.pem",
        paths.pki / "server.key",
        web_dir(paths),
        name=fact.key,
    )


def web_services(truth: Truth, paths: RunPaths) -> list[Service]:
    out = []
    for fact in truth.web.values():
        host = web_host(fact, paths)
        tls = TlsHttpCheck(fact.name.rstrip("."))
        listeners = [Listener(a, p, "https", tls) for a, p in host.tcp]
        if fact.quic_versions:
            # The health check proves the first planted version; tests prove every one.
            quic = QuicCheck(fact.name.rstrip("."), QUIC_VERSIONS[fact.quic_versions[0]])
            listeners += [Listener(a, p, "quic", quic) for a, p in host.udp]
        software = host.software
        out.append(
            Service(
                name=f"web-{fact.key}",
                group=fact.group,
                software=software,
                argv=host.argv,
                listeners=tuple(listeners),
                log=paths.log(f"web-{fact.key}"),
                env={**PYTHONPATH, **host.env},
            )
        )
    return out


def write_web_files(truth: Truth, paths: RunPaths, groups: set[str]) -> None:
    for fact in truth.web.values():
        if fact.group in groups:
            host = web_host(fact, paths)
            host.write_files()
            # Caddy wants its XDG/HOME directories to exist.
            for d in host.env.values():
                Path(d).mkdir(parents=True, exist_ok=True)


def chain_services(truth: Truth, paths: RunPaths) -> list[Service]:
    c = truth.chain
    if c is None:
        return []
    ganache = chain_service_argv(c.rpc_address, c.rpc_port, paths.root)
    gateway = (
        sys.executable,
        "-m",
        "fragscope.lab.chain.gateway",
        "--host",
        c.gateway_address,
        "--port",
        str(c.gateway_port),
        "--truth",
        str(c.facts_path),
    )
    return [
        Service(
            name="ganache",
            group=c.group,
            software="ganache",
            argv=tuple(ganache),
            listeners=(Listener(c.rpc_address, c.rpc_port, "http", RpcCheck(CHAIN_ID)),),
            log=paths.log("ganache"),
        ),
        Service(
            name="ccip-gateway",
            group=c.group,
            software="fragscope-ccip",
            argv=gateway,
            listeners=(Listener(c.gateway_address, c.gateway_port, "http", GatewayCheck()),),
            log=paths.log("ccip-gateway"),
            env=PYTHONPATH,
        ),
    ]


def chain_missing() -> str | None:
    """Why the chain cannot start here (None when it can)."""
    if shutil.which("node") is None:
        return "node is not installed (package nodejs, deps/apt.txt)"
    if not GANACHE_CLI.exists():
        return f"{NODE_MODULES} is missing or incomplete (no ganache): run `make npm`"
    return None


def missing(truth: Truth, groups: set[str]) -> list[str]:
    """What keeps part 2's wanted groups from starting here (empty when they can)."""
    out = []
    programs = {"caddy" for h in truth.web.values() if h.group in groups and h.kind == "caddy"}
    out += [f"{p} is not installed (deps/apt.txt)" for p in sorted(programs) if not shutil.which(p)]
    if truth.chain is not None and truth.chain.group in groups and (why := chain_missing()):
        out.append(f"the chain cannot start: {why}")
    return out


def deploy_chain(truth: Truth, paths: RunPaths) -> Path:
    """Deploy every contract and name on the lab's fresh ganache; returns chain.json's path."""
    from fragscope.lab.chain.deploy import deploy_all
    from fragscope.lab.chain.truth import load_truth

    c = truth.chain
    assert c is not None
    deploy_all(c.rpc_url, paths.root, c.gateway_url, truth=load_truth(c.facts_path))
    return paths.root / c.chain_json
