"""Synthetic DNS and alternative-naming rows for the indicators benchmark. Reads the default
campaign file (its resolver panel and naming endpoints); otherwise no I/O (row generators).

The row mix is the one ``campaigns/default.toml`` plans per run (counted by the engine's
planner, ``probes.engine.planner.plan``; tests/test_bench_indicators.py checks these
figures against it). One copy of the campaign is, per run:

- dns.query: 383 names (368 top sites + 15 canaries) x 31 resolvers (28 listed, 3 found
  by the OpenNIC discovery endpoint) x 3 qtypes (A, AAAA, HTTPS) = 35,619 query tasks, plus
  2 whoami names and 46 TLDs (SOA) x 31 resolvers = 1,488 tasks;
- naming.resolve: 45 tasks (the 15 canaries at the 13 naming endpoints that serve their
  namespace: OpenNIC resolvers found through its GeoIP API, ENS/Handshake bridges,
  gateways, Ethereum, Polygon and Base RPC);
- transport.tls, transport.quic, transport.quic_vn: 9 pinned-address targets, 1 task each.

So 99.8 % of a real run's observation rows are dns_observations. The benchmark scales the
copy (top sites, canary sets and transport targets) to the row budget; the whoami tasks stay
56 per run (one per resolver and whoami name, as the planner does), and beside the default
campaign's SOA queries of its TLD list (data/targets/tlds.txt) to every resolver (N2, the
three a discovery endpoint stands for included), it adds what the lab campaigns measure so
every DNS indicator has its input: one secure and one bogus DNSSEC canary per
canary set, each with its dns.iterative verdict (N6); transport targets also get the two
path tests of transport.path (T8, O1).

Shapes copied from a lab run's rows (``fragscope demo``): answered queries carry their
records as dns_answers children (a CNAME before the address for some names, an RRSIG from
validating resolvers, HTTPS records with alpn/port/hints, an authority SOA for NODATA and
NXDOMAIN); NXDOMAIN and NODATA rows carry ``dns_nxdomain_error`` / ``dns_no_answer``;
timeouts are rows without an rcode and get one retry (attempt 1). Planted per vantage:
some test resolvers rewrite a share of names to another AS (N1, N5), one operator rewrites
NXDOMAIN to an address (N8), DoQ is blocked where UDP is (the censored vantages), whoami
egress addresses spread over several ASes (N7); naming rows set ``endpoint_namespace``
(migration 0600) and have naming_values children as naming.resolve writes them.
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fragscope.probes.base import Endpoint

T0 = "2026-11-28 12:00:00.000000"
DEFAULT_CAMPAIGN = Path(__file__).resolve().parents[1] / "campaigns" / "default.toml"

# Per run, per copy of the default campaign (see the module docstring).
TOP_SITES = 368
CANARIES = 15
QTYPES = ("A", "AAAA", "HTTPS")
WHOAMI = (("o-o.myaddr.l.google.com", "TXT"), ("whoami.akamai.net", "A"))
NAMING_TASKS = 45
TRANSPORT_TARGETS = 9
ALT_TLDS = frozenset({"geek", "glue", "libre"})  # OpenNIC's own TLDs among the canaries
TLD_LIST = DEFAULT_CAMPAIGN.parents[1] / "data" / "targets" / "tlds.txt"


def _tld_sections() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The default campaign's TLD list (asked for SOA, N2): its ICANN sample and OpenNIC's
    own TLDs, each under its heading comment."""
    sections: dict[str, list[str]] = {"icann": [], "opennic": []}
    current = None
    for line in TLD_LIST.read_text(encoding="utf-8").splitlines():
        if line.startswith("# ICANN"):
            current = "icann"
        elif line.startswith("# OpenNIC"):
            current = "opennic"
        elif line.strip() and not line.startswith("#") and current:
            sections[current].append(line.strip())
    return tuple(sections["icann"]), tuple(sections["opennic"])


# N2's root-zone probe: every resolver is asked these for SOA; ICANN's root has the first
# set, an OpenNIC root both (N2's extra-TLD share).
ICANN_TLDS, OPENNIC_TLDS = _tld_sections()
TLDS = ICANN_TLDS + OPENNIC_TLDS

# The canary list's shape (data/targets/canaries.txt): (label template, namespace).
_CANARIES = (
    ("vitalik{u}.eth", "ens"),
    ("ur{u}.gtest.eth", "ens"),
    ("331.moo{u}.nft-owner.eth", "ens"),
    ("jesse{u}.base.eth", "ens"),
    ("jesse{u}.cb.id", "ens"),  # an ICANN name in ENS: its list line names the namespace
    ("brad{u}.crypto", "unstoppable"),
    ("welcome{u}.nb", "handshake"),
    ("rough{u}", "handshake"),
    ("opennic{u}.glue", "opennic"),
    ("register{u}.geek", "opennic"),
    ("nx{u}.bit", "namecoin"),
    ("duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzcz{u:02x}.onion", "onion"),
    ("fragscope-canary{u}.invalid", "special-use"),
    ("fragscope-canary{u}.alt", "special-use"),
    ("fragscope-canary-7f3a9c{u}.example", "special-use"),
)
_REWRITERS = ("Yandex", "114DNS", "AliDNS")  # test operators planted to rewrite some names
_NX_REWRITER = "114DNS"  # answers NXDOMAIN names with an address (N8)
_NON_VALIDATING = ("114DNS", "Yandex")  # no DNSSEC validation: no SERVFAIL on bogus, no AD


@dataclass(frozen=True, slots=True)
class Resolver:
    label: str
    url: str
    operator: str
    role: str
    namespace: str
    transport: str
    address: str
    port: int
    index: int


@dataclass(frozen=True, slots=True)
class NamingEndpoint:
    label: str
    url: str
    operator: str
    namespace: str
    method: str
    serves: tuple[str, ...]
    icann_dns: bool
    chain_id: int | None = None


def discovered_resolvers(label: str, e: Endpoint, index: int) -> list[Resolver]:
    """The resolvers a discovery endpoint stands for in a real run: ``fragscope run`` asks
    its API at the run's start and dns.query asks the first ``servers`` it lists over Do53,
    as test resolvers of the endpoint's namespace (probes/engine/discovered.py). Addresses
    from TEST-NET-2 (RFC 5737) stand for them: rows only, nothing is sent."""
    out = []
    for j in range(int(e.options.get("servers", 1))):
        address = f"198.51.100.{j + 1}"
        out.append(
            Resolver(
                f"{label}@{address}", f"udp://{address}", e.operator or "", str(e.role),
                e.namespace, "udp", address, 53, index,
            )
        )  # fmt: skip
    return out


def panel() -> tuple[list[Resolver], list[NamingEndpoint]]:
    """The default campaign's dns.query resolvers and naming.resolve endpoints."""
    from fragscope.probes.dns.resolvers import parse_resolver
    from fragscope.probes.endpoints import parse_endpoint_url
    from fragscope.probes.engine.campaign import load_campaign
    from fragscope.probes.engine.discovered import METHOD as DISCOVERY

    campaign = load_campaign(DEFAULT_CAMPAIGN)
    by_label = {e.label: e for e in campaign.endpoints}
    settings = {p.name: p for p in campaign.probes}
    resolvers = []
    for i, label in enumerate(settings["dns.query"].endpoints or ()):
        e = by_label[label]
        if e.options.get("method") == DISCOVERY:
            resolvers.extend(discovered_resolvers(label, e, i))
            continue
        r = parse_resolver(e.url)
        resolvers.append(
            Resolver(
                label,
                e.url,
                e.operator or "",
                str(e.role),
                e.namespace,
                str(r.transport),
                r.address,
                r.port,
                i,
            )
        )
    naming = []
    for label in settings["naming.resolve"].endpoints or ():
        e = by_label[label]
        serves = tuple(e.options.get("namespaces", ()))
        naming.append(
            NamingEndpoint(
                label,
                e.url,
                e.operator or "",
                e.namespace,
                str(e.options.get("method", "dns")),
                serves,
                not parse_endpoint_url(e.url.removeprefix("eth+")).is_ip_literal,
                int(e.options["chain_id"]) if "chain_id" in e.options else None,
            )
        )
    return resolvers, naming


def columns_of(cols: list[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A row dict -> the table's column tuple (absent columns are NULL), at C speed."""
    blank = dict.fromkeys(cols)
    pick = operator.itemgetter(*cols)
    return lambda row: pick({**blank, **row})


def _h(*parts: object) -> int:
    """A stable small hash (planted shares must not depend on PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=4).digest(), "big")


def _envelope(
    rid: int, run: tuple[str, str, int], probe: str, key: str, target: str, url: str | None
) -> dict[str, Any]:
    return {
        "id": rid,
        "run_id": run[0],
        "vantage_id": run[1],
        "task_key": key,
        "attempt": 0,
        "probe": probe,
        "probe_version": 1,
        "target": target,
        "endpoint": url,
        "started_at": T0,
        "duration_ms": 12.5,
    }


@dataclass
class Ids:
    obs: int = 0
    child: int = 0


_SOA = "ns1.bench.test. hostmaster.bench.test. 2026112801 1800 900 604800 300"


def _address(name: str, v6: bool, rewritten: bool) -> str:
    h = _h(name)
    if rewritten:  # the manipulating resolvers' target, in its own AS (lab 10.99.66/24)
        return "fd99::66:1" if v6 else f"10.99.66.{1 + h % 200}"
    return f"fd99::80:{h % 4096:x}" if v6 else f"10.99.{80 + h % 3}.{1 + h % 250}"


def _answers(
    ids: Ids, obs_id: int, name: str, qtype: str, rdata: list[str], validating: bool
) -> list[dict[str, Any]]:
    """The answer section as dns.query stores it (CNAME first when the name is an alias)."""
    out: list[dict[str, Any]] = []
    owner = name
    if _h(name, "cname") % 10 < 3:
        owner = f"edge.{name}"
        out.append({"rtype": "CNAME", "name": name, "value": owner})
    for value in rdata:
        row: dict[str, Any] = {"rtype": qtype, "name": owner, "value": value}
        if qtype == "HTTPS":
            row |= {
                "svc_priority": 1,
                "svc_target": ".",
                "svc_alpn": "h3,h2",
                "svc_port": 443,
                "svc_ipv4hint": _address(name, False, False),
                "svc_ech": False,
            }
            row["value"] = f'1 . alpn="h3,h2" port="443" ipv4hint="{row["svc_ipv4hint"]}"'
        out.append(row)
    if validating and _h(name, "signed") % 4 == 0:
        sig = f"{qtype} 13 3 300 20261229012154 20261129012154 61893 bench.test. " + "Zm9v" * 22
        out.append({"rtype": "RRSIG", "name": owner, "value": sig})
    rows = []
    for pos, row in enumerate(out):
        ids.child += 1
        rows.append(
            {"id": ids.child, "observation_id": obs_id, "section": "answer", "position": pos}
            | {"ttl": 300}
            | row
        )
    return rows


def _negative(ids: Ids, obs_id: int, zone: str) -> dict[str, Any]:
    ids.child += 1
    return {
        "id": ids.child,
        "observation_id": obs_id,
        "section": "authority",
        "position": 0,
        "name": zone,
        "rtype": "SOA",
        "ttl": 300,
        "value": _SOA,
    }


def dns_rows(
    run: tuple[str, str, int],
    resolvers: list[Resolver],
    names: list[tuple[str, str]],
    ids: Ids,
    *,
    secure: set[str],
    bogus: set[str],
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(observation, its dns_answers) for every query of ``names`` ((name, kind) with kind
    top, canary or tld) at every resolver, then the whoami queries and iterative verdicts."""
    vi = run[2]
    udp_blocked = vi % 4 == 1  # the censored-like vantages: UDP/443 and DoQ dropped
    lossy = 5 if vi % 4 == 2 else 1  # percent of Do53 timeouts
    for name, kind in names:
        fq = name + "."
        h = _h(name)
        exists = kind != "canary" or name.rsplit(".", 1)[-1] in ALT_TLDS
        if kind == "top":
            exists = h % 50 != 0  # 2 % of a top-sites list no longer resolves
        qtypes = ("SOA",) if kind == "tld" else QTYPES
        for r in resolvers:
            alt_root = r.namespace != "icann"
            validating = r.operator not in _NON_VALIDATING
            for qtype in qtypes:
                for attempt in (0, 1):
                    ids.obs += 1
                    key = f"dns.query|{name}|{r.label}|{qtype}|0"
                    obs = _envelope(ids.obs, run, "dns.query", key, name, r.url)
                    obs |= {
                        "attempt": attempt,
                        "qname": fq,
                        "qname_unicode": fq,
                        "qtype": qtype,
                        "purpose": "query",
                        "transport": r.transport,
                        "resolver_address": r.address,
                        "resolver_port": r.port,
                        "resolver_role": r.role,
                        "resolver_operator": r.operator,
                        "resolver_namespace": r.namespace,
                        "late": False,
                        "duplicate": False,
                    }
                    slow = r.transport == "udp" and _h(name, r.index, qtype, vi) % 100 < lossy
                    if (udp_blocked and r.transport == "quic") or (slow and attempt == 0):
                        obs |= {
                            "failure": "generic_timeout_error",
                            "failed_operation": "dns_round_trip",
                            "failure_detail": "no response before the deadline",
                            "duration_ms": 5000.0,
                        }
                        yield obs, []
                        continue  # one retry of a timeout (attempt 1), as [limits] retries
                    yield _answered(ids, obs, name, kind, qtype, r, exists, alt_root, validating,
                                    vi, secure, bogus)  # fmt: skip
                    break
    for r in resolvers:
        for wname, wtype in WHOAMI:
            ids.obs += 1
            key = f"dns.query|{wname}|{r.label}|whoami/{wtype}|0"
            obs = _envelope(ids.obs, run, "dns.query", key, wname, r.url)
            # Egress addresses: each operator's resolvers leave from one of a few ASes.
            egress = f"10.99.{(53, 54, 55, 0, 1, 2, 3)[_h(r.operator) % 7]}.{1 + r.index}"
            obs |= {
                "qname": wname + ".",
                "qname_unicode": wname + ".",
                "qtype": wtype,
                "purpose": "whoami",
                "transport": r.transport,
                "resolver_address": r.address,
                "resolver_port": r.port,
                "resolver_role": r.role,
                "resolver_operator": r.operator,
                "resolver_namespace": r.namespace,
                "rcode": 0,
                "rcode_name": "NOERROR",
                "flag_rd": True,
                "flag_ra": True,
                "answer_count": 1,
                "additional_count": 1,
                "response_size": 90,
                "rtt_ms": 11.0,
                "whoami_address": egress,
                "late": False,
                "duplicate": False,
            }
            ids.child += 1
            value = f'"{egress}"' if wtype == "TXT" else egress
            child = {"id": ids.child, "observation_id": ids.obs, "section": "answer"}
            child |= {"position": 0, "name": wname + ".", "rtype": wtype, "ttl": 60}
            yield obs, [child | {"value": value}]
    for name in sorted(secure | bogus):
        ids.obs += 1
        verdict = "secure" if name in secure else "bogus"
        obs = _envelope(ids.obs, run, "dns.iterative", f"dns.iterative|{name}|-|A|0", name, None)
        obs |= {
            "qname": name + ".",
            "qname_unicode": name + ".",
            "qtype": "A",
            "purpose": "query",
            "rcode": 0 if verdict == "secure" else 2,
            "rcode_name": "NOERROR" if verdict == "secure" else "SERVFAIL",
            "validation": verdict,
            "validation_detail": None if verdict == "secure" else "RRSIG expired",
            "late": False,
            "duplicate": False,
        }
        yield obs, []


def _answered(
    ids: Ids,
    obs: dict[str, Any],
    name: str,
    kind: str,
    qtype: str,
    r: Resolver,
    exists: bool,
    alt_root: bool,
    validating: bool,
    vi: int,
    secure: set[str],
    bogus: set[str],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    fq = name + "."
    tld = name.rsplit(".", 1)[-1]
    rcode, rdata = "NOERROR", []
    rewrite = (
        r.role == "test"
        and r.operator in _REWRITERS
        and kind == "top"
        and _h(name, r.operator) % 100 < 2 * (vi % 4)  # 0-6 % of names per operator
    )
    if kind == "tld":
        # ICANN's root has its sample; an OpenNIC root adds its own TLDs (N2's RZD+).
        found = name in ICANN_TLDS or (alt_root and name in OPENNIC_TLDS)
        rdata = [_SOA] if found else []
        rcode = "NOERROR" if found else "NXDOMAIN"
    elif name in bogus and validating:
        rcode = "SERVFAIL"
    elif not exists and not (r.operator == _NX_REWRITER and qtype == "A"):
        rcode = "NXDOMAIN"
    elif qtype == "A":
        rdata = [_address(name, False, rewrite or not exists)]
        if _h(name, "two") % 3 == 0 and not rewrite:
            rdata.append(_address(name + "~", False, False))
    elif qtype == "AAAA" and _h(name, "v6") % 10 < 6 and exists:
        rdata = [_address(name, True, rewrite)]
    elif qtype == "HTTPS" and _h(name, "https") % 10 < 4 and exists and not rewrite:
        rdata = ["https"]
    if kind == "tld":
        children = [] if not rdata else _soa_answer(ids, obs["id"], fq)
    elif rdata:
        children = _answers(ids, obs["id"], fq, qtype, rdata, validating)
    else:
        children = [_negative(ids, obs["id"], fq if rcode == "NOERROR" else f"{tld}.")]
    if rcode == "SERVFAIL":
        children = []
    ad = validating and rcode == "NOERROR" and (name in secure or _h(name, "signed") % 4 == 0)
    obs |= {
        "query_id": _h(name, r.index, qtype) % 65536,
        "rcode": {"NOERROR": 0, "SERVFAIL": 2, "NXDOMAIN": 3}[rcode],
        "rcode_name": rcode,
        "flag_aa": False,
        "flag_tc": False,
        "flag_rd": True,
        "flag_ra": True,
        "flag_ad": ad,
        "flag_cd": False,
        "answer_count": sum(c["section"] == "answer" for c in children),
        "authority_count": sum(c["section"] == "authority" for c in children),
        "additional_count": 1,
        "response_size": 60 + 40 * len(children),
        "rtt_ms": 8.0 + _h(name, r.index) % 40,
    }
    if rcode == "NXDOMAIN":
        obs |= {"failure": "dns_nxdomain_error", "failed_operation": "resolve"}
        obs["failure_detail"] = "NXDOMAIN"
    elif rcode == "SERVFAIL":
        obs |= {"failure": "dns_servfail_error", "failed_operation": "resolve"}
        obs["failure_detail"] = "SERVFAIL"
    elif not obs["answer_count"]:
        obs |= {"failure": "dns_no_answer", "failed_operation": "resolve"}
        obs["failure_detail"] = "NOERROR without records of the asked type (NODATA)"
    return obs, children


def _soa_answer(ids: Ids, obs_id: int, zone: str) -> list[dict[str, Any]]:
    row = _negative(ids, obs_id, zone)
    row["section"] = "answer"
    return [row]


def canary_names(sets: int) -> list[tuple[str, str]]:
    """``sets`` copies of the canary list: (name, namespace)."""
    return [(t.format(u=u), ns) for u in range(sets) for t, ns in _CANARIES]


def dns_names(top_sites: int, sets: int) -> tuple[list[tuple[str, str]], set[str], set[str]]:
    """The names dns.query asks each resolver, as (name, kind) for :func:`dns_rows`: the
    top sites, ``sets`` canary sets, one secure and one bogus DNSSEC canary per set, and
    the TLDs; with the secure and the bogus names."""
    names = [(f"site{i}.bench.test", "top") for i in range(top_sites)]
    names += [(n, "canary") for n, _ns in canary_names(sets)]
    secure = {f"secure{u}.dnssec.test" for u in range(sets)}
    bogus = {f"bogus{u}.dnssec.test" for u in range(sets)}
    names += [(n, "dnssec") for n in sorted(secure | bogus)]
    names += [(tld, "tld") for tld in TLDS]
    return names, secure, bogus


def naming_rows(
    run: tuple[str, str, int], endpoints: list[NamingEndpoint], sets: int, ids: Ids
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(naming observation, its naming_values) for the canaries at every endpoint serving
    their namespace, as naming.resolve plans them (44 tasks per canary set)."""
    vi = run[2]
    for name, ns in canary_names(sets):
        for e in endpoints:
            if not ("*" in e.serves or ns in e.serves):
                continue
            ids.obs += 1
            key = f"naming.resolve|{name}|{e.label}||0"
            obs = _envelope(ids.obs, run, "naming.resolve", key, name, e.url)
            obs |= {
                "namespace": ns,
                "name": name,
                "name_normalized": name,
                "method": e.method,
                "endpoint_namespace": e.namespace,
                "endpoint_operator": e.operator,
                "depends_on_icann_dns": e.icann_dns,
                "latency_ms": 120.0 + _h(name, e.label) % 400,
                "n_values": 0,
            }
            tld = name.rsplit(".", 1)[-1]
            values: list[tuple[str, str | None, str]] = []
            if e.method in ("dns", "discovery"):  # discovery: OpenNIC's listed resolvers
                found = (e.namespace == "opennic" and tld in ALT_TLDS) or e.namespace == ns
                if found and ns != "ens":
                    values = [("a", name + ".", _address(name, False, False))]
                elif found:
                    values = [("txt", name + ".", f"dnslink=/ipfs/bafy{_h(name):08x}")]
                rcode = "NOERROR" if values else "NXDOMAIN"
                obs["detail"] = {"rcodes": {"A": rcode, "AAAA": rcode, "TXT": rcode}}
            elif e.method == "http-gateway":
                values = [
                    ("http_status", None, "200"),
                    ("content_sha256", None, f"{_h(name):064x}"),
                ]
            elif e.method == "eth-rpc":
                obs |= {"chain_id": 1, "block_number": 21_300_000 + vi, "wildcard": False}
                obs |= {"resolver_address": "0x231b0Ee14048e9dCcD1d247744d114a4EB5E8E63"}
                obs["offchain"] = "." in name.removesuffix(".eth")
                values = [
                    ("addr", "60", f"0x{_h(name):040x}"),
                    ("contenthash", None, "ipfs://bafy"),
                ]
            else:  # uns
                obs |= {"chain_id": e.chain_id}
                obs |= {"block_number": 64_000_000 + vi}
                obs["resolver_address"] = "0x578853aa776Eef10CeE6c4dd2B5862bdcE767A8B"
                values = [("uns", "crypto.ETH.address", f"0x{_h(name):040x}")]
            if e.method in ("eth-rpc", "uns") and _h(name, e.label, vi) % 10 == 0:
                # Free public RPC nodes rate-limit: a failure row, retried once (attempt 1).
                fail = obs | {"failure": "http_error", "failed_operation": "http_request"}
                fail["failure_detail"] = "HTTP 429 Too Many Requests"
                yield fail, []
                ids.obs += 1
                obs = obs | {"id": ids.obs, "attempt": 1}
            if e.method in ("dns", "http-gateway") and e.namespace == ns and values:
                # Bridges and gateways are judged against the on-chain answer (N4's AGF).
                obs["fidelity"] = "mismatch" if _h(name, e.label) % 8 == 0 else "match"
            obs["outcome"] = "resolved" if values else "not_found"
            obs["n_values"] = len(values)
            summary: dict[str, Any] = {}
            children = []
            for kind, k, value in values:
                summary.setdefault(kind, {} if k else [])
                if k:
                    summary[kind][k] = value
                else:
                    summary[kind].append(value)
                ids.child += 1
                children.append(
                    {"id": ids.child, "observation_id": obs["id"], "kind": kind}
                    | {"key": k, "value": value}
                )
            obs["values_summary"] = json.dumps(summary)
            if isinstance(obs.get("detail"), dict):
                obs["detail"] = json.dumps(obs["detail"])
            yield obs, children
