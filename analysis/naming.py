"""Naming indicators N1-N8 from dns_observations/dns_answers, dns_iterative_steps and
naming_observations/naming_values.

SQL reduces rows to one record per (run, name, type, resolver endpoint, rcode, address)
with DISTINCT-style GROUP BY; a resolver endpoint is (address, port, transport, role), so a
test endpoint never merges with a control that shares its address; Python turns those
into per-name sums for the bootstrap. Reads the database in :func:`load_dns` and
:func:`load_naming`; the indicator functions do no I/O.
Each indicator's catalogue entry sits on its function (``@indicator``, analysis/registry.py).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import Engine, and_, case, func, or_, select

from fragscope.analysis import registry, stats
from fragscope.analysis.asn import AsnMap
from fragscope.analysis.endpoint_properties import declared_resolvers
from fragscope.analysis.facts import norm_name
from fragscope.analysis.registry import Context, Facts, indicator
from fragscope.analysis.result import (
    Estimate,
    from_interval,
    from_ratio,
    missing_tables,
    not_applicable,
    withheld,
)
from fragscope.analysis.tables import light, stream_rows
from fragscope.db import special_use

_NO_ADDRESSES: frozenset[str] = frozenset()


class Endpoint(NamedTuple):
    """One resolver service as the campaign named it: the same address may serve a test
    endpoint (Do53, DoT) and the control (DoH), so a view is never keyed by address alone
    (docs/indicators.md, N1)."""

    address: str
    port: int | None
    transport: str | None
    role: str | None

    @property
    def label(self) -> str:
        """A stable text key (clusters, sorting): role/transport address:port."""
        return f"{self.role}/{self.transport} {self.address}:{self.port}"


@dataclass(slots=True)
class View:
    """What one resolver endpoint said about one (name, type) in one run (attempts merged).

    A run holds millions of views, so a view is small: its rcode is merged as rows arrive
    (:meth:`add_rcode`) rather than kept as a set, and a view without addresses shares one
    empty frozenset."""

    role: str | None
    rcode: str
    addresses: AbstractSet[str] = _NO_ADDRESSES
    ad: bool = False
    answered: bool = False

    def add_rcode(self, rcode: str) -> None:
        # An attempt that got NOERROR wins over a SERVFAIL retry: the resolver did answer.
        # Otherwise the least rcode name of the attempts, whatever their order.
        if self.rcode != "NOERROR" and (rcode == "NOERROR" or rcode < self.rcode):
            self.rcode = rcode


@dataclass
class DnsFacts:
    """views[(name, qtype)][endpoint] plus whoami egress counts and iterative verdicts."""

    views: dict[tuple[str, str], dict[Endpoint, View]] = field(default_factory=dict)
    whoami: Counter[str] = field(default_factory=Counter)
    verdicts: dict[str, set[str]] = field(default_factory=dict)
    canaries: set[str] = field(default_factory=set)
    # dns.iterative's referrals: delegated zone -> its NS names, and NS name -> the
    # addresses the resolutions asked it at (N7's SPD).
    delegations: dict[str, frozenset[str]] = field(default_factory=dict)
    ns_addresses: dict[str, set[str]] = field(default_factory=dict)
    # Resolvers the run's campaign declared validates_dnssec = false (N6 leaves them out).
    non_validating: set[Endpoint] = field(default_factory=set)


def load_dns(engine: Engine, run_ids: Iterable[str], present: set[str]) -> dict[str, DnsFacts]:
    ids = sorted(set(run_ids))
    out = {r: DnsFacts() for r in ids}
    if not ids or "dns_observations" not in present or "dns_answers" not in present:
        return out
    o = light(
        "dns_observations",
        "id",
        "run_id",
        "probe",
        "purpose",
        "qname",
        "qtype",
        "resolver_address",
        "resolver_port",
        "resolver_role",
        "transport",
        "rcode_name",
        "flag_ad",
        "answer_count",
        "whoami_address",
        "validation",
    )
    a = light("dns_answers", "observation_id", "section", "rtype", "value")
    with engine.connect() as conn:
        # One pass over dns_observations (millions of rows) serves the three inputs: the
        # queries' views, the whoami egress counts and the iterative verdicts; the two
        # small ones are told apart by their CASE columns (NULL for the views' rows).
        query = and_(o.c.probe == "dns.query", o.c.purpose == "query", o.c.rcode_name.is_not(None))
        egress = case(
            (and_(o.c.purpose == "whoami", o.c.whoami_address.is_not(None)), o.c.whoami_address)
        )
        verdict = case(
            (and_(o.c.probe == "dns.iterative", o.c.validation.is_not(None)), o.c.validation)
        )
        is_query = case((query, 1), else_=0)
        group = (
            o.c.run_id,
            o.c.qname,
            o.c.qtype,
            o.c.resolver_address,
            o.c.resolver_port,
            o.c.transport,
            o.c.resolver_role,
            o.c.rcode_name,
            a.c.value,
            egress,
            verdict,
            is_query,
        )
        stmt = (
            select(
                *group[:8],
                func.max(case((o.c.flag_ad, 1), else_=0)),
                func.max(o.c.answer_count),
                *group[8:],
                func.count(),
            )
            .join_from(
                o,
                a,
                # Only a query's answers: a whoami row stays one row (its count is queries).
                and_(
                    a.c.observation_id == o.c.id,
                    a.c.section == "answer",
                    a.c.rtype.in_(["A", "AAAA"]),
                    query,
                ),
                isouter=True,
            )
            .where(o.c.run_id.in_(ids), or_(query, egress.is_not(None), verdict.is_not(None)))
            .group_by(*group)
        )
        # One row per (name, type, endpoint, rcode, address): the same names, endpoints
        # and addresses recur across resolvers and runs, so each is normalised once and
        # stored as one shared object (a run has millions of views; memory, CPU).
        keys: dict[tuple[str, str], tuple[str, str]] = {}
        endpoints: dict[tuple[Any, ...], Endpoint] = {}
        strings: dict[str, str] = {}
        shared = strings.setdefault  # str -> the one str object kept for it
        for row in stream_rows(conn, stmt):
            run_id, qname, qtype, address, port, transport, role, rcode, ad, ancount = row[:10]
            value = row[10]
            if not row[13]:  # a whoami answer or an iterative verdict
                if row[11] is not None:
                    out[run_id].whoami[row[11]] += row[14]
                if row[12] is not None:
                    out[run_id].verdicts.setdefault(norm_name(qname), set()).add(row[12])
                continue
            key = keys.get((qname, qtype))
            if key is None:
                key = keys[(qname, qtype)] = (norm_name(qname), (qtype or "").upper())
            views = out[run_id].views.get(key)
            if views is None:
                views = out[run_id].views[key] = {}
            resolver = endpoints.get((address, port, transport, role))
            if resolver is None:
                resolver = endpoints[(address, port, transport, role)] = Endpoint(
                    address, port, transport, role
                )
            view = views.get(resolver)
            rcode = shared(rcode, rcode)
            if view is None:
                view = views[resolver] = View(role, rcode)
            else:
                view.add_rcode(rcode)
            if rcode == "NOERROR":
                view.ad |= bool(ad)
                view.answered |= bool(ancount)
                if value is not None:
                    value = shared(value, value)
                    if view.addresses:
                        view.addresses.add(value)  # type: ignore[attr-defined]
                    else:
                        view.addresses = {value}
        for facts in out.values():
            # In address order, as a GROUP BY on the address alone returned them: N7's
            # HHI sums the shares in this order (the same float to the last bit).
            facts.whoami = Counter(dict(sorted(facts.whoami.items())))
        if "dns_iterative_steps" in present:
            _load_delegations(conn, o, ids, out)
        for run_id, declared in declared_resolvers(conn, ids).items():
            out[run_id].non_validating = {
                Endpoint(*key) for key, d in declared.items() if d.validates_dnssec is False
            }
        if "targets" in present:
            t = light("targets", "run_id", "name", "role")
            stmt = select(t.c.run_id, t.c.name).where(t.c.run_id.in_(ids), t.c.role == "canary")
            for run_id, name in stream_rows(conn, stmt):
                out[run_id].canaries.add(norm_name(name))
    return out


def _load_delegations(conn: Any, o: Any, ids: list[str], out: dict[str, DnsFacts]) -> None:
    """Each run's delegations (referral zone -> NS names) and the NS names' addresses,
    from the steps of its dns.iterative resolutions."""
    s = light(
        "dns_iterative_steps",
        "observation_id",
        "zone",
        "server_name",
        "server_address",
        "referral_zone",
        "referral_ns",
    )
    stmt = (
        select(
            o.c.run_id, s.c.zone, s.c.server_name, s.c.server_address, s.c.referral_zone,
            s.c.referral_ns,
        )
        .join_from(s, o, o.c.id == s.c.observation_id)
        .where(o.c.run_id.in_(ids))
        .distinct()
    )  # fmt: skip
    for run_id, _zone, server, address, child, ns in stream_rows(conn, stmt):
        facts = out[run_id]
        if server and address:
            facts.ns_addresses.setdefault(norm_name(server), set()).add(address)
        if child and ns:
            names = frozenset(norm_name(n) for n in ns.split(",") if n)
            facts.delegations[norm_name(child)] = (
                facts.delegations.get(norm_name(child), names) | names
            )


def single_provider_share(d: DnsFacts, mapping: AsnMap | None) -> tuple[float | None, int]:
    """SPD of N7: (share of delegated zones whose NS set one provider serves, zones).

    A zone's providers are its NS hosts' origin ASes when a mapping is given and every NS
    host was asked at mapped addresses; otherwise the NS host names' parent domains
    (ns1.provider.example -> provider.example), so a zone is never judged on half its
    NS set."""
    single = 0
    for ns in d.delegations.values():
        providers: set[Any] | None = None
        if mapping is not None and all(d.ns_addresses.get(n) for n in ns):
            found = {mapping.lookup(a) for n in ns for a in d.ns_addresses[n]}
            providers = None if None in found else found
        if providers is None:
            providers = {n.split(".", 1)[-1] for n in ns}
        single += len(providers) == 1
    zones = len(d.delegations)
    return (single / zones if zones else None), zones


def _asns(addresses: AbstractSet[str], mapping: AsnMap | None) -> set[int] | None:
    if mapping is None:
        return None
    found = {mapping.lookup(x) for x in addresses}
    return None if None in found else found  # type: ignore[return-value]


def consistent(test: View, control: View, mapping: AsnMap | None) -> bool:
    """cons(d, r) of N1 (docs/indicators.md): same failure rcode, both empty, or a shared IP/AS."""
    rt, rc = test.rcode, control.rcode
    if rt == rc and rt in ("NXDOMAIN", "SERVFAIL"):
        return True
    if rt != "NOERROR" or rc != "NOERROR":
        return False
    if not test.addresses and not control.addresses:
        return True  # NODATA at both
    if test.addresses & control.addresses:
        return True
    at, ac = _asns(test.addresses, mapping), _asns(control.addresses, mapping)
    return bool(at and ac and at & ac)


# Inputs that add evidence to a DNS indicator (N5's root answers, N7's referrals): a
# database without them still gives the indicator from dns_observations.
_EXTRA_DNS_INPUTS = ("naming_observations", "naming_values", "dns_iterative_steps")


def _dns_missing(code: str, present: set[str]) -> str | None:
    return missing_tables(code, present, _EXTRA_DNS_INPUTS)


@indicator(
    code="N1",
    title="Resolver Answer Divergence (RAD)",
    question="Do this vantage's resolvers answer A/AAAA queries differently from the "
    "control resolver (manipulation, split horizon, national roots)?",
    unit="share of (name, test resolver endpoint) pairs",
    formula="RAD = 1 - (1/|P|) * sum_{(d,r) in P} cons(d,r), P = (name, test resolver "
    "endpoint) pairs of dns.query A/AAAA rows that a control endpoint of the same run also "
    "answered; an endpoint is (address, port, transport, role), so a test endpoint never "
    "merges with a control on the same address; cons = 1 iff both rcodes are equal and "
    "in {NXDOMAIN, SERVFAIL}, or both are NOERROR without addresses, or the address sets "
    "intersect, or their origin-ASN sets intersect (any control endpoint of the run).",
    reasoning="The binary consistency rule (not the continuous Jaccard variant) because "
    "it does not flag CDNs that answer different addresses in the same AS; the ASN test "
    "is skipped (addresses only) when no mapping is given, which is recorded in params. "
    "Version 2 keys views by endpoint: version 1 keyed them by address, so test "
    "endpoints sharing the control's address (Do53 and DoT beside a DoH control) became "
    "the control.",
    version=2,
    inputs=("dns_observations", "dns_answers"),
    min_n=5,
    pillar=registry.NAMING,
    needs=(Facts.DNS,),
    needs_control=True,
    params_doc={"asn_used": "whether the IP-to-ASN test took part", "mapping_date": "date"},
    headline=3,
    brief="Security",
    brief_rank=1,
)
def n1(ctx: Context) -> Estimate:
    run, d, mapping, present = ctx.run, ctx.dns, ctx.mapping, ctx.present
    if reason := _dns_missing("N1", present):
        return withheld("N1", run, reason)
    num: Counter[str] = Counter()
    den: Counter[str] = Counter()
    for (name, qtype), views in d.views.items():
        if qtype not in ("A", "AAAA"):
            continue
        controls = [v for v in views.values() if v.role == "control"]
        if not controls:
            continue
        control = controls[0] if len(controls) == 1 else None  # the usual panel: one
        tests = inconsistent = 0
        for v in views.values():
            if v.role != "test":
                continue
            tests += 1
            if control is not None:
                inconsistent += not consistent(v, control, mapping)
            else:
                inconsistent += not any(consistent(v, c, mapping) for c in controls)
        if tests:
            den[name] += tests
            num[name] += inconsistent
    names = sorted(den)
    params = {"asn_used": mapping is not None, "mapping_date": mapping.date if mapping else None}
    if not names:
        return withheld(
            "N1", run, "no name answered by both a test and a control resolver", **params
        )
    return from_ratio(
        "N1", run, [num[n] for n in names], [den[n] for n in names], params=params, keys=names
    )


@indicator(
    code="N2",
    title="Root-Zone View Divergence (RZD)",
    question="Does this vantage's resolver see the same set of top-level domains as the "
    "control resolver (alternative roots, blocked TLDs)?",
    unit="share of (TLD, test resolver endpoint) pairs",
    formula="For single-label SOA/NS queries t: exists_r(t) = NOERROR with an answer "
    "record. RZD = |{(t,r) : exists_r(t) != exists_c(t)}| / |{(t,r)}| over test "
    "resolver endpoints r (address, port, transport, role) and the control c of the same "
    "run; RZD+ (extra TLDs) and RZD- (missing TLDs) are kept in params.",
    reasoning="The control resolver's view stands in for the dated IANA list, so the "
    "same formula works in the lab and on the Internet; RZD is then exactly the "
    "|T|-weighted mix of RZD+ and RZD- of the catalogue. Version 2 keys resolvers by "
    "endpoint, as N1 does (version 1 merged a test endpoint into a control on its address).",
    version=2,
    inputs=("dns_observations", "dns_answers"),
    min_n=3,
    pillar=registry.NAMING,
    needs=(Facts.DNS,),
    needs_control=True,
    headline=4,
)
def n2(ctx: Context) -> Estimate:
    run, d, present = ctx.run, ctx.dns, ctx.present
    if reason := _dns_missing("N2", present):
        return withheld("N2", run, reason)
    rows: dict[str, list[float]] = {}
    for (name, qtype), views in d.views.items():
        if qtype not in ("SOA", "NS") or "." in name or not name:
            continue
        controls = [v for v in views.values() if v.role == "control"]
        if not controls:
            continue
        exists_c = any(c.rcode == "NOERROR" and c.answered for c in controls)
        row = rows.setdefault(name, [0.0, 0.0, 0.0])  # extra, missing, tests
        for v in views.values():
            if v.role != "test":
                continue
            exists_v = v.rcode == "NOERROR" and v.answered
            row[0] += 1 if exists_v and not exists_c else 0
            row[1] += 1 if exists_c and not exists_v else 0
            row[2] += 1
    names = sorted(n for n in rows if rows[n][2] > 0)
    num = [rows[n][0] + rows[n][1] for n in names]
    params = {
        "extra_tld_pairs": sum(rows[n][0] for n in names),
        "missing_tld_pairs": sum(rows[n][1] for n in names),
    }
    return from_ratio("N2", run, num, [rows[n][2] for n in names], params=params)


@indicator(
    code="N3",
    title="Alt-Namespace Collision Rate (ACR)",
    question="Which share of the TLDs that alternative namespaces serve also exist in the "
    "ICANN namespace or are special-use names?",
    unit="share of (alternative namespace, TLD) pairs",
    formula="T_n = last labels of the names that an endpoint of alternative namespace n "
    "(naming_observations.endpoint_namespace, the root or chain that answered) found "
    "(outcome resolved or no_records) in the run; T_ref = the same for the run's ICANN "
    "endpoints, united with the IANA special-use labels (RFC 6761, 6762, 7686, 9476). "
    "A pair (n, t) with t outside T_ref is undetermined when an ICANN lookup of a name "
    "under t got no answer at all (every attempt lost): it is left out of both sums. "
    "ACR = sum_n |T_n ∩ T_ref| / sum_n |T_n| over the determined (n, TLD) pairs; "
    "params: ACR_n, the colliding labels, the undetermined pairs and the pairwise "
    "Jaccard |T_n ∩ T_m| / |T_n ∪ T_m|.",
    reasoning="Structural, not vantage-dependent: reported descriptively outside C2. "
    "T_IANA is what the run's ICANN endpoints answer (the names asked decide which TLDs "
    "are seen), since analysis reads only the database; version 2 keys each row by "
    "the endpoint's namespace, not the name's (version 1's registry guess). Version 3 "
    "leaves out the pairs whose ICANN lookups were lost: a lost lookup is not 'no "
    "collision', so loss no longer shrinks ACR (it only lowers n).",
    version=3,
    inputs=("naming_observations",),
    min_n=1,
    pillar=registry.DESCRIPTIVE,
    needs=(Facts.NAMING,),
    brief="Challenges",
    brief_rank=4,
)
def n3(ctx: Context) -> Estimate:
    run, f, present = ctx.run, ctx.naming, ctx.present
    if reason := missing_tables("N3", present):
        return withheld("N3", run, reason)
    tlds: dict[str, set[str]] = defaultdict(set)
    for lk in f.lookups:
        if lk.namespace is not None and lk.existing:
            tlds[lk.namespace].add(_tld(lk.name))
    icann = tlds.pop(ICANN, set())
    reference = icann | special_use.LABELS  # T_special: the special-use labels
    lost = {_tld(lk.name) for lk in f.lookups if lk.namespace == ICANN and not lk.answered}
    unknown = lost - reference  # T_IANA membership not measured: neither hit nor miss
    undetermined = sorted(f"{ns}:{t}" for ns, labels in tlds.items() for t in labels & unknown)
    found = dict(tlds)  # the Jaccard compares what the namespaces found, ICANN aside
    tlds = {ns: labels - unknown for ns, labels in found.items() if labels - unknown}
    keys = sorted(f"{ns}:{t}" for ns, labels in tlds.items() for t in labels)
    colliding = [k for k in keys if k.split(":", 1)[1] in reference]
    per_ns = {
        ns: {
            "tlds": len(labels),
            "colliding": len(labels & reference),  # the labels: top-level "colliding"
            "acr": len(labels & reference) / len(labels),
        }
        for ns, labels in sorted(tlds.items())
    }
    pairs = {
        f"{a}|{b}": len(found[a] & found[b]) / len(found[a] | found[b])
        for a in sorted(found)
        for b in sorted(found)
        if a < b
    }
    params: dict[str, Any] = {
        "alt_tlds": len(keys),
        "colliding": sorted({k.split(":", 1)[1] for k in colliding}),
        "icann_tlds": sorted(icann),
        "undetermined": undetermined,
        "namespaces": per_ns,
        "jaccard": pairs,
        "unattributed_lookups": _unattributed(f),
    }
    if not keys:
        answered = any(lk.namespace not in (None, ICANN) and lk.answered for lk in f.lookups)
        if answered and not undetermined:
            # The namespaces answered and hold no name: sum |T_n| = 0, ACR is 0/0.
            return not_applicable(
                "N3", run, "no alternative-namespace endpoint found a name", **params
            )
        return withheld("N3", run, "no alternative-namespace endpoint found a name", **params)
    hit = set(colliding)
    return from_ratio(
        "N3",
        run,
        [1.0 if k in hit else 0.0 for k in keys],
        [1.0] * len(keys),
        params=params,
        keys=keys,
    )


@indicator(
    code="N4",
    title="Alt-Namespace Unreachability (1 - ANR)",
    question="Which share of alternative-namespace lookups got no answer at all?",
    unit="share of lookups",
    formula="1 - ANR, ANR = successes / attempts over the lookups at endpoints of "
    "alternative namespaces (endpoint_namespace other than icann); a lookup is one task, "
    "a success when any of its attempts got an answer (outcome resolved, no_records or "
    "not_found). params: anr[n/m] = ANR_{n,m} per namespace and method (the run is the "
    "vantage); AGF = match / (match + mismatch) of the bridge and gateway lookups judged "
    "against the on-chain answer (fidelity), also per n/m; APD = 1 - k_indep / k over "
    "the working (namespace, method, endpoint) paths, k_indep those not needing an "
    "ICANN-DNS host name lookup, also per namespace.",
    reasoning="Descriptive (the catalogue keeps ANR outside the score); APD is the "
    "concentration pillar's member, taken from params. Version 2 keys lookups by the "
    "endpoint's namespace and folds retries into one lookup. Version 3: a lookup that got "
    "no answer on any attempt while the same-path control failed within its window "
    "(the run's control resolver for the dns method, the control host's TLS for the HTTP "
    "methods; analysis.pathcontrol) is left out, counted in "
    "params.path_control_discarded: loss is not unreachability.",
    version=3,
    inputs=("naming_observations",),
    min_n=3,
    pillar=registry.DESCRIPTIVE,
    needs=(Facts.NAMING, Facts.PATH_CONTROL),
    brief="Opportunities",
    brief_rank=3,
)
def n4(ctx: Context) -> Estimate:
    run, f, present = ctx.run, ctx.naming, ctx.present
    if reason := missing_tables("N4", present):
        return withheld("N4", run, reason)
    failed: Counter[str] = Counter()
    tasks: Counter[str] = Counter()
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # tasks, ok, match, mismatch
    paths: dict[tuple[str, str, str | None], bool] = {}  # working path -> needs ICANN DNS
    explained = ctx.path_control.explained_lookups
    discarded = 0
    for lk in f.lookups:
        if lk.namespace is None or lk.namespace == ICANN:
            continue
        if not lk.answered and (lk.namespace, lk.method, lk.endpoint, lk.name) in explained:
            discarded += lk.tasks  # the path was down, not the namespace (pathcontrol)
            continue
        key = f"{lk.namespace}:{lk.name}"
        tasks[key] += lk.tasks
        failed[key] += lk.tasks - lk.answered
        row = per[f"{lk.namespace}/{lk.method}"]
        for i, count in enumerate((lk.tasks, lk.answered, lk.match, lk.mismatch)):
            row[i] += count
        if lk.answered:
            path = (lk.namespace, lk.method, lk.endpoint)
            paths[path] = paths.get(path, False) or lk.icann_dns
    by_ns: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # paths, independent paths
    for (ns, _m, _url), needs_icann in paths.items():
        by_ns[ns][0] += 1
        by_ns[ns][1] += 0 if needs_icann else 1
    match = sum(r[2] for r in per.values())
    judged = match + sum(r[3] for r in per.values())
    k = sum(v[0] for v in by_ns.values())
    params: dict[str, Any] = {
        "anr": {
            nm: {"attempts": r[0], "successes": r[1], "anr": _share(r[1], r[0])}
            for nm, r in sorted(per.items())
        },
        "agf": _share(match, judged),
        "agf_by_method": {nm: _share(r[2], r[2] + r[3]) for nm, r in sorted(per.items())},
        "apd": 1 - sum(v[1] for v in by_ns.values()) / k if k else None,
        "apd_by_namespace": {ns: 1 - v[1] / v[0] for ns, v in sorted(by_ns.items())},
        "working_paths": k,
        "unattributed_lookups": _unattributed(f),
        "path_control_discarded": discarded,
    }
    keys = sorted(tasks)
    return from_ratio(
        "N4", run, [failed[x] for x in keys], [tasks[x] for x in keys], params=params, keys=keys
    )


def _answer_class(
    view: View, mapping: AsnMap | None, memo: dict[AbstractSet[str], str]
) -> str | None:
    if view.rcode == "NXDOMAIN":
        return "NXDOMAIN"
    if view.rcode != "NOERROR":
        return None  # SERVFAIL, REFUSED: no view of the namespace
    # The resolvers of a name mostly return the same addresses: each set is classed once.
    key = frozenset(view.addresses)
    found = memo.get(key)
    if found is None:
        asns = _asns(key, mapping) if key else None
        by_as = "as:" + ",".join(map(str, sorted(asns))) if asns else None
        found = memo[key] = by_as or "ip:" + ",".join(sorted(key))
    return found


@indicator(
    code="N5",
    title="Namespace Ambiguity Exposure (NAE)",
    question="For how many names do resolvers of different roots give different "
    "destinations (the RFC 2826 event)?",
    unit="share of names",
    formula="Over every resolver of the run: every dns.query endpoint (all roles and "
    "namespaces) and every root endpoint naming.resolve asked with method dns (the "
    "alternative roots' A answers), map each A/AAAA answer to a class (its ASN set if "
    "mapped, else its address set; NXDOMAIN its own class; a root's not_found is "
    "NXDOMAIN). amb(d) = 1 iff >= 2 distinct non-NXDOMAIN classes, or NXDOMAIN at one "
    "resolver and an answer at another. NAE = mean_d amb(d). params: the ambiguous names "
    "split by cause: resolvers (the dns.query resolvers already disagree), else "
    "roots_conflicting (with the roots' answers, >= 2 destinations) or roots_partial "
    "(a root has no such name).",
    reasoning="One panel = all resolvers of the run; the split by cause stays in params. "
    "Version 2 adds the alternative roots' answers (version 1 read dns.query alone, so "
    "a name two roots give different destinations counted only if a dns.query resolver "
    "sat on each root) and keys resolvers by endpoint.",
    version=2,
    inputs=("dns_observations", "dns_answers", "naming_observations", "naming_values"),
    min_n=3,
    pillar=registry.NAMING,
    needs=(Facts.DNS, Facts.NAMING),
    params_doc={
        "causes": "ambiguous names per cause: resolvers, roots_conflicting, roots_partial",
        "root_views": "(name, type) views from naming.resolve's root endpoints",
    },
)
def n5(ctx: Context) -> Estimate:
    run, d, mapping, present = ctx.run, ctx.dns, ctx.mapping, ctx.present
    if reason := _dns_missing("N5", present):
        return withheld("N5", run, reason)
    roots = ctx.naming.root_views
    amb: dict[str, bool] = {}
    causes: dict[str, str] = {}
    memo: dict[AbstractSet[str], str] = {}
    for key in sorted({*d.views, *roots}):
        name, qtype = key
        if qtype not in ("A", "AAAA"):
            continue
        resolvers = list(d.views.get(key, {}).values())
        kind = _ambiguity(resolvers + list(roots.get(key, {}).values()), mapping, memo)
        amb.setdefault(name, False)
        if kind is None:
            continue
        amb[name] = True
        # The strongest cause over the name's types: the dns.query resolvers already
        # disagree, else the roots give two destinations, else one root has no such name.
        cause = "resolvers" if _ambiguity(resolvers, mapping, memo) else f"roots_{kind}"
        causes[name] = min(causes.get(name, cause), cause, key=_CAUSES.index)
    names = sorted(amb)
    split = Counter(causes.values())
    return from_ratio(
        "N5",
        run,
        [1.0 if amb[n] else 0.0 for n in names],
        [1.0] * len(names),
        params={
            "asn_used": mapping is not None,
            "causes": {c: split[c] for c in _CAUSES},
            "root_views": sum(len(v) for v in roots.values()),
        },
    )


_CAUSES = ("resolvers", "roots_conflicting", "roots_partial")  # N5's causes, strongest first


def _ambiguity(
    views: list[View], mapping: AsnMap | None, memo: dict[AbstractSet[str], str]
) -> str | None:
    """amb(d) of N5 over ``views`` of one (name, type): ``conflicting`` (>= 2 answer
    classes), ``partial`` (NXDOMAIN beside an answer) or None (not ambiguous)."""
    if len(views) < 2:
        return None
    classes = {c for v in views if (c := _answer_class(v, mapping, memo))}
    answered = classes - {"NXDOMAIN"}
    if len(answered) >= 2:
        return "conflicting"
    return "partial" if "NXDOMAIN" in classes and answered else None


@indicator(
    code="N6",
    title="DNSSEC non-validation (1 - DVR)",
    question="Which share of resolvers fail to validate DNSSEC?",
    unit="share of resolver endpoints",
    formula="val(r) = 1 iff r answers SERVFAIL for every name dns.iterative classified "
    "bogus in the run and sets AD=1 on every NOERROR answer for names classified "
    "secure; 1 - DVR = 1 - mean_r val(r) (w_r = 1) over the run's non-control resolver "
    "endpoints r (address, port, transport, role), leaving out those the run's campaign "
    "declares validates_dnssec = false (params.non_validating_left_out).",
    reasoning="The run's own iterative validation supplies the bogus/secure test names, "
    "so no hard-coded domain (dnssec-failed.org) is needed and >= 2 names are used "
    "when present. Version 2 keys resolvers by endpoint, as N1 does (version 1 merged "
    "a test endpoint into a control on its address, which then left the panel). "
    "Version 3 leaves out resolvers documented as not validating (Quad9's 9.9.9.10): "
    "their missing AD flags say what their operator chose, not what the path did.",
    version=3,
    inputs=("dns_observations",),
    min_n=1,
    pillar=registry.NAMING,
    needs=(Facts.DNS,),
    brief="Security",
    brief_rank=2,
)
def n6(ctx: Context) -> Estimate:
    run, d, present = ctx.run, ctx.dns, ctx.present
    if reason := _dns_missing("N6", present):
        return withheld("N6", run, reason)
    bogus = {n for n, v in d.verdicts.items() if v == {"bogus"}}
    secure = {n for n, v in d.verdicts.items() if v == {"secure"}}
    params = {
        "bogus_names": len(bogus),
        "secure_names": len(secure),
        "non_validating_left_out": len(d.non_validating),
    }
    if not bogus or not secure:
        return withheld(
            "N6", run, "no dns.iterative bogus and secure test names in the run", **params
        )
    per_resolver: dict[Endpoint, list[bool]] = defaultdict(list)
    for (name, _qtype), views in d.views.items():
        if name not in bogus and name not in secure:
            continue  # the DNSSEC canaries are a handful among millions of views
        for resolver, v in views.items():
            if v.role == "control" or resolver in d.non_validating:
                continue
            if name in bogus:
                per_resolver[resolver].append(v.rcode == "SERVFAIL")
            elif name in secure and v.rcode == "NOERROR":
                per_resolver[resolver].append(v.ad)
    resolvers = sorted(per_resolver, key=lambda e: e.label)
    # Clusters are resolver endpoints here: val(r) is a property of the resolver.
    nonval = [0.0 if all(per_resolver[r]) else 1.0 for r in resolvers]
    return from_ratio("N6", run, nonval, [1.0] * len(nonval), params=params)


@indicator(
    code="N7",
    title="Resolver concentration (normalised HHI)",
    question="How concentrated are the egress resolvers' operators (origin AS)?",
    unit="normalised HHI",
    formula="s_i = share of whoami answers whose egress address maps to AS i; HHI = "
    "sum (100 s_i)^2; HHI* = (HHI/10^4 - 1/N) / (1 - 1/N), N = number of ASes "
    "(HHI* = 1 when N = 1). params: HHI, CR1, CR3, and SPD (single-provider "
    "dependence, C2's N7.spd) = share of the zones delegated in the run's dns.iterative "
    "referrals whose NS set one provider serves: one origin AS of the addresses the NS "
    "hosts were asked at when every NS host was asked at mapped addresses, else one "
    "parent domain of the NS host names.",
    reasoning="Egress AS is what the mapping gives; AS-to-organisation merging is left to "
    "a later version. Version 2 adds SPD from the referrals dns.iterative already "
    "records (the NS names of each delegation and the addresses it asked), so no extra "
    "NS queries are needed; SPD is kept even when the HHI is withheld.",
    version=2,
    inputs=("dns_observations", "dns_iterative_steps"),
    min_n=1,
    pillar=registry.CONCENTRATION,
    needs=(Facts.DNS,),
    needs_asn=True,
    params_doc={"spd": "single-provider dependence (C2's N7.spd)", "spd_zones": "zones"},
)
def n7(ctx: Context) -> Estimate:
    run, d, mapping, present = ctx.run, ctx.dns, ctx.mapping, ctx.present
    if reason := _dns_missing("N7", present):
        return withheld("N7", run, reason)
    spd, zones = single_provider_share(d, mapping)
    params: dict[str, Any] = {"spd": spd, "spd_zones": zones}
    if mapping is None:
        return withheld("N7", run, "no IP-to-ASN mapping given (--asn-map)", **params)
    counts: Counter[int] = Counter()
    unmapped = 0
    for addr, count in d.whoami.items():
        asn = mapping.lookup(addr)
        if asn is None:
            unmapped += count
        else:
            counts[asn] += count
    params.update(mapping_date=mapping.date, unmapped_queries=unmapped)
    if not counts:
        return withheld("N7", run, "no whoami answer with a mapped egress address", **params)
    raw, _ = stats.hhi(list(counts.values()))
    total = sum(counts.values())
    top = sorted(counts.values(), reverse=True)
    params.update(hhi=raw, cr1=top[0] / total, cr3=sum(top[:3]) / total, operators=len(counts))
    asns = sorted(counts)
    # Clusters: one row per whoami answer (its AS as a one-hot row).
    labels = np.repeat(np.arange(len(asns)), [counts[a] for a in asns])
    cols = np.zeros((labels.size, len(asns)))
    cols[np.arange(labels.size), labels] = 1
    interval = stats.sum_bootstrap(cols, stats.hhi_rows, seed=stats.seed_for(run.id, "N7"))
    # Every answer from one AS: each replicate is 1; the low end becomes a score bound.
    interval = stats.bounded(interval, low=float(stats.hhi_floor_of(cols[None])[0]), high=1.0)
    return from_interval("N7", run, interval, params=params)


def is_canary(name: str, canaries: set[str]) -> bool:
    """N8's test set: the run's canaries and every name under a never-resolving
    special-use label (db/special_use.py), canary or not."""
    return name in canaries or _tld(name) in special_use.NEVER_RESOLVING


@indicator(
    code="N8",
    title="NXDOMAIN & Special-Use Integrity (NXI)",
    question="Do resolvers answer names that must not exist (random labels, .onion, "
    ".invalid, .alt)?",
    unit="share of (canary, test resolver endpoint) tests",
    formula="NXI = violations / tests over the (canary, test resolver endpoint) views of "
    "dns.query, a canary being a target with targets.role = canary or a name ending in "
    ".onion, .invalid or .alt (RFC 7686, RFC 6761, RFC 9476); a violation = the endpoint "
    "answered with an rcode other than NXDOMAIN. The control resolver is not tested.",
    reasoning="Timeouts are neither violations nor tests: they say nothing about rewriting. "
    "Version 2 leaves the control out of the denominator: it is the reference, and with "
    "it counted a resolver that violates on every canary scored 0.5, not 1.",
    version=2,
    inputs=("dns_observations", "targets"),
    min_n=3,
    pillar=registry.NAMING,
    needs=(Facts.DNS,),
    headline=5,
    brief="Security",
    brief_rank=3,
)
def n8(ctx: Context) -> Estimate:
    run, d, present = ctx.run, ctx.dns, ctx.present
    if reason := _dns_missing("N8", present):
        return withheld("N8", run, reason)
    num: Counter[str] = Counter()
    den: Counter[str] = Counter()
    for (name, _qtype), views in d.views.items():
        if not is_canary(name, d.canaries):
            continue
        for v in views.values():
            if v.role != "test":
                continue  # the control is the reference, not a resolver under test
            den[name] += 1
            num[name] += 0 if v.rcode == "NXDOMAIN" else 1
    names = sorted(den)
    return from_ratio("N8", run, [num[n] for n in names], [den[n] for n in names], keys=names)


# -- naming_observations (alternative naming systems) ------------------------------------

ICANN = "icann"
ANSWERED = ("resolved", "no_records", "not_found")  # the endpoint gave an answer (N4)
EXISTING = ("resolved", "no_records")  # the name, hence its TLD, exists at the endpoint (N3)


@dataclass(frozen=True, slots=True)
class Lookups:
    """The lookups (tasks, any number of attempts each) of one name at one endpoint in one
    run, keyed by the endpoint's namespace: how many got an answer, how many found the
    name, and the bridge-fidelity verdicts among them."""

    namespace: str | None  # the endpoint's (naming_observations.endpoint_namespace)
    method: str
    operator: str | None
    endpoint: str | None
    icann_dns: bool
    name: str
    tasks: int
    answered: int
    existing: int
    match: int
    mismatch: int


@dataclass
class NamingFacts:
    """The run's lookups, and the DNS answers of its naming.resolve root endpoints as
    views: root_views[(name, qtype)][endpoint namespace + URL] (N5)."""

    lookups: list[Lookups] = field(default_factory=list)
    root_views: dict[tuple[str, str], dict[str, View]] = field(default_factory=dict)


def load_naming(
    engine: Engine, run_ids: Iterable[str], present: set[str]
) -> dict[str, NamingFacts]:
    """Per run, one :class:`Lookups` per (endpoint namespace, method, endpoint, name).

    One GROUP BY folds each task's attempts into one lookup: the engine retries only an
    attempt that failed, so a task has exactly one attempt 0 (the lookups) and at most one
    answered attempt (answered if any was, as the retries intend), and bridge fidelity
    judges only answered rows. Rows never sent (invalid names) are not lookups."""
    ids = sorted(set(run_ids))
    out = {r: NamingFacts() for r in ids}
    if not ids or "naming_observations" not in present:
        return out
    n = light(
        "naming_observations",
        "run_id",
        "attempt",
        "endpoint_namespace",
        "method",
        "endpoint_operator",
        "endpoint",
        "depends_on_icann_dns",
        "name_normalized",
        "outcome",
        "fidelity",
        "failure",
    )
    group = (
        n.c.run_id,
        n.c.endpoint_namespace,
        n.c.method,
        n.c.endpoint_operator,
        n.c.endpoint,
        n.c.depends_on_icann_dns,
        n.c.name_normalized,
    )

    def count(cond: Any) -> Any:
        return func.sum(case((cond, 1), else_=0))

    stmt = (
        select(
            *group,
            count(n.c.attempt == 0),
            count(n.c.outcome.in_(ANSWERED)),
            count(n.c.outcome.in_(EXISTING)),
            count(n.c.fidelity == "match"),
            count(n.c.fidelity == "mismatch"),
        )
        .where(
            n.c.run_id.in_(ids),
            n.c.name_normalized.is_not(None),
            or_(n.c.failure.is_(None), n.c.failure != "invalid_input"),
        )
        .group_by(*group)
    )
    with engine.connect() as conn:
        for run_id, ns, method, op, url, dep, name, *counts in stream_rows(conn, stmt):
            tasks, answered, existing, match, mismatch = (int(c or 0) for c in counts)
            out[run_id].lookups.append(
                Lookups(
                    ns,
                    method,
                    op,
                    url,
                    bool(dep),
                    norm_name(name),
                    tasks,
                    min(answered, tasks),  # rows stored twice must not make ANR exceed 1
                    min(existing, tasks),
                    match,
                    mismatch,
                )
            )
        if "naming_values" in present:
            _load_root_views(conn, ids, out)
    return out


# naming.resolve's outcome of a dns lookup as the rcode a dns.query row would carry.
_OUTCOME_RCODE = {"resolved": "NOERROR", "no_records": "NOERROR", "not_found": "NXDOMAIN"}


def _load_root_views(conn: Any, ids: list[str], out: dict[str, NamingFacts]) -> None:
    """The answered dns lookups of naming.resolve (the roots' resolvers) as A views: a
    name not found is NXDOMAIN, a found name NOERROR with the addresses of its a values
    (none: NODATA), attempts merged as in load_dns. A only: the method always asks A,
    while AAAA is an endpoint option, so a missing aaaa value proves nothing."""
    n = light(
        "naming_observations",
        "id",
        "run_id",
        "method",
        "endpoint_namespace",
        "endpoint",
        "name_normalized",
        "outcome",
    )
    v = light("naming_values", "observation_id", "kind", "value")
    stmt = (
        select(
            n.c.run_id, n.c.endpoint_namespace, n.c.endpoint, n.c.name_normalized, n.c.outcome,
            v.c.value,
        )
        .join_from(
            n, v, and_(v.c.observation_id == n.c.id, v.c.kind == "a"), isouter=True
        )
        .where(
            n.c.run_id.in_(ids),
            n.c.method == "dns",
            n.c.outcome.in_(list(_OUTCOME_RCODE)),
            n.c.name_normalized.is_not(None),
        )
        .distinct()
    )  # fmt: skip
    for run_id, ns, url, name, outcome, value in stream_rows(conn, stmt):
        views = out[run_id].root_views.setdefault((norm_name(name), "A"), {})
        rcode = _OUTCOME_RCODE[outcome]
        view = views.setdefault(f"{ns} {url}", View(None, rcode))
        view.add_rcode(rcode)
        if rcode == "NOERROR" and value is not None:
            view.answered = True
            view.addresses = {*view.addresses, value}


def _tld(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _unattributed(f: NamingFacts) -> int:
    """Lookups without an endpoint namespace (stored before migration 0600, not derivable)."""
    return sum(lk.tasks for lk in f.lookups if lk.namespace is None)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
