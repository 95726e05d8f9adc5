"""The DNS component: NSD, Knot, Unbound and the DoQ forwarder, the zones and their signing.

Does I/O: writes zones, keys and configurations into the run directory, runs BIND's signing
tools and asks Knot for its keys. Zones are written and signed deepest first so every
child's DS is known to its parent; a parent of a zone Knot signs itself waits for start
phase 0 (Knot), whose KSK gives the DS (RFC 4509, SHA-256), and is then written and signed.
"""

from __future__ import annotations

import dns.dnssec
import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rdataclass
import dns.rdatatype

from fragscope.lab.core.component import Component, LabError, Site
from fragscope.lab.core.services import Service
from fragscope.lab.dns import dnssec, render
from fragscope.lab.dns.dnssec import SigningError
from fragscope.lab.dns.services import dns_services
from fragscope.lab.truth import Truth, Zone


class DnsComponent(Component):
    name = "dns"

    def __init__(self) -> None:
        self._ds: dict[tuple[str, str], list[str]] = {}
        self._deferred: list[Zone] = []

    def addresses(self, truth: Truth) -> list[str]:
        addrs = [s.address for s in truth.dns.servers.values() if s.software != "none"]
        for r in truth.dns.resolvers.values():
            addrs += [a for a in (r.address, r.address6, r.egress) if a]
        return addrs

    def unreachable(self, truth: Truth) -> list[str]:
        return [s.address for s in truth.dns.servers.values() if s.software == "none"]

    def services(self, site: Site) -> list[Service]:
        return dns_services(site.truth, site.paths)

    def prepare(self, site: Site, groups: set[str]) -> None:
        self._ds = {}
        self._deferred = self._write_zones(site, defer_knot_parents=True)
        self._write_configs(site)

    def after_phase(self, site: Site, phase: int, groups: set[str]) -> None:
        if phase != 0 or not self._deferred or "icann" not in groups:
            return
        try:
            self._knot_ds(site)
            self._write_zones(site, only_zones=self._deferred)
        except (SigningError, dns.exception.DNSException) as exc:
            raise LabError(f"signing the ICANN-like root with Knot's DS: {exc}") from exc

    def _write_zones(
        self,
        site: Site,
        *,
        defer_knot_parents: bool = False,
        only_zones: list[Zone] | None = None,
    ) -> list[Zone]:
        """Write (and sign) zones deepest first, so every child's DS is known to its parent.

        A zone whose child Knot signs must wait for Knot's keys; those are returned.
        """
        truth, paths, ds = site.truth, site.paths, self._ds
        zones = only_zones if only_zones is not None else list(truth.dns.zones)
        zones.sort(key=lambda z: -len(z.name.strip(".").split(".")) if z.name != "." else 1)
        deferred: list[Zone] = []
        for z in zones:
            if not z.is_served:
                continue
            children = render.children_of(truth, z)
            waits = [c for c in children if c.dnssec == "knot" and (c.view, c.name) not in ds]
            if defer_knot_parents and waits:
                deferred.append(z)
                continue
            for c in children:
                if c.dnssec == "broken":
                    ds[(c.view, c.name)] = [dnssec.bogus_ds(c.name)]
            path = paths.zones / render.zone_file(z)
            path.write_text(render.render_zone(truth, z, ds=ds))
            if z.dnssec in {"nsec", "nsec3", "expired"}:
                signed = dnssec.sign(
                    z.name,
                    path,
                    keys_dir=paths.keys,
                    denial="nsec3" if z.dnssec == "nsec3" else "nsec",
                    expired=z.dnssec == "expired",
                )
                ds[(z.view, z.name)] = list(signed.ds)
                if z.name == "." and z.view == "icann":
                    paths.root_anchor.write_text(signed.ksk_dnskey + "\n")
        return deferred

    def _knot_ds(self, site: Site) -> None:
        """Ask Knot for the KSK of each zone it signed and derive the DS (RFC 4509, SHA-256)."""
        truth = site.truth
        for z in truth.dns.zones:
            if z.dnssec != "knot":
                continue
            server = truth.dns.servers[z.servers[0]]
            q = dns.message.make_query(z.name, "DNSKEY")
            r = dns.query.udp(q, server.address, port=53, timeout=2)
            keys = r.find_rrset(
                r.answer, dns.name.from_text(z.name), dns.rdataclass.IN, dns.rdatatype.DNSKEY
            )
            ksks = [k for k in keys if k.flags & 0x0001]  # SEP bit: the KSK (RFC 4034 2.1.1)
            self._ds[(z.view, z.name)] = [
                dns.dnssec.make_ds(z.name, k, "SHA256").to_text() for k in ksks
            ]

    @staticmethod
    def _write_configs(site: Site) -> None:
        t, p = site.truth, site.paths
        p.conf.mkdir(parents=True, exist_ok=True)
        for name, servers in render.server_processes(t).items():
            software = servers[0].software
            svc = f"{software}-{name}"
            zones = [
                z for z in t.dns.zones if z.is_served and set(z.servers) & {s.key for s in servers}
            ]
            addrs = [s.address for s in servers]
            p.state(svc).mkdir(parents=True, exist_ok=True)
            if software == "nsd":
                text = render.nsd_conf(svc, addresses=addrs, zones=zones, paths=p)
            else:
                (p.state(svc) / "db").mkdir(parents=True, exist_ok=True)
                text = render.knot_conf(svc, addresses=addrs, zones=zones, paths=p)
            (p.conf / f"{svc}.conf").write_text(text)
        for view in t.dns.roots:
            (p.conf / f"{view}.hints").write_text(render.root_hints(t, view))
        for r in t.dns.resolvers.values():
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
