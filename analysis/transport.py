"""Transport indicators T1-T12 from per-pair facts (analysis.facts, analysis.sni,
analysis.ech). No I/O.

Each indicator's catalogue entry sits on its function (``@indicator``, analysis/registry.py).
Clusters are targets: every value is a function of per-target sums; ratios get the score
intervals of analysis.result (from_ratio, and from_cluster_ratio for T9), the other values
the cluster bootstrap (analysis.stats). Indicators that need the control vantage (T2, T9) are
withheld when the round has no control run.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from fragscope.analysis import registry, stats
from fragscope.analysis.ech import ECH_DECIDED
from fragscope.analysis.facts import (
    LEGACY_KINDS,
    VENDOR_KIND_NAMES,
    BoolArray,
    IntArray,
    RunFacts,
    norm_name,
)
from fragscope.analysis.pathcontrol import pair_mask
from fragscope.analysis.registry import REGISTRY, Context, Facts, indicator
from fragscope.analysis.result import (
    Estimate,
    bootstrap,
    from_cluster_ratio,
    from_interval,
    from_ratio,
    missing_tables,
    not_applicable,
    withheld,
)
from fragscope.analysis.sni import DECIDED, SNI_FILTERING

FloatArray = stats.FloatArray
StrArray = npt.NDArray[np.str_]


def _per_target(targets: IntArray, *values: npt.NDArray[Any]) -> tuple[IntArray, list[FloatArray]]:
    """The distinct targets (ranks, sorted) of ``targets`` and each value summed per target."""
    found, inverse = np.unique(targets, return_inverse=True)
    sums = [np.bincount(inverse, weights=v, minlength=len(found)) for v in values]
    return found, [np.asarray(x, dtype=np.float64) for x in sums]


def _t1_rows(f: RunFacts) -> tuple[FloatArray, IntArray]:
    """Per advertising target tried over QUIC: handshake failed (1.0) or not, and the target."""
    fl = f.flags()
    adv = fl.altsvc | f.in_https_h3(fl.targets)
    sel = adv & fl.quic_tried
    return (~fl.quic_ok[sel]).astype(np.float64), fl.targets[sel]


@indicator(
    code="T1",
    title="QUIC Advertised-vs-Reachable Gap (QARG)",
    question="Of the targets that advertise HTTP/3, how many cannot be reached over QUIC "
    "from this vantage?",
    unit="share of advertising targets",
    formula="Adv = targets with Alt-Svc h3 on a TLS response (tls_observations.alt_svc_h3) "
    "or h3 in an HTTPS RR alpn; QARG = 1 - |{d in Adv : a QUIC handshake to any of its "
    "addresses completed}| / |Adv|.",
    reasoning="QARG (not the control differential) because it is defined at every vantage; "
    "the differential against the control is kept in params when a control run exists.",
    version=1,
    inputs=("tls_observations", "quic_observations"),
    min_n=3,
    pillar=registry.TRANSPORT,
    needs=(Facts.TRANSPORT, Facts.CONTROL_TRANSPORT),
    headline=6,
    brief="Opportunities",
    brief_rank=2,
)
def t1(ctx: Context) -> Estimate:
    run, f, control, present = ctx.run, ctx.transport, ctx.control_transport, ctx.present
    if reason := missing_tables("T1", present):
        return withheld("T1", run, reason)
    num, targets = _t1_rows(f)
    params: dict[str, Any] = {
        "advertising_targets": len(num),
        "channels": ["alt-svc", "https-rr"] if "dns_answers" in present else ["alt-svc"],
    }
    if not len(num):
        fl = f.flags()
        answered = int(fl.tls_ok.sum())
        if not (fl.altsvc | f.in_https_h3(fl.targets)).any() and (answered >= REGISTRY["T1"].min_n):
            # |Adv| = 0 on enough TLS answers: the gap of nothing advertised is 0/0.
            return not_applicable(
                "T1",
                run,
                f"no target advertises HTTP/3 (|Adv| = 0 of {answered} answering TLS)",
                **params,
            )
    est = from_ratio("T1", run, num, np.ones(len(num)), params=params, keys=_keys(f, targets))
    if control is not None and est.value is not None:
        # Only the control's value is needed (no interval): its rows' ratio, under the
        # same minimum-n rule as T1 itself.
        c_num, _ = _t1_rows(control)
        if len(c_num) >= REGISTRY["T1"].min_n:
            # ΔQ = QRR_c - QRR_v = QARG_v - QARG_c (docs/indicators.md, T1).
            est.params["delta_q_vs_control"] = est.value - float(c_num.sum()) / len(c_num)
    return est


def _keys(f: RunFacts, targets: IntArray) -> StrArray:
    return f.names.target_array[targets]


@indicator(
    code="T2",
    title="UDP/443 Blocking Rate (UBR)",
    question="On the same addresses, does QUIC time out here while TLS works here and "
    "QUIC works from the control vantage?",
    unit="share of (target, address) pairs",
    formula="UBR = |{(d,ip) : TLS_ok_v ∧ QUIC_timeout_v ∧ QUIC_ok_c}| / |{(d,ip) : "
    "TLS_ok_v ∧ QUIC_ok_c}|, same IP for TCP and QUIC (Elmenhorst et al. 2021); "
    "QUIC_timeout = no handshake and nothing or no completion came back. Pairs whose "
    "transport.sni QUIC verdict is sni_filtered or residual are left out.",
    reasoning="As in the catalogue; the control vantage is the round's run at the "
    "control label (default clean). Version 2: a pair whose QUIC failure the same-path "
    "control explains (analysis.pathcontrol) is left out, counted in "
    "params.path_control_discarded. Version 3: a QUIC timeout on a pair where "
    "transport.sni saw a QUIC handshake with the control SNI reach the same address "
    "(verdict sni_filtered or residual) is SNI filtering, not UDP/443 blocking: UDP/443 "
    "to that address carried a whole handshake. Such pairs are left out and counted in "
    "params.sni_filtered_discarded (they count in T10). Without transport.sni rows for a "
    "pair, its timeout counts as before: the two cannot be told apart without the control "
    "SNI.",
    version=3,
    inputs=("tls_observations", "quic_observations"),
    min_n=3,
    pillar=registry.TRANSPORT,
    needs=(Facts.TRANSPORT, Facts.CONTROL_TRANSPORT, Facts.PATH_CONTROL, Facts.SNI),
    needs_control=True,
    headline=7,
    brief="Stability",
    brief_rank=1,
)
def t2(ctx: Context) -> Estimate:
    run, f, control, present = ctx.run, ctx.transport, ctx.control_transport, ctx.present
    if reason := missing_tables("T2", present):
        return withheld("T2", run, reason)
    if control is None:
        return withheld("T2", run, "no control run in this run's round")
    (c_quic_ok,) = f.matched(control, "quic_ok")
    eligible = f.tls_ok & c_quic_ok & f.quic_tried
    explained = eligible & ~f.quic_ok & ctx.path_control.discarded(f, "quic")
    sni_filtered = (
        eligible & ~f.quic_ok & ~explained & pair_mask(f, ctx.sni.sni_filtered_pairs("quic"))
    )
    sel = eligible & ~explained & ~sni_filtered
    blocked = (f.quic_timeout & ~f.quic_ok)[sel]
    targets, (num, den) = _per_target(f.t[sel], blocked.astype(np.float64), np.ones(len(blocked)))
    params = {
        "pairs": int(sel.sum()),
        "blocked_pairs": int(blocked.sum()),
        "path_control_discarded": int(explained.sum()),
        "sni_filtered_discarded": int(sni_filtered.sum()),
    }
    return from_ratio("T2", run, num, den, params=params, keys=_keys(f, targets))


@indicator(
    code="T3",
    title="Non-Standard QUIC Version Share (NSV)",
    question="Which share of QUIC servers support neither QUIC v1 nor v2?",
    unit="share of QUIC servers",
    formula="QUIC servers = (d,ip) that sent a Version Negotiation or completed a "
    "handshake; NSV = share whose VN list and negotiated version contain neither v1 "
    "(0x00000001) nor v2 (0x6b3343cf).",
    reasoning="NSV is the bounded share; the entropy H over version sets is T8's params.",
    version=1,
    inputs=("quic_vn_observations", "quic_observations"),
    min_n=3,
    pillar=registry.TRANSPORT,
    needs=(Facts.TRANSPORT,),
    brief="Challenges",
    brief_rank=2,
)
def t3(ctx: Context) -> Estimate:
    run, f, present = ctx.run, ctx.transport, ctx.present
    if "quic_vn_observations" not in present and "quic_observations" not in present:
        return withheld("T3", run, "input table quic_vn_observations not present")
    sel = f.vn_reply | f.quic_ok
    std = (f.vn_v1 | f.vn_v2 | f.quic_std)[sel]
    targets, (num, den) = _per_target(f.t[sel], (~std).astype(np.float64), np.ones(len(std)))
    return from_ratio("T3", run, num, den, keys=_keys(f, targets))


def _share(values: BoolArray) -> float | None:
    return int(values.sum()) / len(values) if len(values) else None


@indicator(
    code="T4",
    title="Secure-Transport Modernity Gap (STM)",
    question="How far are reachable targets from TLS 1.3, h2 and h3?",
    unit="share (mean gap)",
    formula="Over targets with a completed TLS handshake: STM = 1 - mean(TLS13, H2, H3), "
    "TLS13 = share negotiating TLSv1.3, H2 = share choosing ALPN h2, H3 = share with a "
    "completed QUIC handshake. params: the three shares and DG = TLS13_c - TLS13_v.",
    reasoning="H3 is measured on the same reachable set so the mean is of three shares of "
    "one denominator and the per-target gap is bootstrappable.",
    version=1,
    inputs=("tls_observations", "quic_observations"),
    min_n=3,
    pillar=registry.TRANSPORT,
    needs=(Facts.TRANSPORT, Facts.CONTROL_TRANSPORT),
    headline=8,
    brief="Opportunities",
    brief_rank=1,
)
def t4(ctx: Context) -> Estimate:
    run, f, control, present = ctx.run, ctx.transport, ctx.control_transport, ctx.present
    if reason := missing_tables("T4", present):
        return withheld("T4", run, reason)
    fl = f.flags()
    sel = fl.tls_ok
    tls13, h2, h3 = fl.tls13[sel], fl.h2[sel], fl.quic_ok[sel]
    gaps = 1 - (tls13.astype(np.int64) + h2 + h3) / 3
    params: dict[str, Any] = {
        "tls13_share": _share(tls13),
        "h2_share": _share(h2),
        "h3_share": _share(h3),
    }
    if control is not None:
        cf = control.flags()
        c_rows = cf.tls13[cf.tls_ok]
        if len(c_rows) and len(tls13):
            # DG = TLS13_c - TLS13_v: a downgrade by middleboxes shows as DG > 0.
            params["downgrade_dg"] = float(int(c_rows.sum()) / len(c_rows)) - int(
                tls13.sum()
            ) / len(tls13)
    return from_ratio(
        "T4", run, gaps, np.ones(len(gaps)), params=params, keys=_keys(f, fl.targets[sel])
    )


@indicator(
    code="T5",
    title="IPv6 Fragmentation (V6F)",
    question="How many targets cannot be reached over IPv6 from this vantage?",
    unit="share of targets",
    formula="V6F = 1 - AAAA_share * P6 over the targets transport.tls probed: AAAA_share "
    "= share of them with an AAAA answer (a NOERROR AAAA view with an address from any "
    "dns.query resolver endpoint of the run, or an IPv6 address probed by transport.tls "
    "for the name), P6 = share of those AAAA targets probed over IPv6 whose IPv6 TCP "
    "connect succeeded. No AAAA target: V6F = 1; AAAA targets none of which was probed "
    "over IPv6: withheld (P6 unmeasured).",
    reasoning="The catalogue's product form: AAAA_share is what DNS publishes, P6 what "
    "the vantage reaches. Version 2 takes AAAA_share from AAAA answers (version 1 counted "
    "only the probed address, so a dual-stack host pinned to IPv4 had no AAAA), and a "
    "campaign may pin a dual-stack host once per family; params keep both "
    "factors and whether the vantage reached any IPv6 address.",
    version=2,
    inputs=("tls_observations", "dns_observations", "dns_answers"),
    min_n=3,
    pillar=registry.TRANSPORT,
    needs=(Facts.TRANSPORT, Facts.DNS),
    headline=9,
    brief="Challenges",
    brief_rank=1,
    params_doc={
        "aaaa_share": "AAAA_share",
        "p6": "P6",
        "aaaa_unprobed": "AAAA targets never probed over IPv6 (outside P6)",
    },
)
def t5(ctx: Context) -> Estimate:
    run, f, present = ctx.run, ctx.transport, ctx.present
    if reason := missing_tables("T5", present, ("dns_observations", "dns_answers")):
        return withheld("T5", run, reason)
    fl = f.flags()
    sel = fl.tls_tried
    targets = fl.targets[sel]
    probed6 = fl.v6_tried[sel]
    answered6 = _aaaa_names(ctx) if "dns_answers" in present else set()
    names = f.names.targets
    aaaa = probed6 | np.array(
        [norm_name(names[t]) in answered6 for t in targets.tolist()], dtype=np.bool_
    )
    # Columns per target: 1, has AAAA, AAAA and probed over IPv6, IPv6 connect worked.
    cols = np.column_stack(
        [np.ones(len(targets)), aaaa, aaaa & probed6, aaaa & fl.v6_ok[sel]]
    ).astype(np.float64)
    totals = cols.sum(axis=0)
    n = int(totals[0])
    params = {
        "aaaa_share": totals[1] / n if n else None,
        "p6": totals[3] / totals[2] if totals[2] else None,
        "aaaa_unprobed": int(totals[1] - totals[2]),
        "vantage_has_v6": bool(totals[3] > 0),
    }
    if n < REGISTRY["T5"].min_n:
        return withheld("T5", run, f"n = {n} < minimum {REGISTRY['T5'].min_n} clusters", **params)
    if totals[1] and not totals[2]:
        return withheld("T5", run, "no target with an AAAA answer was probed over IPv6", **params)

    def statistic(s: stats.FloatArray) -> stats.FloatArray:
        # A replicate without AAAA targets has V6F = 1; one without probed ones, P6 = 0.
        share = s[:, 1] / s[:, 0]
        p6 = np.divide(s[:, 3], s[:, 2], out=np.zeros(len(s)), where=s[:, 2] > 0)
        return np.asarray(1 - share * p6, dtype=np.float64)

    interval = bootstrap(run, "T5", _keys(f, targets), cols, statistic)
    return from_interval("T5", run, interval, params=params)


def _aaaa_names(ctx: Context) -> set[str]:
    """Names with a NOERROR AAAA view holding an address at any resolver endpoint."""
    return {
        name
        for (name, qtype), views in ctx.dns.views.items()
        if qtype == "AAAA" and any(v.rcode == "NOERROR" and v.addresses for v in views.values())
    }


def _jaccard_rows(inter: np.ndarray, union: np.ndarray) -> np.ndarray:
    return np.where(union > 0, inter / np.where(union > 0, union, 1), np.nan)


@indicator(
    code="T6",
    title="Discovery-channel divergence",
    question="Do Alt-Svc, HTTPS records and QUIC answers name the same hosts?",
    unit="1 - Jaccard",
    formula="1 - mean over pairs of the Jaccard similarity between {Alt-Svc h3}, "
    "{HTTPS RR alpn h3} and {targets answering a QUIC handshake or VN}; pairs whose "
    "union is empty are skipped. params: advertised-not-served, served-not-advertised.",
    reasoning="Without dns tables only the Alt-Svc/QUIC pair is used (params say so).",
    version=1,
    inputs=("tls_observations", "quic_observations", "quic_vn_observations"),
    min_n=3,
    pillar=registry.DESCRIPTIVE,
    needs=(Facts.TRANSPORT,),
)
def t6(ctx: Context) -> Estimate:
    run, f, present = ctx.run, ctx.transport, ctx.present
    if reason := missing_tables("T6", present):
        return withheld("T6", run, reason)
    # The HTTPS-RR channel takes part only when the run saw h3 in any HTTPS record;
    # otherwise an unmeasured channel would count as divergence.
    use_rr = bool(f.https_h3)
    fl = f.flags()
    a = fl.altsvc
    b = f.in_https_h3(fl.targets) if use_rr else np.zeros(len(a), dtype=np.bool_)
    c = fl.quic_ok | fl.vn_reply
    if not len(a):
        return withheld("T6", run, "n = 0 < minimum 3 clusters")
    # Columns: the sets' memberships, their pairwise intersections and unions.
    cols = np.column_stack([a & c, a | c, a & b, a | b, b & c, b | c, a & ~c, c & ~a]).astype(
        np.float64
    )
    pairs_idx = [(0, 1), (2, 3), (4, 5)] if use_rr else [(0, 1)]

    def statistic(s: stats.FloatArray) -> stats.FloatArray:
        js = np.column_stack([_jaccard_rows(s[:, i], s[:, u]) for i, u in pairs_idx])
        # A replicate that drew no target of any channel has no Jaccard at all: its NaN is
        # dropped by the percentile step, so numpy's "Mean of empty slice" is expected.
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.asarray(1 - np.nanmean(js, axis=1), dtype=np.float64)

    totals = cols.sum(axis=0)
    params = {
        "pairs": ["alt-svc/quic", "alt-svc/https-rr", "https-rr/quic"]
        if use_rr
        else ["alt-svc/quic"],
        "advertised_not_served": totals[6] / len(a),
        "served_not_advertised": totals[7] / len(a),
        # Targets per discovery channel (for the reports' channel chart): |A| = |A∩C| +
        # |A\C|, |C| = |A∩C| + |C\A|, |B| = |B∪C| - |C| + |B∩C|.
        "channels": {
            "targets": len(a),
            "alt_svc": int(totals[0] + totals[6]),
            "quic": int(totals[0] + totals[7]),
            "alt_svc_and_quic": int(totals[0]),
            "https_rr": int(totals[5] - (totals[0] + totals[7]) + totals[4]) if use_rr else None,
        },
    }
    if all(totals[u] == 0 for _, u in pairs_idx):
        if len(a) < REGISTRY["T6"].min_n:
            return withheld(
                "T6", run, f"n = {len(a)} < minimum {REGISTRY['T6'].min_n} clusters", **params
            )
        # Every pair's union is empty: no Jaccard is defined (no HTTP/3 anywhere).
        return not_applicable("T6", run, "no target in any discovery channel", **params)
    interval = bootstrap(run, "T6", _keys(f, fl.targets), cols, statistic)
    return from_interval("T6", run, interval, params=params)


def _first_mapped(f: RunFacts, sel: BoolArray, asn: IntArray) -> tuple[IntArray, IntArray]:
    """Per target, the ASN of its first mapped pair in ``sel`` (pairs are in address order)."""
    pick = sel & (asn >= 0)
    targets, first = np.unique(f.t[pick], return_index=True)
    return targets, asn[pick][first]


def _counts_by_first_seen(values: IntArray, seen: IntArray | None = None) -> FloatArray:
    """How often each distinct value occurs, in order of first occurrence (a Counter's);
    ``seen`` gives each value's place in that order when it is not the array's."""
    if seen is not None:
        values = values[np.argsort(seen, kind="stable")]
    _, first, counts = np.unique(values, return_index=True, return_counts=True)
    return np.asarray(counts[np.argsort(first, kind="stable")], dtype=np.float64)


@indicator(
    code="T7",
    title="HTTP/3 supply concentration",
    question="How concentrated in few ASes are the targets that serve HTTP/3?",
    unit="normalised HHI",
    formula="HHI* of h3-capable targets (completed QUIC handshake) by the origin AS of the "
    "address; params: HHI, top-1 and top-3 share, and the same HHI* for TCP-only HTTPS "
    "targets as a baseline.",
    reasoning="Normalised HHI keeps the [0,1] orientation of the catalogue.",
    version=1,
    inputs=("quic_observations", "tls_observations"),
    min_n=3,
    pillar=registry.DESCRIPTIVE,
    needs=(Facts.TRANSPORT,),
    needs_asn=True,
)
def t7(ctx: Context) -> Estimate:
    run, f, mapping, present = ctx.run, ctx.transport, ctx.mapping, ctx.present
    if reason := missing_tables("T7", present):
        return withheld("T7", run, reason)
    if mapping is None:
        return withheld("T7", run, "no IP-to-ASN mapping given (--asn-map)")
    asn = f.names.asns(mapping)[f.a]
    # A target's h3 host is its first mapped QUIC-serving address; targets without QUIC
    # count towards the TCP-only concentration by their first mapped TLS address.
    h3_targets = np.unique(f.t[f.quic_ok])
    h3_keys_r, h3_asns = _first_mapped(f, f.quic_ok, asn)
    tcp_targets, tcp_asns = _first_mapped(f, f.tls_ok, asn)
    tcp_only = tcp_asns[~np.isin(tcp_targets, h3_targets)]
    params: dict[str, Any] = {
        "mapping_date": mapping.date,
        "unmapped_targets": len(h3_targets) - len(h3_keys_r),
    }
    if len(tcp_only):
        params["tcp_only_hhi_star"] = stats.hhi(_counts_by_first_seen(tcp_only))[1]
    if not len(h3_asns):
        return withheld("T7", run, "n = 0 < minimum 3 clusters", **params)
    asns, column = np.unique(h3_asns, return_inverse=True)
    counts = _counts_by_first_seen(h3_asns)
    raw, _ = stats.hhi(counts)
    top = np.sort(counts)[::-1]
    n = len(h3_asns)
    params.update(hhi=raw, top1_share=int(top[0]) / n, top3_share=int(top[:3].sum()) / n)
    cols = np.zeros((n, len(asns)))
    cols[np.arange(n), column] = 1
    # Every target in one AS: each replicate is 1; the low end becomes a score bound.
    floor = float(stats.hhi_floor_of(cols[None])[0])
    interval = bootstrap(run, "T7", _keys(f, h3_keys_r), cols, stats.hhi_rows).map(
        lambda found: stats.bounded(found, low=floor, high=1.0)
    )
    return from_interval("T7", run, interval, params=params)


@indicator(
    code="T8",
    title="QUIC version hygiene",
    question="Which share of Version Negotiation responders still offer pre-standard or "
    "draft versions?",
    unit="share of VN responders",
    formula="Share of (d,ip) whose VN list holds a gQUIC (Q0xx) or IETF draft (0xff0000xx) "
    "version; params: v1-only, v2, GREASE and vendor (mvfst 0xfaceb0xx) shares and the "
    "entropy over version sets, a set being the version kinds (v1, v2, draft, gquic, "
    "mvfst, other; GREASE left out) a (d,ip) lists (log2, normalised by log2 K).",
    reasoning="Legacy versions are the hygiene risk; the other shares are descriptive. "
    "Version 2 classifies the version numbers when it computes (probes/transport/"
    "quic_wire.py), not from the stored kind, and counts mvfst's whole 0xfaceb0xx block "
    "as one vendor kind: version 1 read 0xfaceb010/11/13 as 'other', so an mvfst "
    "server's set looked like an unknown stack's and split the entropy.",
    version=2,
    inputs=("quic_vn_observations", "quic_vn_versions"),
    min_n=3,
    pillar=registry.DESCRIPTIVE,
    needs=(Facts.TRANSPORT,),
    brief="Challenges",
    brief_rank=3,
)
def t8(ctx: Context) -> Estimate:
    run, f, present = ctx.run, ctx.transport, ctx.present
    if reason := missing_tables("T8", present):
        return withheld("T8", run, reason)
    sel = f.vn_reply
    kinds = f.vn_kinds[sel]
    legacy = (kinds & f.names.kind_bits(LEGACY_KINDS)) != 0
    targets, (num, den) = _per_target(f.t[sel], legacy.astype(np.float64), np.ones(len(kinds)))
    n = len(kinds)
    params: dict[str, Any] = {}
    if n:
        # Version sets without GREASE, counted in order of first appearance.
        sets = kinds & ~f.names.kind_bits(["grease"])
        v1_only = f.names.kind_bits(["v1"])
        params = {
            "v1_only_share": int((sets == v1_only).sum()) / n if v1_only else 0 / n,
            "v2_share": int(f.vn_v2[sel].sum()) / n,
            "grease_share": int(f.vn_grease[sel].sum()) / n,
            "vendor_share": int(((kinds & f.names.kind_bits(VENDOR_KIND_NAMES)) != 0).sum()) / n,
            "version_set_entropy": stats.entropy_normalised(
                _counts_by_first_seen(sets, f.seen[sel])
            ),
        }
    return from_ratio("T8", run, num, den, params=params, keys=_keys(f, targets))


@indicator(
    code="T9",
    title="Censorship asymmetry",
    question="On the same addresses, is interference aimed at TCP rather than QUIC?",
    unit="f_tcp / (f_tcp + f_quic)",
    direction="0.5 = symmetric; higher = TCP-centric interference",
    formula="Over (d,ip) where TLS and QUIC both worked from the control: f_tcp = share "
    "whose TLS failed here, f_quic = share whose QUIC failed here; value = f_tcp / "
    "(f_tcp + f_quic); params.raw_ratio = f_tcp / f_quic.",
    reasoning="The mapping to [0,1] is fixed by issue 9; not applicable (NULL, "
    "status not_applicable) when neither failed. "
    "Version 2: a failure the same-path control explains (analysis.pathcontrol) counts as "
    "no failure, counted in params.path_control_discarded.",
    version=2,
    inputs=("tls_observations", "quic_observations"),
    min_n=3,
    pillar=registry.DESCRIPTIVE,
    needs=(Facts.TRANSPORT, Facts.CONTROL_TRANSPORT, Facts.PATH_CONTROL),
    needs_control=True,
    brief="Stability",
    brief_rank=2,
)
def t9(ctx: Context) -> Estimate:
    run, f, control, present = ctx.run, ctx.transport, ctx.control_transport, ctx.present
    if reason := missing_tables("T9", present):
        return withheld("T9", run, reason)
    if control is None:
        return withheld("T9", run, "no control run in this run's round")
    c_tls_ok, c_quic_ok = f.matched(control, "tls_ok", "quic_ok")
    sel = c_tls_ok & c_quic_ok & f.tls_tried & f.quic_tried
    if not sel.any():
        return withheld("T9", run, "n = 0 < minimum 3 clusters")
    pc = ctx.path_control
    tls_failed = ~f.tls_ok & ~pc.discarded(f, "tls")
    quic_failed = ~f.quic_ok & ~pc.discarded(f, "quic")
    discarded = int(((~f.tls_ok & ~tls_failed) | (~f.quic_ok & ~quic_failed))[sel].sum())
    targets, sums = _per_target(
        f.t[sel],
        tls_failed[sel].astype(np.float64),
        quic_failed[sel].astype(np.float64),
        np.ones(int(sel.sum())),
    )
    cols = np.column_stack(sums)
    f_tcp, f_quic = cols[:, 0].sum() / cols[:, 2].sum(), cols[:, 1].sum() / cols[:, 2].sum()
    params: dict[str, Any] = {
        "f_tcp": f_tcp,
        "f_quic": f_quic,
        "raw_ratio": f_tcp / f_quic if f_quic > 0 else None,
        "path_control_discarded": discarded,
    }
    if len(targets) < REGISTRY["T9"].min_n:
        return withheld(
            "T9", run, f"n = {len(targets)} < minimum {REGISTRY['T9'].min_n} clusters", **params
        )
    if f_tcp + f_quic == 0:
        # f_tcp / (f_tcp + f_quic) is 0/0 on complete data: nothing to attribute.
        return not_applicable("T9", run, "no interference observed (f_tcp = f_quic = 0)", **params)
    # A share of the failures (TCP among TCP + QUIC), so a ratio of per-target sums with
    # its score interval (docs/indicators.md, Method step 8): the percentile bootstrap
    # claimed [x, x] whenever the failures sat in one target (python -m bench ci).
    return from_cluster_ratio(
        "T9", run, cols[:, 0], cols[:, 0] + cols[:, 1], n=len(targets), params=params
    )


def _per_name(
    rows: list[tuple[str, float]], code: str, run: Any, params: dict[str, Any]
) -> Estimate:
    """from_ratio over targets: each (target, flag) row one trial of its target's cluster."""
    names = np.array([t for t, _ in rows], dtype=np.str_)
    flags = np.array([x for _, x in rows], dtype=np.float64)
    found, inverse = np.unique(names, return_inverse=True)
    num = np.bincount(inverse, weights=flags, minlength=len(found)).astype(np.float64)
    den = np.bincount(inverse, minlength=len(found)).astype(np.float64)
    return from_ratio(code, run, num, den, params=params, keys=found)


@indicator(
    code="T10",
    title="SNI filtering rate",
    question="Of the names whose address answers an innocuous control SNI, how many are "
    "blocked by the name they send (over TCP+TLS or QUIC)?",
    unit="share of (target, address, transport) tests",
    formula="Over the transport.sni tests (d, ip, transport) whose control SNI reached the "
    "server first (verdict ok, sni_filtered or residual): T10 = |{verdict in "
    "{sni_filtered, residual}}| / |tests|; params.tcp and params.quic give the same ratio "
    "per transport.",
    reasoning="Censored Planet's control-name idea on the same address: a verdict exists "
    "only where the control SNI worked, so address, port or UDP blocking "
    "(ip_or_port_blocked, udp_blocked) and loss (inconclusive) are left out of the "
    "denominator and counted in params.undecided. Residual blocking (the block outlives "
    "the triggering flow, a repeat or a later control is lost) is SNI filtering too, and "
    "so is a real SNI refused with a TLS alert while the control is served (censors "
    "inject alerts as they inject RSTs; the same alert to both names is inconclusive). "
    "Clusters are targets.",
    version=1,
    inputs=("sni_observations",),
    min_n=3,
    pillar=registry.DESCRIPTIVE,
    needs=(Facts.SNI,),
    params_doc={
        "tcp": "the ratio over TCP+TLS tests alone (NULL without any)",
        "quic": "the ratio over QUIC tests alone (NULL without any)",
        "residual": "tests whose verdict is residual",
        "undecided": "tests left out: the control SNI did not work first",
    },
)
def t10(ctx: Context) -> Estimate:
    run, present = ctx.run, ctx.present
    if reason := missing_tables("T10", present):
        return withheld("T10", run, reason)
    verdicts = ctx.sni.verdicts
    if not verdicts:
        return withheld("T10", run, "no transport.sni tests in this run")
    decided = sorted((k, v) for k, v in verdicts.items() if v in DECIDED)
    params: dict[str, Any] = {
        "undecided": len(verdicts) - len(decided),
        "residual": sum(v == "residual" for _, v in decided),
    }
    for transport in ("tcp", "quic"):
        mine = [v in SNI_FILTERING for (_, _, tr), v in decided if tr == transport]
        params[transport] = sum(mine) / len(mine) if mine else None
    rows = [(t, float(v in SNI_FILTERING)) for (t, _, _), v in decided]
    return _per_name(rows, "T10", run, params)


@indicator(
    code="T11",
    title="ECH adoption",
    question="How many targets publish an Encrypted ClientHello config in their HTTPS record?",
    unit="share of targets",
    formula="Over the transport.ech rows whose HTTPS query was answered (envelope failure "
    "NULL): T11 = |{(d, ip) : ech_published}| / |rows|, clustered by target d. "
    "params.configs_unusable counts published lists with no parsable version 0xfe0d "
    "config.",
    reasoning="Adoption is what the target's operator publishes (RFC 9849 section 4, the "
    "HTTPS RR ech SvcParam, RFC 9460), read through the vantage's own resolver; a query "
    "that was never answered says nothing about adoption and stays out (loss is not "
    "censorship). A descriptive share, not fragmentation by itself: it is the "
    "denominator T12 draws from.",
    version=1,
    inputs=("ech_observations",),
    min_n=3,
    pillar=registry.DESCRIPTIVE,
    needs=(Facts.ECH,),
    params_doc={"published": "rows whose HTTPS record carries an ech SvcParam"},
)
def t11(ctx: Context) -> Estimate:
    run, present = ctx.run, ctx.present
    if reason := missing_tables("T11", present):
        return withheld("T11", run, reason)
    rows = ctx.ech.rows
    if not rows:
        return withheld("T11", run, "no transport.ech rows in this run")
    ordered = sorted(rows.items())
    params: dict[str, Any] = {"published": sum(p for _, (p, _) in ordered)}
    return _per_name([(t, float(p)) for (t, _), (p, _) in ordered], "T11", run, params)


@indicator(
    code="T12",
    title="ECH interference",
    question="Of the ECH-capable targets, on how many is ECH lost here while the same "
    "ClientHello without ECH reaches the same address?",
    unit="share of ECH-capable (target, address) tests",
    formula="Over the transport.ech rows of targets that publish a usable ECH config and "
    "whose control (no ECH, real SNI, same address) reached the server (verdict "
    "ech_accepted, ech_rejected or ech_blocked): T12 = |{verdict = ech_blocked}| / |rows|, "
    "clustered by target.",
    reasoning="OONI's echcheck idea: the same target with and without ECH on the same "
    "address, so address or port blocking (the control lost too) and loss (ECH lost on a "
    "path whose control itself needed retries) are inconclusive and counted in "
    "params.undecided, not in the share. A server that answers but does not accept ECH "
    "(ech_rejected, RFC 9849 section 6.1.6) is no interference by the path; a TLS alert "
    "to the ECH ClientHello is (ech_blocked), unless the control got that very alert "
    "(inconclusive). Each row is "
    "a deterministic A/B test, so one ECH-capable target is already a measurement "
    "(min_n 1; the Wilson interval shows how little one target says).",
    version=1,
    inputs=("ech_observations",),
    min_n=1,
    pillar=registry.DESCRIPTIVE,
    needs=(Facts.ECH,),
    params_doc={
        "accepted": "rows whose ECH was accepted (ServerHello confirmation, RFC 9849 7.2)",
        "rejected": "rows whose ECH the server answered without accepting",
        "undecided": "ECH-capable rows left out: inconclusive (control lost, or a lossy path)",
    },
)
def t12(ctx: Context) -> Estimate:
    run, present = ctx.run, ctx.present
    if reason := missing_tables("T12", present):
        return withheld("T12", run, reason)
    if not ctx.ech.rows:
        return withheld("T12", run, "no transport.ech rows in this run")
    capable = sorted((k, v) for k, (p, v) in ctx.ech.rows.items() if p and v != "no_ech")
    decided = [(k, v) for k, v in capable if v in ECH_DECIDED]
    params: dict[str, Any] = {
        "accepted": sum(v == "ech_accepted" for _, v in decided),
        "rejected": sum(v == "ech_rejected" for _, v in decided),
        "undecided": len(capable) - len(decided),
    }
    if not capable:
        return not_applicable("T12", run, "no target publishes a usable ECH config", **params)
    rows = [(t, float(v == "ech_blocked")) for (t, _), v in decided]
    return _per_name(rows, "T12", run, params)


@indicator(
    code="O1",
    title="Extension Tolerance / Ossification (EXT)",
    question="Do paths drop TCP SYNs that carry ECN setup or an experimental option?",
    unit="share of baseline successes",
    formula="EXT = broken / (works + broken) over path_observations tests tcp_ecn and "
    "tcp_exp_option (PATHspider classes: the baseline SYN answered, the experimental "
    "one not).",
    reasoning="Baseline failures (offline, transient) are outside the denominator, as in "
    "the catalogue's failures_ext / successes_base.",
    version=1,
    inputs=("path_observations",),
    min_n=3,
    pillar=registry.DESCRIPTIVE,
    needs=(Facts.TRANSPORT,),
    brief="Stability",
    brief_rank=3,
)
def o1(ctx: Context) -> Estimate:
    """O1: PATHspider classes of the TCP SYN A/B tests (path.udp443 probe)."""
    run, f, present = ctx.run, ctx.transport, ctx.present
    if reason := missing_tables("O1", present):
        return withheld("O1", run, reason)
    words = f.names
    tests = np.isin(f.path_test, [words.word("tcp_ecn"), words.word("tcp_exp_option")])
    broken = f.path_outcome == words.word("broken")
    works = f.path_outcome == words.word("works")
    sel = tests & (broken | works)
    n = f.path_n[sel].astype(np.float64)
    targets, (num, den) = _per_target(f.path_t[sel], np.where(broken[sel], n, 0.0), n)
    keep = den > 0
    return from_ratio("O1", run, num[keep], den[keep], keys=_keys(f, targets[keep]))
