"""A small signed DNS hierarchy on loopback for the DNS tests: NSD x3, Unbound, DoQ. Does I/O.

Addresses are a 127.N/16 block claimed per world (port 53, as delegations cannot carry ports;
tests/dns/addresses.py), so two test sessions at once do not collide, nor with the lab's
namespaces (10.99/16) or the recipes' 127.53.x. Zones are built and
signed with dnspython (lab-recipes section 3): a signed root and ``test.``, the signed
``example.test.`` (HTTPS/SVCB, the RFC 9460 Appendix D vectors, CNAME chain, a CNAME
loop, a chain to a name without AAAA, a TXT set too big for UDP), ``broken.test.`` (DS
in the parent, zone unsigned: bogus), ``expired.test.`` (signatures expired: bogus),
unsigned ``lab.`` (insecure) and ``oob.test.`` whose only NS is out of bailiwick.
Unbound validates with the root key, serves Do53, DoT and DoH, and an aioquic DoQ front
end (tests/dns/doq_server.py) forwards to it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.dnssec
import dns.message
import dns.name
import dns.query
import dns.rdataclass
import dns.rdatatype
import dns.zone
from cryptography.hazmat.primitives.asymmetric import ec

from fragscope.lab.core import process
from fragscope.lab.core.pki import Pki, make_pki
from tests.dns.addresses import HOSTS, Block, Claim, claim
from tests.dns.svcb_vectors import VECTORS

AUTH_NAME = "resolver.test"

# An ECHConfigList (draft-ietf-tls-esni) as a public example; only its presence matters.
ECH = (
    "AEX+DQBBpAAgACCYj5PkTm2VmZWv1PwB9rC1lLzDhGZBVKqRLMaW1+8qMAAE"
    "AAEAAQASY2xvdWRmbGFyZS1lY2guY29tAAA="
)

SOA = "SOA ns1 hostmaster 2026112801 1800 900 604800 300"


def _zone_text(origin: str, body: str) -> str:
    return f"$ORIGIN {origin}\n$TTL 300\n{body}\n"


def _big_txt() -> str:
    # 12 x 120 octets: about 1.5 kB, over the 1232 octets advertised, so UDP answers TC.
    return "\n".join(f'big TXT "{i:02d}{"x" * 118}"' for i in range(12))


def _vectors() -> str:
    lines = []
    for label, rdtype, _pres, hexwire, _exp in VECTORS:
        lines.append(f"{label} {rdtype} \\# {len(hexwire) // 2} {hexwire}")
    return "\n".join(lines)


def example_zone(sld: str) -> str:
    return f"""
@ {SOA}
@ NS ns1
ns1 A {sld}
ns2 A {sld}
www A 127.80.0.1
www AAAA fd99::80:1
www HTTPS 1 . alpn="h3,h2" port=4433 ipv4hint=127.80.0.1 ipv6hint=fd99::80:1
tcponly A 127.80.0.2
tcponly HTTPS 1 . alpn="h2,http/1.1"
ech HTTPS 1 . alpn=h2 ech={ECH}
_443._udp.www SVCB 1 www.example.test. alpn=h3
@ HTTPS 0 www.example.test.
@ TXT "icann-view"
@ MX 10 mail.example.test.
mail A 127.80.0.25
@ CAA 0 issue "ca.test"
alias CNAME alias2
alias2 CNAME www
loop1 CNAME loop2
loop2 CNAME loop1
notype CNAME mail
{_big_txt()}
{_vectors()}
"""


def tld_zone(tld: str, sld: str) -> str:
    return f"""
@ {SOA}
@ NS ns1.nic
ns1.nic A {tld}
example NS ns1.example
ns1.example A {sld}
broken NS ns1.example
expired NS ns1.example
oob NS ns2.example.test.
"""


LAB_TLD = f"""
@ {SOA.replace("ns1", "ns1.nic.test.")}
@ NS ns1.nic.test.
host A 127.80.0.9
"""

BROKEN_TEST = f"""
@ {SOA}
@ NS ns1.example.test.
www A 127.80.0.3
"""

EXPIRED_TEST = f"""
@ {SOA}
@ NS ns1.example.test.
www A 127.80.0.4
"""

# Its NS, ns2.example.test, has no glue anywhere above: an out-of-bailiwick lookup.
OOB_TEST = f"""
@ {SOA.replace("ns1", "ns2.example.test.")}
@ NS ns2.example.test.
www A 127.80.0.5
"""


def root_zone(root: str, tld: str) -> str:
    return f"""
@ SOA a.root.mini. hostmaster.root.mini. 2026112801 1800 900 604800 86400
@ NS a.root.mini.
a.root.mini. A {root}
test. NS ns1.nic.test.
ns1.nic.test. A {tld}
lab. NS ns1.nic.test.
"""


@dataclass
class Keys:
    ksk: tuple[ec.EllipticCurvePrivateKey, object]
    zsk: tuple[ec.EllipticCurvePrivateKey, object]


def _keys() -> Keys:
    pairs = []
    for flags in (257, 256):
        priv = ec.generate_private_key(ec.SECP256R1())
        key = dns.dnssec.make_dnskey(
            priv.public_key(), dns.dnssec.Algorithm.ECDSAP256SHA256, flags=flags
        )
        pairs.append((priv, key))
    return Keys(pairs[0], pairs[1])


def _sign(origin: str, text: str, keys: Keys, *, expired: bool = False) -> dns.zone.Zone:
    zone = dns.zone.from_text(_zone_text(origin, text), origin=origin, relativize=False)
    now = int(time.time())
    inception = now - (30 * 86400 if expired else 3600)
    expiration = now - 86400 if expired else now + 14 * 86400
    with zone.writer() as txn:
        dns.dnssec.sign_zone(
            zone,
            txn=txn,
            keys=[keys.ksk, keys.zsk],  # type: ignore[list-item]
            add_dnskey=True,
            dnskey_ttl=300,
            inception=inception,
            expiration=expiration,
        )
    return zone


def _ds(origin: str, keys: Keys) -> str:
    ds = dns.dnssec.make_ds(origin, keys.ksk[1], "SHA256")  # type: ignore[arg-type]
    return f"{origin} DS {ds.to_text()}"


def build_zones(directory: Path, block: Block) -> dict[str, Path]:
    """Write every zone file; return origin -> path and the root trust anchor."""
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}

    def write(origin: str, zone: dns.zone.Zone | str) -> None:
        path = directory / (origin.rstrip(".") or "root")
        path = path.with_suffix(".zone") if origin != "." else directory / "root.zone"
        if isinstance(zone, str):
            path.write_text(_zone_text(origin, zone))
        else:
            zone.to_file(str(path), relativize=False)
        files[origin] = path

    root, tld, sld = (block.address(server) for server in ("root", "tld", "sld"))
    example_keys, expired_keys, test_keys, root_keys = _keys(), _keys(), _keys(), _keys()
    write("example.test.", _sign("example.test.", example_zone(sld), example_keys))
    write("expired.test.", _sign("expired.test.", EXPIRED_TEST, expired_keys, expired=True))
    write("broken.test.", BROKEN_TEST)
    write("oob.test.", OOB_TEST)
    write("lab.", LAB_TLD)
    # broken.test.: a DS whose digest matches no key, over an unsigned zone.
    bogus_ds = "broken.test. DS 12345 13 2 " + "00" * 32
    test_body = "\n".join(
        [
            tld_zone(tld, sld),
            _ds("example.test.", example_keys),
            _ds("expired.test.", expired_keys),
            bogus_ds,
        ]
    )
    write("test.", _sign("test.", test_body, test_keys))
    write(".", _sign(".", root_zone(root, tld) + "\n" + _ds("test.", test_keys), root_keys))
    anchor = directory / "root.anchor"
    anchor.write_text(f". 3600 IN DNSKEY {root_keys.ksk[1].to_text()}\n")  # type: ignore[attr-defined]
    files["anchor"] = anchor
    hints = directory / "root.hints"
    hints.write_text(f". 3600000 NS a.root.mini.\na.root.mini. 3600000 A {root}\n")
    files["hints"] = hints
    return files


def _nsd_conf(run: Path, name: str, address: str, zones: list[tuple[str, Path]]) -> Path:
    d = run / f"nsd-{name}"
    d.mkdir(parents=True, exist_ok=True)
    zone_lines = "".join(f'zone:\n    name: "{o}"\n    zonefile: "{p}"\n' for o, p in zones)
    conf = d / "nsd.conf"
    conf.write_text(
        f"""server:
    ip-address: {address}@53
    username: ""
    chroot: ""
    database: ""
    pidfile: "{d}/nsd.pid"
    xfrdfile: "{d}/xfrd.state"
    zonelistfile: "{d}/zone.list"
    xfrdir: "{d}"
    logfile: "{d}/nsd.log"
    server-count: 1
    do-ip6: no
    verbosity: 1
    hide-version: yes
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
{zone_lines}"""
    )
    return conf


def _unbound_conf(run: Path, files: dict[str, Path], pki: Pki, resolver: str) -> Path:
    d = run / "unbound"
    d.mkdir(parents=True, exist_ok=True)
    conf = d / "unbound.conf"
    conf.write_text(
        f"""server:
    verbosity: 1
    use-syslog: no
    logfile: "{d}/unbound.log"
    username: ""
    chroot: ""
    directory: "{d}"
    pidfile: "{d}/unbound.pid"
    do-ip6: no
    interface: {resolver}@53
    interface: {resolver}@853
    interface: {resolver}@443
    tls-port: 853
    https-port: 443
    http-endpoint: "/dns-query"
    http-notls-downstream: no
    tls-service-key: "{pki.key}"
    tls-service-pem: "{pki.fullchain}"
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    root-hints: "{files["hints"]}"
    local-zone: "test." nodefault
    module-config: "validator iterator"
    trust-anchor-file: "{files["anchor"]}"
    harden-dnssec-stripped: yes
    ede: yes
    val-log-level: 2
    qname-minimisation: yes
    num-threads: 1
    ratelimit: 0
    ip-ratelimit: 0
remote-control:
    control-enable: no
"""
    )
    return conf


def wait_answering(address: str, port: int = 53, *, qname: str = ".", timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            dns.query.udp(dns.message.make_query(qname, "SOA"), address, port=port, timeout=0.5)
            return
        except Exception as exc:
            last = exc
            time.sleep(0.1)
    raise RuntimeError(f"{address}:{port} does not answer: {last!r}")


def wait_tcp(address: str, port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{address}:{port} does not accept TCP")


@dataclass
class Process:
    name: str
    pidfile: Path | None = None
    popen: subprocess.Popen[bytes] | None = None

    def running(self) -> process.Running | None:
        """The daemon as lab.core.process knows it, None when it has not started or has gone."""
        if self.popen is not None:
            return process.adopt(self.name, self.popen.pid)
        return process.adopt(self.name, self.pidfile and process.pid_from_file(self.pidfile))


@dataclass
class DnsWorld:
    run: Path
    files: dict[str, Path]
    pki: Pki
    addresses: Claim
    processes: list[Process] = field(default_factory=list)
    root: str = field(init=False)
    tld: str = field(init=False)
    sld: str = field(init=False)
    resolver: str = field(init=False)
    doq: str = field(init=False)

    auth_name = AUTH_NAME

    def __post_init__(self) -> None:
        for server in HOSTS:
            setattr(self, server, self.addresses.block.address(server))

    @property
    def ca_file(self) -> str:
        return str(self.pki.ca)

    @property
    def urls(self) -> dict[str, str]:
        return {
            "udp": f"udp://{self.resolver}",
            "tcp": f"tcp://{self.resolver}",
            "tls": f"tls://{self.resolver}:853#{AUTH_NAME}",
            "https": f"https://{self.resolver}/dns-query#{AUTH_NAME}",
            "https-ip": f"https://{self.resolver}/dns-query",
            "quic": f"quic://{self.doq}:853#{AUTH_NAME}",
        }

    def stop(self) -> None:
        # lab.core.process signals every daemon first, then waits: NSD takes 2-3 s to exit.
        running = [r for proc in reversed(self.processes) if (r := proc.running()) is not None]
        process.stop_all(running, grace=10)
        for proc in self.processes:
            if proc.popen is not None:
                proc.popen.wait()  # reap the DoQ front end (stopped above)
        self.processes.clear()
        self.addresses.release()


def start_world(run: Path, *, first_block: int | None = None) -> DnsWorld:
    """Claim addresses (a block from ``first_block`` on), build zones, start the servers,
    wait until each answers. Caller must ``stop()`` (which releases the addresses)."""
    addresses = claim(first_block)
    block = addresses.block
    resolver, doq = block.address("resolver"), block.address("doq")
    try:
        files = build_zones(run / "zones", block)
        pki = make_pki(run / "pki", dns_names=[AUTH_NAME], ip_addresses=[resolver, doq])
    except BaseException:
        addresses.release()
        raise
    world = DnsWorld(run, files, pki, addresses)
    try:
        layout = {
            "root": ["."],
            "tld": ["test.", "lab."],
            "sld": ["example.test.", "broken.test.", "expired.test.", "oob.test."],
        }
        for name, origins in layout.items():
            zones = [(o, files[o]) for o in origins]
            conf = _nsd_conf(run, name, block.address(name), zones)
            subprocess.run(["nsd", "-c", str(conf)], check=True, capture_output=True)
            world.processes.append(Process(f"nsd-{name}", pidfile=conf.parent / "nsd.pid"))
        for name, origins in layout.items():
            wait_answering(block.address(name), qname=origins[0])
        conf = _unbound_conf(run, files, pki, resolver)
        subprocess.run(["unbound-checkconf", str(conf)], check=True, capture_output=True)
        subprocess.run(["unbound", "-c", str(conf)], check=True, capture_output=True)
        world.processes.append(Process("unbound", pidfile=conf.parent / "unbound.pid"))
        wait_answering(resolver)
        wait_tcp(resolver, 853)
        wait_tcp(resolver, 443)
        doq_log = open(run / "doq.log", "wb")  # noqa: SIM115 - closed with the process
        popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.dns.doq_server",
                "--host",
                doq,
                "--port",
                "853",
                "--cert",
                str(pki.fullchain),
                "--key",
                str(pki.key),
                "--upstream",
                resolver,
            ],
            stdout=doq_log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
        world.processes.append(Process("doq", popen=popen))
        _wait_file_line(run / "doq.log", "listening", popen)
    except BaseException:
        world.stop()
        raise
    return world


def _wait_file_line(path: Path, needle: str, popen: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if path.exists() and needle in path.read_text(errors="replace"):
            return
        if popen.poll() is not None:
            raise RuntimeError(f"DoQ server exited: {path.read_text(errors='replace')}")
        time.sleep(0.05)
    raise RuntimeError(f"DoQ server not ready: {path.read_text(errors='replace')}")
