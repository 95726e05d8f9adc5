"""Bring the lab up, report its status, take it down. Does I/O: files, processes, network.

`Lab(run_dir).up()` clears what an earlier (possibly crashed) run left, renders the PKI,
zones and configurations, signs zones, creates the namespace, starts every daemon and waits
until each answers its health query. `Lab(run_dir).down()` stops them by recorded PID and
removes the namespace, the veth and the routes. `fragscope lab ...` and the pytest fixture
both use this class.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import dns.dnssec
import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rdataclass
import dns.rdatatype

from fragscope.lab import dnssec, process, render
from fragscope.lab.chain.artifacts import ArtifactError
from fragscope.lab.chain.deploy import DeployError
from fragscope.lab.chain.rpc import RpcError
from fragscope.lab.dnssec import SigningError
from fragscope.lab.health import Result, Target
from fragscope.lab.part2 import chain_services, deploy_chain, missing, web_services, write_web_files
from fragscope.lab.pki import make_pki
from fragscope.lab.services import Listener, Service, build
from fragscope.lab.topology import (
    NAMESPACE,
    Topology,
    TopologyError,
    host_lab_routes,
    lab_namespaces,
    unique,
)
from fragscope.lab.truth import Truth, Zone, load
from fragscope.lab.vantages import facts as vantage_facts
from fragscope.lab.vantages import runner as vantage_runner
from fragscope.lab.vantages.model import VantageError
from fragscope.lab.vantages.runner import VantageBuildError

START_TIMEOUT_S = 15.0
GENERATED = ("zones", "keys", "pki", "conf", "state", "logs", "pids.json", "web", "chain.json")


class LabError(RuntimeError):
    """The lab could not be brought up; the message says which service and shows its log."""


@dataclass(frozen=True)
class StatusRow:
    group: str
    service: str
    software: str
    address: str
    port: int
    protocol: str
    running: bool
    health: str  # "ok", or why the check failed, or "down"


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Lab:
    """The lab described by ``truth`` (truth.toml by default) in ``run_dir``."""

    def __init__(
        self,
        run_dir: Path | str = "lab-run",
        truth: Truth | None = None,
        *,
        extra_services: list[Service] | None = None,
    ) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.truth = truth or load()
        self.paths = render.RunPaths(self.run_dir)
        # Part 2 (web hosts, vantages, chain) passes its own Service records here.
        self.services: list[Service] = (
            build(self.truth, self.paths)
            + web_services(self.truth, self.paths)
            + chain_services(self.truth, self.paths)
            + list(extra_services or [])
        )
        self.up_seconds: float | None = None  # wall time of the last up()

    @property
    def vantage_dir(self) -> Path:
        """Where the vantages' relay PID files and logs go."""
        return self.run_dir / "vantages"

    @property
    def ca_file(self) -> Path:
        return self.run_dir / self.truth.ca_file

    @property
    def chain_json(self) -> Path:
        """Facts of the deployed chain (rpc_url, gateway_url, contract addresses)."""
        name = self.truth.chain.chain_json if self.truth.chain else "chain.json"
        return self.run_dir / name

    # -- up -------------------------------------------------------------------------------
    def up(self, only: list[str] | None = None, *, timeout: float = START_TIMEOUT_S) -> float:
        """Start the lab (``only`` these groups and what they need); returns the seconds taken."""
        t0 = time.monotonic()
        groups = self.truth.group_closure(only) if only else set(self.truth.groups)
        wanted = [s for s in self.services if s.group in groups]
        with_chain = self.truth.chain is not None and self.truth.chain.group in groups
        problems = missing(self.truth, groups)
        if problems:
            raise LabError("; ".join(problems))
        self.down()
        try:
            self._wipe()
            make_pki(
                self.paths.pki,
                dns_names=list(self.truth.cert_dns_names),
                ip_addresses=list(self.truth.cert_ip_addresses),
            )
            ds: dict[tuple[str, str], list[str]] = {}
            deferred = self._write_zones(ds, defer_knot_parents=True)
            self._write_configs()
            write_web_files(self.truth, self.paths, groups)
            dead = tuple(s.address for s in self.truth.servers.values() if s.software == "none")
            Topology(self._addresses(), unreachable=dead).up()
        except (SigningError, TopologyError, OSError) as exc:
            self.down()
            raise LabError(f"preparing the lab in {self.run_dir}: {exc}") from exc
        running: list[process.Running] = []
        try:
            phase0 = [s for s in wanted if s.phase == 0]
            running += self._start(phase0)
            self._wait(phase0, running, timeout=timeout)
            if deferred and "icann" in groups:
                self._knot_ds(ds)
                self._write_zones(ds, only_zones=deferred)
            for phase in sorted({s.phase for s in wanted} - {0}):
                batch = [s for s in wanted if s.phase == phase]
                running += self._start(batch)
                self._wait(batch, running, timeout=timeout)
            if with_chain:
                deploy_chain(self.truth, self.paths)
            if "vantages" in groups:  # needs web and manip (censored's resolver)
                vantage_runner.up_lab(
                    vantage_facts.load(), run_dir=self.vantage_dir, upstream_ns=NAMESPACE
                )
        except (SigningError, dns.exception.DNSException) as exc:
            self.down()
            raise LabError(f"signing the ICANN-like root with Knot's DS: {exc}") from exc
        except (ArtifactError, DeployError, RpcError, OSError) as exc:
            self.down()
            raise LabError(f"deploying the chain's contracts and names: {exc}") from exc
        except (VantageBuildError, VantageError) as exc:
            self.down()
            raise LabError(f"building the vantages: {exc}") from exc
        except BaseException:
            self.down()
            raise
        self.up_seconds = time.monotonic() - t0
        return self.up_seconds

    def _wipe(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for name in GENERATED:  # only what the lab generates: --dir may be a shared folder
            p = self.run_dir / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        for d in (self.paths.zones, self.paths.keys, self.paths.conf, self.paths.logs):
            d.mkdir(parents=True)

    def _addresses(self) -> tuple[str, ...]:
        addrs = [s.address for s in self.truth.servers.values() if s.software != "none"]
        for r in self.truth.resolvers.values():
            addrs += [a for a in (r.address, r.address6, r.egress) if a]
        for h in self.truth.web.values():
            addrs += list(h.addresses)
        if self.truth.chain is not None:
            addrs += [self.truth.chain.rpc_address, self.truth.chain.gateway_address]
        return unique(addrs)

    def _write_zones(
        self,
        ds: dict[tuple[str, str], list[str]],
        *,
        defer_knot_parents: bool = False,
        only_zones: list[Zone] | None = None,
    ) -> list[Zone]:
        """Write (and sign) zones deepest first, so every child's DS is known to its parent.

        A zone whose child Knot signs must wait for Knot's keys; those are returned.
        """
        zones = only_zones if only_zones is not None else list(self.truth.zones)
        zones.sort(key=lambda z: -len(z.name.strip(".").split(".")) if z.name != "." else 1)
        deferred: list[Zone] = []
        for z in zones:
            if not z.is_served:
                continue
            children = render.children_of(self.truth, z)
            waits = [c for c in children if c.dnssec == "knot" and (c.view, c.name) not in ds]
            if defer_knot_parents and waits:
                deferred.append(z)
                continue
            for c in children:
                if c.dnssec == "broken":
                    ds[(c.view, c.name)] = [dnssec.bogus_ds(c.name)]
            path = self.paths.zones / render.zone_file(z)
            path.write_text(render.render_zone(self.truth, z, ds=ds))
            if z.dnssec in {"nsec", "nsec3", "expired"}:
                signed = dnssec.sign(
                    z.name,
                    path,
                    keys_dir=self.paths.keys,
                    denial="nsec3" if z.dnssec == "nsec3" else "nsec",
                    expired=z.dnssec == "expired",
                )
                ds[(z.view, z.name)] = list(signed.ds)
                if z.name == "." and z.view == "icann":
                    self.paths.root_anchor.write_text(signed.ksk_dnskey + "\n")
        return deferred

    def _knot_ds(self, ds: dict[tuple[str, str], list[str]]) -> None:
        """Ask Knot for the KSK of each zone it signed and derive the DS (RFC 4509, SHA-256)."""
        for z in self.truth.zones:
            if z.dnssec != "knot":
                continue
            server = self.truth.servers[z.servers[0]]
            q = dns.message.make_query(z.name, "DNSKEY")
            r = dns.query.udp(q, server.address, port=53, timeout=2)
            keys = r.find_rrset(
                r.answer, dns.name.from_text(z.name), dns.rdataclass.IN, dns.rdatatype.DNSKEY
            )
            ksks = [k for k in keys if k.flags & 0x0001]  # SEP bit: the KSK (RFC 4034 2.1.1)
            ds[(z.view, z.name)] = [dns.dnssec.make_ds(z.name, k, "SHA256").to_text() for k in ksks]

    def _write_configs(self) -> None:
        t, p = self.truth, self.paths
        p.conf.mkdir(parents=True, exist_ok=True)
        for name, servers in render.server_processes(t).items():
            software = servers[0].software
            svc = f"{software}-{name}"
            zones = [
                z for z in t.zones if z.is_served and set(z.servers) & {s.key for s in servers}
            ]
            addrs = [s.address for s in servers]
            p.state(svc).mkdir(parents=True, exist_ok=True)
            if software == "nsd":
                text = render.nsd_conf(svc, addresses=addrs, zones=zones, paths=p)
            else:
                (p.state(svc) / "db").mkdir(parents=True, exist_ok=True)
                text = render.knot_conf(svc, addresses=addrs, zones=zones, paths=p)
            (p.conf / f"{svc}.conf").write_text(text)
        for view in t.roots:
            (p.conf / f"{view}.hints").write_text(render.root_hints(t, view))
        for r in t.resolvers.values():
            if r.software != "unbound":
                continue
            svc = f"unbound-{r.key}"
            p.state(svc).mkdir(parents=True, exist_ok=True)
            if r.policy is not None:
                (p.zones / f"rpz.{r.key}.zone").write_text(render.rpz_zone(t, r))
            text = render.unbound_conf(
                t, r, paths=p, tls_key=p.pki / "server.key", tls_pem=p.pki / "fullchain.pem"
            )
            (p.conf / f"{svc}.conf").write_text(text)

    def _start(self, services: list[Service]) -> list[process.Running]:
        running = [
            process.start(
                s.name,
                list(s.argv),
                namespace=NAMESPACE,
                log=s.log,
                cwd=self.run_dir,
                env={**os.environ, **s.env},
            )
            for s in services
        ]
        process.save(self.paths.pids, process.load(self.paths.pids) + running)
        return running

    def _wait(
        self, services: list[Service], running: list[process.Running], *, timeout: float
    ) -> None:
        """Poll every listener's health check until all pass; raise LabError at the deadline."""
        by_name = {r.service: r for r in running}
        todo = [(s, lst) for s in services for lst in s.listeners if lst.check is not None]
        deadline = time.monotonic() + timeout
        last: dict[tuple[str, int, str, str], Result] = {}
        while todo:
            still = []
            for s, lst in todo:
                code = process.exited_early(by_name[s.name])
                if code is not None:
                    raise LabError(
                        f"{s.name} exited (code {code}) while starting; log {s.log}:\n"
                        + log_tail(s.log)
                    )
                res = self.check(lst, timeout=0.5)
                last[(s.name, lst.port, lst.protocol, lst.address)] = res
                if not res.ok:
                    still.append((s, lst))
            todo = still
            if todo and time.monotonic() > deadline:
                s, lst = todo[0]
                res = last[(s.name, lst.port, lst.protocol, lst.address)]
                raise LabError(
                    f"{s.name} did not answer {lst.protocol}://{lst.address}:{lst.port} "
                    f"({lst.check.describe() if lst.check else ''}) within {timeout:.0f} s: "
                    f"{res.detail}; log {s.log}:\n{log_tail(s.log)}"
                )
            if todo:
                time.sleep(0.05)

    def check(self, lst: Listener, *, timeout: float = 1.0) -> Result:
        """Run ``lst``'s health check once from the host."""
        assert lst.check is not None
        return lst.check.run(
            Target(
                lst.address,
                lst.port,
                lst.protocol,
                ca_file=str(self.ca_file),
                tls_hostname=self.truth.tls_hostname,
                timeout=timeout,
            )
        )

    # -- status and down ------------------------------------------------------------------
    def status(self, *, timeout: float = 1.0) -> list[StatusRow]:
        """One row per listener: is the daemon running, and does it answer correctly now."""
        running = {r.service: r for r in process.load(self.paths.pids)}
        # Without the lab's host routes a query to 10.99.x would follow the host's default
        # route off the machine: never query then.
        network_up = bool(host_lab_routes())
        rows = []
        for s in self.services:
            r = running.get(s.name)
            is_running = network_up and r is not None and process.alive(r)
            for lst in s.listeners:
                if not is_running:
                    health = "down"
                elif lst.check is None:
                    health = "unchecked"
                else:
                    res = self.check(lst, timeout=timeout)
                    if not res.ok:  # one retry: a handshake may miss 1 s on a busy machine
                        res = self.check(lst, timeout=2 * timeout)
                    health = "ok" if res.ok else res.detail
                rows.append(
                    StatusRow(
                        group=s.group,
                        service=s.name,
                        software=s.software,
                        address=lst.address,
                        port=lst.port,
                        protocol=lst.protocol,
                        running=is_running,
                        health=health,
                    )
                )
        # The vantages: the address is the client's (what servers see), protocol "path".
        for v in vantage_runner.status_lab(
            vantage_facts.load(), run_dir=self.vantage_dir, upstream_ns=NAMESPACE
        ):
            rows.append(
                StatusRow(
                    group="vantages",
                    service=v.name,
                    software=v.mechanism,
                    address=v.client,
                    port=0,
                    protocol="path",
                    running=network_up and v.running,
                    health=v.health if network_up else "down",
                )
            )
        return rows

    def down(self) -> list[str]:
        """Stop the recorded daemons, then anything left in lab namespaces; remove the network."""
        vantage_runner.down_lab(run_dir=self.vantage_dir, upstream_ns=NAMESPACE)
        notes = process.stop_all(process.load(self.paths.pids))
        for ns in lab_namespaces():
            pids = process.kill_namespace_leftovers(ns)
            if pids:
                notes.append(f"stopped {len(pids)} leftover process(es) in {ns}: {pids}")
        Topology.down()
        if self.paths.pids.exists():
            self.paths.pids.unlink()
        return notes
