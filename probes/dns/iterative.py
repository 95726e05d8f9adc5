"""``dns.iterative``: resolve from root hints without a recursive resolver. Does I/O.

Follows referrals and glue, resolves out-of-bailiwick NS names (nested, depth-limited),
follows CNAMEs (restarting at the root), stops on loops (a referral that is not strictly
below the current zone, a zone visited twice, a CNAME seen twice) and on step/depth
limits. Each query is a row of dns_iterative_steps. DNSSEC is validated along the chain
(probes.dns.dnssec): DS from each referral, the child's DNSKEY against it, the answer's
RRSIG, NSEC and NSEC3 denials (probes.dns.nsec3, RFC 5155 section 8). Queries go over UDP
with RD clear and DO set, retried over TCP when truncated (RFC 7766).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zonefile

from fragscope.db.vocab import Failure, Operation, Transport
from fragscope.probes import config_rules as rules
from fragscope.probes.base import Clock, Endpoint, Observation, SystemClock, Task, TaskParams
from fragscope.probes.dns import codec
from fragscope.probes.dns.dnssec import (
    DnssecError,
    Security,
    anchor_matches,
    covers,
    nsec_types,
    unanchored_signers,
    validate_dnskeys,
    validate_rrset,
    worst,
)
from fragscope.probes.dns.interpret import interpret
from fragscope.probes.dns.names import InvalidName, normalize
from fragscope.probes.dns.nsec3 import MAX_ITERATIONS, Nsec3Proof
from fragscope.probes.errors import MeasurementError
from fragscope.probes.registry import register
from fragscope.probes.retransmit import udp_retransmitting
from fragscope.probes.safety import ALLOW_ALL, NetworkPolicy

TABLE = "dns_observations"
IANA_ROOT_ANCHORS = Path(__file__).resolve().parent / "data" / "root-anchors.txt"
"""The root's trust anchors as IANA publishes them, used when no trust_anchor is set."""
IN = dns.rdataclass.IN
NS, DS, DNSKEY, RRSIG, NSEC, NSEC3, CNAME, A, AAAA = (
    dns.rdatatype.NS,
    dns.rdatatype.DS,
    dns.rdatatype.DNSKEY,
    dns.rdatatype.RRSIG,
    dns.rdatatype.NSEC,
    dns.rdatatype.NSEC3,
    dns.rdatatype.CNAME,
    dns.rdatatype.A,
    dns.rdatatype.AAAA,
)


@dataclass(frozen=True, slots=True)
class DnsIterativeConfig:
    qtypes: tuple[str, ...] = field(
        default=("A",),
        metadata={"help": "record types asked", rules.CHECK: codec.unknown_type_names},
    )
    root_hints: str | None = field(
        default=None,
        metadata={
            "help": "root hints file (NS + A/AAAA lines); required, never the real roots",
            rules.FILE: True,
        },
    )
    trust_anchor: str | None = field(
        default=None,
        metadata={
            "help": "file of root DNSKEY or DS lines; default: the shipped IANA root anchors "
            "(probes/dns/data/root-anchors.txt)",
            rules.FILE: True,
        },
    )
    timeout_s: float = field(
        default=2.0,
        metadata={"help": "seconds per query, its UDP retransmissions included", **rules.SECONDS},
    )
    max_steps: int = field(
        default=60, metadata={"help": "queries per resolution, all depths", rules.MINIMUM: 1}
    )
    max_depth: int = field(
        default=3, metadata={"help": "nesting of out-of-bailiwick NS lookups", **rules.COUNT}
    )
    max_cnames: int = field(
        default=8, metadata={"help": "CNAMEs followed per resolution", **rules.COUNT}
    )


class ResolutionError(Exception):
    def __init__(self, failure: Failure, detail: str) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail


def _read_rrsets(path: str) -> list[dns.rrset.RRset]:
    # Hints and anchors are zone-file lines, with or without TTLs (RFC 1035 section 5).
    text = Path(path).read_text()
    return dns.zonefile.read_rrsets(
        text, rdclass=None, default_ttl=3600, origin=dns.name.root, relativize=False
    )


def load_hints(path: str) -> list[tuple[str, str]]:
    """(NS name, address) pairs of the root servers from a hints file."""
    rrsets = _read_rrsets(path)
    names = [rd.target for r in rrsets if r.rdtype == NS for rd in r]
    out: list[tuple[str, str]] = []
    for name in names:
        for r in rrsets:
            if r.name == name and r.rdtype in (A, AAAA):
                out.extend((name.to_text(), rd.address) for rd in r)
    if not out:
        raise ValueError(f"{path}: no root server addresses (NS + A/AAAA lines)")
    return out


def load_anchors(path: str) -> list[dns.rrset.RRset]:
    """Trust anchors: the root's DNSKEY or DS records."""
    out = [r for r in _read_rrsets(path) if r.rdtype in (DS, DNSKEY)]
    if not out:
        raise ValueError(f"{path}: no DNSKEY or DS lines")
    return out


@dataclass
class _Zone:
    name: dns.name.Name
    servers: list[tuple[str, str]]  # (ns name, address)
    security: Security
    keys: dns.rrset.RRset | None = None


class _Resolution:
    """State of one measure(): steps, budget, DNSSEC caches."""

    def __init__(self, probe: DnsIterativeProbe) -> None:
        self.probe = probe
        self.cfg = probe.config
        self.steps: list[dict[str, Any]] = []
        self.queries = 0
        self.notes: list[str] = []
        self.keys: dict[dns.name.Name, dns.rrset.RRset] = {}
        self.last_wire: bytes | None = None

    async def ask(
        self,
        zone: _Zone,
        server: tuple[str, str],
        qname: dns.name.Name,
        rdtype: int,
        depth: int,
    ) -> dns.message.Message | None:
        """One query to one server; a step row either way; None on timeout or error."""
        if self.queries >= self.cfg.max_steps:
            raise ResolutionError(
                Failure.DNS_SERVER_MISBEHAVING, f"step limit {self.cfg.max_steps} reached"
            )
        self.queries += 1
        ns_name, address = server
        step: dict[str, Any] = {
            "step": len(self.steps),
            "depth": depth,
            "zone": zone.name.to_text(),
            "server_name": ns_name,
            "server_address": address,
            "qname": qname.to_text(),
            "qtype": dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rdtype)),
        }
        self.steps.append(step)
        try:
            self.probe.policy.require(address, Operation.DNS_ROUND_TRIP)
        except MeasurementError as exc:
            step.update(outcome="error", detail=exc.detail)
            return None
        q = dns.message.make_query(
            qname, dns.rdatatype.RdataType.make(rdtype), want_dnssec=True, payload=1232
        )
        q.flags &= ~dns.flags.RD
        t0 = time.monotonic()
        try:
            # Retransmitted within timeout_s: a walk asks many servers, and one lost
            # datagram must not fail it (probes/retransmit.py, RFC 1123 6.1.3.3).
            r = await udp_retransmitting(q, address, timeout=self.cfg.timeout_s)
            if r.flags & dns.flags.TC:
                r = await dns.asyncquery.tcp(q, address, timeout=self.cfg.timeout_s)
        except dns.exception.Timeout:
            step.update(outcome="timeout", rtt_ms=(time.monotonic() - t0) * 1000)
            return None
        except Exception as exc:  # network errors and malformed answers alike
            step.update(outcome="error", detail=f"{type(exc).__name__}: {exc}")
            return None
        step["rtt_ms"] = (time.monotonic() - t0) * 1000
        step["rcode"] = r.rcode()
        self.last_wire = r.to_wire()
        return r


@register
class DnsIterativeProbe:
    name: ClassVar[str] = "dns.iterative"
    version: ClassVar[int] = 1
    table: ClassVar[str] = TABLE
    config_class: ClassVar[type[DnsIterativeConfig]] = DnsIterativeConfig
    uses_endpoints: ClassVar[bool] = False

    def __init__(
        self,
        config: DnsIterativeConfig | None = None,
        *,
        clock: Clock | None = None,
        policy: NetworkPolicy = ALLOW_ALL,
    ) -> None:
        self.config = config or DnsIterativeConfig()
        self.clock = clock or SystemClock()
        self.policy = policy
        # Bad files raise here (a configuration error, reported before any traffic); a
        # missing root_hints makes every task an invalid_input row instead, so listing or
        # describing probes never needs one.
        self.hints = load_hints(self.config.root_hints) if self.config.root_hints else []
        self.anchors = load_anchors(self.config.trust_anchor or str(IANA_ROOT_ANCHORS))
        self.anchor_warning: str | None = None

    def tasks_for(self, target: str, endpoint: Endpoint | None) -> Iterable[TaskParams]:
        return tuple(TaskParams(q.upper(), {"qtype": q.upper()}) for q in self.config.qtypes)

    async def measure(self, task: Task) -> Observation:
        started = self.clock.now()
        t0 = self.clock.monotonic()
        obs = Observation(table=TABLE, target=task.target, endpoint=None, started_at=started)
        qtype_text = str(task.params.get("qtype", "A")).upper()
        obs.fields.update(
            purpose="query",
            qtype=qtype_text,
            transport=str(Transport.UDP),
            late=False,
            duplicate=False,
        )
        try:
            if not self.hints:
                raise ValueError(
                    "dns.iterative needs root_hints (fragscope never assumes the roots)"
                )
            qtype = codec.type_code(qtype_text)
            name = normalize(task.target)
        except (InvalidName, ValueError) as exc:
            obs.fields["transport"] = str(Transport.NONE)
            obs.failure, obs.failed_operation = Failure.INVALID_INPUT, Operation.RESOLVE
            obs.failure_detail = str(exc)
            obs.duration_ms = (self.clock.monotonic() - t0) * 1000
            return obs
        obs.fields.update(qname=name.ascii, qname_unicode=name.unicode)
        res = _Resolution(self)
        try:
            security, detail, final = await self._resolve(
                res, dns.name.from_text(name.ascii), qtype, depth=0
            )
            obs.fields["validation"] = str(security)
            obs.fields["validation_detail"] = detail
            if final is not None:
                wire = final.to_wire()
                fields, rows, failure, op, fdetail = interpret(wire, qtype)
                obs.fields.update(fields)
                obs.fields["raw_wire"] = wire
                obs.children.extend(("dns_answers", r) for r in rows)
                obs.failure, obs.failed_operation, obs.failure_detail = failure, op, fdetail
                if security is Security.BOGUS and failure is None:
                    obs.failure, obs.failed_operation = Failure.DNS_BOGUS_ANSWER, Operation.RESOLVE
                    obs.failure_detail = detail
        except ResolutionError as exc:
            obs.failure, obs.failed_operation = exc.failure, Operation.RESOLVE
            obs.failure_detail = exc.detail
            obs.fields["validation"] = str(Security.INDETERMINATE)
            # No server of a zone answered: the engine tries the whole walk again, as for
            # a lost dns.query datagram (a failure counts when every attempt fails).
            obs.retryable = exc.failure is Failure.GENERIC_TIMEOUT_ERROR
        except Exception as exc:
            import traceback

            obs.failure = Failure.UNKNOWN_FAILURE
            obs.failure_detail = "".join(traceback.format_exception(exc))
        obs.children.extend(("dns_iterative_steps", s) for s in res.steps)
        obs.duration_ms = (self.clock.monotonic() - t0) * 1000
        return obs

    # ------------------------------------------------------------------ resolution
    async def _root(self, res: _Resolution) -> _Zone:
        zone = _Zone(dns.name.root, list(self.hints), Security.INDETERMINATE)
        ds = anchor_matches(dns.name.root, dns.rrset.RRset(dns.name.root, IN, DNSKEY), self.anchors)
        zone.security = await self._zone_keys(res, zone, ds, depth=0)
        return zone

    async def _zone_keys(
        self, res: _Resolution, zone: _Zone, ds: dns.rrset.RRset, *, depth: int
    ) -> Security:
        """Fetch and check the child's DNSKEY RRset against the DS; the zone's state."""
        if zone.name in res.keys:
            zone.keys = res.keys[zone.name]
            return Security.SECURE
        for server in zone.servers:
            r = await res.ask(zone, server, zone.name, DNSKEY, depth)
            if r is None:
                continue
            keys = r.get_rrset(r.answer, zone.name, IN, DNSKEY)
            sigs = r.get_rrset(r.answer, zone.name, IN, RRSIG, DNSKEY)
            if keys is None:
                res.steps[-1]["outcome"] = "nodata"
                res.notes.append(f"{zone.name}: DS present but no DNSKEY")
                res.steps[-1]["dnssec"] = str(Security.BOGUS)
                return Security.BOGUS
            res.steps[-1]["outcome"] = "answer"
            if zone.name == dns.name.root:
                self._warn_unanchored(res, keys, sigs, ds)
            try:
                validate_dnskeys(zone.name, keys, sigs, ds)
            except DnssecError as exc:
                res.notes.append(str(exc))
                res.steps[-1].update(dnssec=str(Security.BOGUS), detail=str(exc))
                return Security.BOGUS
            res.steps[-1]["dnssec"] = str(Security.SECURE)
            zone.keys = keys
            res.keys[zone.name] = keys
            return Security.SECURE
        res.notes.append(f"{zone.name}: no server answered the DNSKEY query")
        return Security.INDETERMINATE

    def _warn_unanchored(
        self,
        res: _Resolution,
        keys: dns.rrset.RRset,
        sigs: dns.rrset.RRset | None,
        ds: dns.rrset.RRset,
    ) -> None:
        """Record, and log once per probe, that no anchor matches a key signing the root
        DNSKEY RRset: every answer is then bogus (RFC 4035 section 5), and the cause is the
        anchor file, not the zones (e.g. KSK-2017 alone after the 2026-10-11 rollover)."""
        found = unanchored_signers(dns.name.root, keys, sigs, ds)
        if found is None:
            return
        signers, anchors = found
        warning = (
            f"trust anchor warning: no anchor (key tags {', '.join(map(str, anchors))}) "
            f"matches a key that signs the root DNSKEY RRset (key tags "
            f"{', '.join(map(str, signers)) or 'none'})"
        )
        res.notes.append(warning)
        if self.anchor_warning is None:
            self.anchor_warning = warning
            logging.getLogger(__name__).warning("dns.iterative: %s", warning)

    async def _resolve(
        self, res: _Resolution, qname: dns.name.Name, qtype: int, *, depth: int
    ) -> tuple[Security, str, dns.message.Message | None]:
        seen_cnames: set[dns.name.Name] = set()
        states: list[Security] = []
        final: dns.message.Message | None = None
        for _ in range(self.config.max_cnames + 1):
            security, final, target = await self._chase(res, qname, qtype, depth=depth)
            states.append(security)
            if target is None:
                return worst(*states), "; ".join(res.notes) or str(worst(*states)), final
            if target in seen_cnames or target == qname:
                raise ResolutionError(Failure.DNS_SERVER_MISBEHAVING, f"CNAME loop at {target}")
            seen_cnames.add(qname)
            qname = target
        raise ResolutionError(
            Failure.DNS_SERVER_MISBEHAVING, f"more than {self.config.max_cnames} CNAMEs"
        )

    async def _chase(
        self, res: _Resolution, qname: dns.name.Name, qtype: int, *, depth: int
    ) -> tuple[Security, dns.message.Message | None, dns.name.Name | None]:
        """From the root down to an answer for qname; returns (state, response, cname)."""
        zone = await self._root(res)
        visited = {zone.name}
        while True:
            response = None
            for candidate in zone.servers:
                r = await res.ask(zone, candidate, qname, qtype, depth)
                if r is None:
                    continue
                if r.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                    res.steps[-1]["outcome"] = "lame"
                    continue
                response = r
                break
            if response is None:
                raise ResolutionError(
                    Failure.GENERIC_TIMEOUT_ERROR
                    if res.steps and res.steps[-1].get("outcome") == "timeout"
                    else Failure.DNS_SERVFAIL_ERROR,
                    f"no server of {zone.name} answered for {qname}",
                )
            step = res.steps[-1]
            step["dnssec"] = str(zone.security)
            answer = response.get_rrset(
                response.answer, qname, IN, dns.rdatatype.RdataType.make(qtype)
            )
            cname = response.get_rrset(response.answer, qname, IN, CNAME)
            if response.rcode() == dns.rcode.NXDOMAIN:
                step["outcome"] = "nxdomain"
                return self._deny(res, zone, response, qname, qtype, nx=True), response, None
            if answer is not None or cname is not None:
                rrset = answer if answer is not None else cname
                assert rrset is not None
                step["outcome"] = "answer" if answer is not None else "cname"
                security = self._check(res, zone, response, rrset)
                step["dnssec"] = str(security)
                if answer is None and qtype != CNAME:
                    return security, response, cname[0].target  # type: ignore[index]
                return security, response, None
            ns = next((r for r in response.authority if r.rdtype == NS), None)
            if ns is None or response.flags & dns.flags.AA:
                step["outcome"] = "nodata"
                return self._deny(res, zone, response, qname, qtype, nx=False), response, None
            child = ns.name
            if not child.is_subdomain(zone.name) or child == zone.name or child in visited:
                step["outcome"] = "lame"
                raise ResolutionError(
                    Failure.DNS_SERVER_MISBEHAVING,
                    f"referral loop: {zone.name} refers {qname} to {child}",
                )
            if not qname.is_subdomain(child):
                raise ResolutionError(
                    Failure.DNS_SERVER_MISBEHAVING, f"referral to {child} does not cover {qname}"
                )
            visited.add(child)
            step.update(
                outcome="referral",
                referral_zone=child.to_text(),
                referral_ns=",".join(sorted(rd.target.to_text() for rd in ns)),
            )
            servers = self._glue(response, ns)
            if not servers:
                servers = await self._lookup_ns(res, ns, depth=depth)
            if not servers:
                raise ResolutionError(
                    Failure.DNS_SERVFAIL_ERROR, f"no address for any NS of {child}"
                )
            security = await self._delegation(res, zone, response, child, servers, depth=depth)
            zone = _Zone(child, servers, security, res.keys.get(child))

    def _glue(self, response: dns.message.Message, ns: dns.rrset.RRset) -> list[tuple[str, str]]:
        out = []
        for rd in ns:
            for rdtype in (A, AAAA):
                glue = response.get_rrset(response.additional, rd.target, IN, rdtype)
                for addr in glue or ():
                    out.append((rd.target.to_text(), addr.address))
        return out

    async def _lookup_ns(
        self, res: _Resolution, ns: dns.rrset.RRset, *, depth: int
    ) -> list[tuple[str, str]]:
        """Out-of-bailiwick NS names: resolve their addresses from the root, nested."""
        if depth >= self.config.max_depth:
            raise ResolutionError(
                Failure.DNS_SERVER_MISBEHAVING, f"NS lookup depth limit {self.config.max_depth}"
            )
        out: list[tuple[str, str]] = []
        for rd in ns:
            try:
                _sec, _detail, r = await self._resolve(res, rd.target, A, depth=depth + 1)
            except ResolutionError as exc:
                res.notes.append(f"NS {rd.target}: {exc.detail}")
                continue
            if r is None:
                continue
            for rrset in r.answer:
                if rrset.rdtype == A:
                    out.extend((rd.target.to_text(), a.address) for a in rrset)
            if out:
                break
        return out

    async def _delegation(
        self,
        res: _Resolution,
        parent: _Zone,
        response: dns.message.Message,
        child: dns.name.Name,
        servers: list[tuple[str, str]],
        *,
        depth: int,
    ) -> Security:
        if parent.security is not Security.SECURE:
            return parent.security
        assert parent.keys is not None
        ds = response.get_rrset(response.authority, child, IN, DS)
        step = res.steps[-1]
        if ds is not None:
            try:
                validate_rrset(
                    ds,
                    response.get_rrset(response.authority, child, IN, RRSIG, DS),
                    parent.name,
                    parent.keys,
                )
            except DnssecError as exc:
                res.notes.append(str(exc))
                step["detail"] = str(exc)
                return Security.BOGUS
            zone = _Zone(child, servers, Security.SECURE)
            return await self._zone_keys(res, zone, ds, depth=depth)
        # No DS: an insecure delegation only if an NSEC or NSEC3 proves it (RFC 4035
        # section 5.2, RFC 5155 section 8.9).
        nsec3s = self._signed(res, parent, response, NSEC3)
        if nsec3s is None:
            return Security.BOGUS
        if nsec3s:
            return self._nsec3(
                res, parent.name, nsec3s, child, lambda p: p.unsigned_delegation(child)
            )
        for rrset in response.authority:
            if rrset.rdtype == NSEC and rrset.name == child:
                types = nsec_types(rrset[0])
                try:
                    validate_rrset(
                        rrset,
                        response.get_rrset(response.authority, child, IN, RRSIG, NSEC),
                        parent.name,
                        parent.keys,
                    )
                except DnssecError as exc:
                    res.notes.append(str(exc))
                    return Security.BOGUS
                if NS in types and DS not in types:
                    res.notes.append(f"{child}: insecure delegation (NSEC proves no DS)")
                    step["detail"] = "insecure delegation (NSEC: NS without DS)"
                    return Security.INSECURE
        res.notes.append(f"{child}: no DS and no proof of its absence")
        return Security.BOGUS

    def _check(
        self, res: _Resolution, zone: _Zone, response: dns.message.Message, rrset: dns.rrset.RRset
    ) -> Security:
        if zone.security is not Security.SECURE:
            return zone.security
        assert zone.keys is not None
        sigs = response.get_rrset(response.answer, rrset.name, IN, RRSIG, rrset.rdtype)
        try:
            validate_rrset(rrset, sigs, zone.name, zone.keys)
        except DnssecError as exc:
            res.notes.append(str(exc))
            return Security.BOGUS
        return Security.SECURE

    def _deny(
        self,
        res: _Resolution,
        zone: _Zone,
        response: dns.message.Message,
        qname: dns.name.Name,
        qtype: int,
        *,
        nx: bool,
    ) -> Security:
        """Check an NXDOMAIN or NODATA with NSEC (RFC 4035 section 5.4) or NSEC3 (RFC 5155
        sections 8.4-8.7)."""
        if zone.security is not Security.SECURE:
            return zone.security
        nsec3s = self._signed(res, zone, response, NSEC3)
        if nsec3s is None:
            return Security.BOGUS
        if nsec3s:
            return self._nsec3(
                res,
                zone.name,
                nsec3s,
                qname,
                lambda p: p.nxdomain(qname) if nx else p.nodata(qname, qtype),
            )
        nsecs = self._signed(res, zone, response, NSEC)
        if nsecs is None:
            return Security.BOGUS
        if not nsecs:
            res.notes.append(f"{qname}: denial without NSEC or NSEC3 records")
            return Security.BOGUS
        if nx:
            if not any(covers(r.name, r[0].next, qname) for r in nsecs):
                res.notes.append(f"{qname}: no NSEC covers the name")
                return Security.BOGUS
            return Security.SECURE
        for r in nsecs:
            if r.name == qname:
                types = nsec_types(r[0])
                if qtype in types or CNAME in types:
                    res.notes.append(f"{qname}: NSEC says the type exists")
                    return Security.BOGUS
                return Security.SECURE
        res.notes.append(f"{qname}: no NSEC matches the name for NODATA")
        return Security.BOGUS

    def _signed(
        self,
        res: _Resolution,
        zone: _Zone,
        response: dns.message.Message,
        rdtype: dns.rdatatype.RdataType,
    ) -> list[dns.rrset.RRset] | None:
        """The authority section's NSEC or NSEC3 RRsets, each checked against its RRSIGs
        with the zone's keys; None (and a note) when one does not validate."""
        assert zone.keys is not None
        rrsets = [r for r in response.authority if r.rdtype == rdtype]
        for rrset in rrsets:
            try:
                validate_rrset(
                    rrset,
                    response.get_rrset(response.authority, rrset.name, IN, RRSIG, rdtype),
                    zone.name,
                    zone.keys,
                )
            except DnssecError as exc:
                res.notes.append(str(exc))
                return None
        return rrsets

    @staticmethod
    def _nsec3(
        res: _Resolution,
        zone: dns.name.Name,
        rrsets: list[dns.rrset.RRset],
        name: dns.name.Name,
        prove: Callable[[Nsec3Proof], Security],
    ) -> Security:
        """Run one RFC 5155 section 8 proof over validated NSEC3 records."""
        try:
            proof = Nsec3Proof(zone, rrsets)
            if proof.too_costly:
                res.notes.append(
                    f"{name}: NSEC3 with {proof.iterations} iterations, above "
                    f"{MAX_ITERATIONS} (RFC 9276 section 3.2): insecure"
                )
                return Security.INSECURE
            security = prove(proof)
        except DnssecError as exc:
            res.notes.append(f"{name}: {exc}")
            return Security.BOGUS
        res.notes.append(f"{name}: NSEC3 proof ({security})")
        return security
