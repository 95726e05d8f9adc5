"""Bring the lab up, report its status, take it down. Does I/O: files, processes, network.

`Lab(run_dir).up()` clears what an earlier (possibly crashed) run left, makes the PKI, lets
every component write its files, creates the namespace, starts every daemon phase by
phase and waits until each answers its health query, then lets the components finish
(deploy the chain, build the vantages). `Lab(run_dir).down()` stops the daemons by recorded
PID and removes the namespace, the veth and the routes. `fragscope lab ...` and the pytest
fixture both use this class. The components are :data:`COMPONENTS` (lab.core.component
says what each provides); adding one is a subpackage and an entry there.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from fragscope.lab.chain.component import ChainComponent
from fragscope.lab.core import process
from fragscope.lab.core.component import Component, LabError, Site, StatusRow
from fragscope.lab.core.health import Result, Target
from fragscope.lab.core.paths import RunPaths
from fragscope.lab.core.pki import make_pki
from fragscope.lab.core.services import Listener, Service
from fragscope.lab.core.topology import (
    NAMESPACE,
    Topology,
    TopologyError,
    host_lab_routes,
    lab_namespaces,
    unique,
)
from fragscope.lab.dns.component import DnsComponent
from fragscope.lab.dns.dnssec import SigningError
from fragscope.lab.truth import Truth, load
from fragscope.lab.vantages.component import VantagesComponent
from fragscope.lab.web.component import WebComponent

__all__ = ["COMPONENTS", "GENERATED", "Lab", "LabError", "StatusRow", "log_tail"]

# In start order: the web hosts' names live in the DNS zones, the vantages need both.
COMPONENTS: tuple[type[Component], ...] = (
    DnsComponent,
    WebComponent,
    ChainComponent,
    VantagesComponent,
)
START_TIMEOUT_S = 15.0
GENERATED = ("zones", "keys", "pki", "conf", "state", "logs", "pids.json", "web", "chain.json")


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
        self.paths = RunPaths(self.run_dir)
        self.site = Site(self.truth, self.paths)
        self.components: list[Component] = [make() for make in COMPONENTS]
        self.services: list[Service] = [
            s for c in self.components for s in c.services(self.site)
        ] + list(extra_services or [])
        self.up_seconds: float | None = None  # wall time of the last up()

    @property
    def vantage_dir(self) -> Path:
        """Where the vantages' relay PID files and logs go."""
        return self.paths.vantages

    @property
    def ca_file(self) -> Path:
        return self.run_dir / self.truth.ca_file

    @property
    def chain_json(self) -> Path:
        """Facts of the deployed chain (rpc_url, gateway_url, contract addresses)."""
        name = self.truth.chain.chain_json if self.truth.chain else "chain.json"
        return self.run_dir / name

    def missing(self, groups: set[str]) -> list[str]:
        """What keeps ``groups`` from starting here (missing programs, `make npm` not run)."""
        return [p for c in self.components for p in c.missing(self.truth, groups)]

    # -- up -------------------------------------------------------------------------------
    def up(self, only: list[str] | None = None, *, timeout: float = START_TIMEOUT_S) -> float:
        """Start the lab (``only`` these groups and what they need); returns the seconds taken."""
        t0 = time.monotonic()
        groups = self.truth.group_closure(only) if only else set(self.truth.groups)
        wanted = [s for s in self.services if s.group in groups]
        problems = self.missing(groups)
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
            for c in self.components:
                c.prepare(self.site, groups)
            addresses = unique(a for c in self.components for a in c.addresses(self.truth))
            dead = tuple(a for c in self.components for a in c.unreachable(self.truth))
            Topology(addresses, unreachable=dead).up()
        except (SigningError, TopologyError, OSError) as exc:
            self.down()
            raise LabError(f"preparing the lab in {self.run_dir}: {exc}") from exc
        running: list[process.Running] = []
        try:
            # Phase 0 always runs (maybe empty): the DNS root waits for it to be signed.
            for phase in sorted({0} | {s.phase for s in wanted}):
                batch = [s for s in wanted if s.phase == phase]
                running += self._start(batch)
                self._wait(batch, running, timeout=timeout)
                for c in self.components:
                    c.after_phase(self.site, phase, groups)
            for c in self.components:
                c.after_start(self.site, groups)
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
        for c in self.components:
            rows += c.status(self.site, network_up=network_up)
        return rows

    def down(self) -> list[str]:
        """Undo the components' extras, stop the recorded daemons, then anything left in lab
        namespaces; remove the network."""
        notes = [n for c in reversed(self.components) for n in c.down(self.site)]
        notes += process.stop_all(process.load(self.paths.pids))
        for ns in lab_namespaces():
            pids = process.kill_namespace_leftovers(ns)
            if pids:
                notes.append(f"stopped {len(pids)} leftover process(es) in {ns}: {pids}")
        Topology.down()
        if self.paths.pids.exists():
            self.paths.pids.unlink()
        return notes
