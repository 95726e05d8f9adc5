"""Transport indicators T1-T9 from per-pair facts (analysis.facts). No I/O.

Clusters are targets: every value is a function of per-target sums, bootstrapped with
analysis.stats.sum_bootstrap. Indicators that need the control vantage (T2, T9) are
withheld when the round has no control run.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import numpy as np

from analysis import stats
from analysis.asn import AsnMap
from analysis.facts import LEGACY_KINDS, RunFacts
from analysis.registry import REGISTRY
from analysis.result import (
    Estimate,
    bootstrap,
    from_interval,
    from_ratio,
    missing_tables,
    withheld,
)
from analysis.scope import RunInfo


def _share(values: list[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def _t1_rows(f: RunFacts) -> tuple[list[float], list[float], list[str]]:
    """Per advertising target tried over QUIC: (handshake failed, 1) and the target."""
    num, den, keys = [], [], []
    rr = f.https_h3
    for target, fl in f.flags().items():
        adv = fl.altsvc or (bool(rr) and target.rstrip(".").lower() in rr)
        if adv and fl.quic_tried:
            num.append(0.0 if fl.quic_ok else 1.0)
            den.append(1.0)
            keys.append(target)
    return num, den, keys


def t1(run: RunInfo, f: RunFacts, control: RunFacts | None, present: set[str]) -> Estimate:
    if reason := missing_tables("T1", present):
        return withheld("T1", run, reason)
    num, den, keys = _t1_rows(f)
    params: dict[str, Any] = {
        "advertising_targets": len(den),
        "channels": ["alt-svc", "https-rr"] if "dns_answers" in present else ["alt-svc"],
    }
    est = from_ratio("T1", run, num, den, params=params, keys=keys)
    if control is not None and est.value is not None:
        # Only the control's value is needed (no interval): its rows' ratio, under the
        # same minimum-n rule as T1 itself.
        c_num, c_den, _ = _t1_rows(control)
        if len(c_den) >= REGISTRY["T1"].min_n:
            # ΔQ = QRR_c - QRR_v = QARG_v - QARG_c (INDICATORS.md T1).
            est.params["delta_q_vs_control"] = est.value - sum(c_num) / sum(c_den)
    return est


def t2(run: RunInfo, f: RunFacts, control: RunFacts | None, present: set[str]) -> Estimate:
    if reason := missing_tables("T2", present):
        return withheld("T2", run, reason)
    if control is None:
        return withheld("T2", run, "no control run in this run's round")
    num: Counter[str] = Counter()
    den: Counter[str] = Counter()
    for key, p in f.pairs.items():
        c = control.pairs.get(key)
        if c is None or not (p.tls_ok and c.quic_ok and p.quic_tried):
            continue
        den[p.target] += 1
        num[p.target] += 1 if (p.quic_timeout and not p.quic_ok) else 0
    targets = sorted(den)
    return from_ratio(
        "T2",
        run,
        [num[t] for t in targets],
        [den[t] for t in targets],
        params={"pairs": int(sum(den.values())), "blocked_pairs": int(sum(num.values()))},
        keys=targets,
    )


def t3(run: RunInfo, f: RunFacts, present: set[str]) -> Estimate:
    if "quic_vn_observations" not in present and "quic_observations" not in present:
        return withheld("T3", run, "input table quic_vn_observations not present")
    num: Counter[str] = Counter()
    den: Counter[str] = Counter()
    for p in f.pairs.values():
        if not (p.vn_reply or p.quic_ok):
            continue
        den[p.target] += 1
        std = p.vn_v1 or p.vn_v2 or p.quic_std
        num[p.target] += 0 if std else 1
    targets = sorted(den)
    return from_ratio("T3", run, [num[t] for t in targets], [den[t] for t in targets], keys=targets)


def t4(run: RunInfo, f: RunFacts, control: RunFacts | None, present: set[str]) -> Estimate:
    if reason := missing_tables("T4", present):
        return withheld("T4", run, reason)
    rows = []
    keys = []
    for target, fl in f.flags().items():
        if not fl.tls_ok:
            continue
        keys.append(target)
        rows.append((fl.tls13, fl.h2, fl.quic_ok))
    gaps = [1 - (a + b + c) / 3 for a, b, c in rows]
    params: dict[str, Any] = {
        "tls13_share": _share([r[0] for r in rows]),
        "h2_share": _share([r[1] for r in rows]),
        "h3_share": _share([r[2] for r in rows]),
    }
    if control is not None:
        c_rows = [fl.tls13 for fl in control.flags().values() if fl.tls_ok]
        if c_rows and rows:
            # DG = TLS13_c - TLS13_v: a downgrade by middleboxes shows as DG > 0.
            params["downgrade_dg"] = float(sum(c_rows) / len(c_rows)) - sum(
                r[0] for r in rows
            ) / len(rows)
    return from_ratio("T4", run, gaps, [1.0] * len(gaps), params=params, keys=keys)


def t5(run: RunInfo, f: RunFacts, present: set[str]) -> Estimate:
    if reason := missing_tables("T5", present):
        return withheld("T5", run, reason)
    num, den, keys = [], [], []
    with_v6 = 0
    v6_ok = 0
    for target, fl in f.flags().items():
        if not fl.tls_tried:
            continue
        ok = fl.v6_ok
        with_v6 += fl.v6_tried
        v6_ok += ok
        num.append(0.0 if ok else 1.0)
        den.append(1.0)
        keys.append(target)
    params = {
        "aaaa_share": with_v6 / len(den) if den else None,
        "p6": v6_ok / with_v6 if with_v6 else None,
        "vantage_has_v6": v6_ok > 0,
    }
    return from_ratio("T5", run, num, den, params=params, keys=keys)


def _jaccard_rows(inter: np.ndarray, union: np.ndarray) -> np.ndarray:
    return np.where(union > 0, inter / np.where(union > 0, union, 1), np.nan)


def t6(run: RunInfo, f: RunFacts, present: set[str]) -> Estimate:
    if reason := missing_tables("T6", present):
        return withheld("T6", run, reason)
    # The HTTPS-RR channel takes part only when the run saw h3 in any HTTPS record;
    # otherwise an unmeasured channel would count as divergence.
    use_rr = bool(f.https_h3)
    rows = []
    for target, fl in f.flags().items():
        a = fl.altsvc
        b = use_rr and target.rstrip(".").lower() in f.https_h3
        c = fl.quic_ok or fl.vn_reply
        # Columns: the sets' memberships, their pairwise intersections and unions.
        rows.append([a and c, a or c, a and b, a or b, b and c, b or c, a and not c, c and not a])
    if not rows:
        return withheld("T6", run, "n = 0 < minimum 3 clusters")
    cols = np.array(rows, dtype=np.float64)
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
        "advertised_not_served": totals[6] / len(rows),
        "served_not_advertised": totals[7] / len(rows),
        # Targets per discovery channel (for the reports' channel chart): |A| = |A∩C| +
        # |A\C|, |C| = |A∩C| + |C\A|, |B| = |B∪C| - |C| + |B∩C|.
        "channels": {
            "targets": len(rows),
            "alt_svc": int(totals[0] + totals[6]),
            "quic": int(totals[0] + totals[7]),
            "alt_svc_and_quic": int(totals[0]),
            "https_rr": int(totals[5] - (totals[0] + totals[7]) + totals[4]) if use_rr else None,
        },
    }
    if all(totals[u] == 0 for _, u in pairs_idx):
        return withheld("T6", run, "no target in any discovery channel", **params)
    interval = bootstrap(run, "T6", list(f.flags()), cols, statistic)
    return from_interval("T6", run, interval, params=params)


def _first_asn(pairs: list[Any], mapping: AsnMap) -> int | None:
    for p in sorted(pairs, key=lambda p: p.address) if len(pairs) > 1 else pairs:
        asn = mapping.lookup(p.address)
        if asn is not None:
            return asn
    return None


def t7(run: RunInfo, f: RunFacts, mapping: AsnMap | None, present: set[str]) -> Estimate:
    if reason := missing_tables("T7", present):
        return withheld("T7", run, reason)
    if mapping is None:
        return withheld("T7", run, "no IP-to-ASN mapping given (--asn-map)")
    h3_asns: list[int] = []
    h3_keys: list[str] = []
    tcp_only: list[int] = []
    unmapped = 0
    for target, pairs in sorted(f.by_target().items()):
        h3 = [p for p in pairs if p.quic_ok]
        tcp = [p for p in pairs if p.tls_ok]
        if h3:
            asn = _first_asn(h3, mapping)
            if asn is None:
                unmapped += 1
            else:
                h3_asns.append(asn)
                h3_keys.append(target)
        elif tcp:
            asn = _first_asn(tcp, mapping)
            if asn is not None:
                tcp_only.append(asn)
    params: dict[str, Any] = {"mapping_date": mapping.date, "unmapped_targets": unmapped}
    if tcp_only:
        params["tcp_only_hhi_star"] = stats.hhi(list(Counter(tcp_only).values()))[1]
    if not h3_asns:
        return withheld("T7", run, "n = 0 < minimum 3 clusters", **params)
    asns = sorted(set(h3_asns))
    counts = Counter(h3_asns)
    raw, _ = stats.hhi(list(counts.values()))
    top = sorted(counts.values(), reverse=True)
    params.update(hhi=raw, top1_share=top[0] / len(h3_asns), top3_share=sum(top[:3]) / len(h3_asns))
    index = {a: i for i, a in enumerate(asns)}
    cols = np.zeros((len(h3_asns), len(asns)))
    cols[np.arange(len(h3_asns)), [index[a] for a in h3_asns]] = 1
    interval = bootstrap(run, "T7", h3_keys, cols, stats.hhi_rows)
    return from_interval("T7", run, interval, params=params)


def t8(run: RunInfo, f: RunFacts, present: set[str]) -> Estimate:
    if reason := missing_tables("T8", present):
        return withheld("T8", run, reason)
    num: Counter[str] = Counter()
    den: Counter[str] = Counter()
    sets: Counter[frozenset[str]] = Counter()
    legacy = frozenset(LEGACY_KINDS)
    v2 = grease = 0
    for p in f.pairs.values():
        if not p.vn_reply:
            continue
        den[p.target] += 1
        if p.vn_kinds & legacy:
            num[p.target] += 1
        sets[p.vn_kinds - {"grease"}] += 1
        v2 += p.vn_v2
        grease += p.vn_grease
    n = sum(sets.values())
    params: dict[str, Any] = {}
    if n:
        params = {
            "v1_only_share": sets.get(frozenset({"v1"}), 0) / n,
            "v2_share": v2 / n,
            "grease_share": grease / n,
            "version_set_entropy": stats.entropy_normalised(list(sets.values())),
        }
    targets = sorted(den)
    return from_ratio(
        "T8",
        run,
        [num[t] for t in targets],
        [den[t] for t in targets],
        params=params,
        keys=targets,
    )


def t9(run: RunInfo, f: RunFacts, control: RunFacts | None, present: set[str]) -> Estimate:
    if reason := missing_tables("T9", present):
        return withheld("T9", run, reason)
    if control is None:
        return withheld("T9", run, "no control run in this run's round")
    by_target: dict[str, list[float]] = {}
    for key, p in f.pairs.items():
        c = control.pairs.get(key)
        if c is None or not (c.tls_ok and c.quic_ok and p.tls_tried and p.quic_tried):
            continue
        row = by_target.setdefault(p.target, [0.0, 0.0, 0.0])
        row[0] += 0 if p.tls_ok else 1
        row[1] += 0 if p.quic_ok else 1
        row[2] += 1
    if not by_target:
        return withheld("T9", run, "n = 0 < minimum 3 clusters")
    keys = sorted(by_target)
    cols = np.array([by_target[t] for t in keys])
    f_tcp, f_quic = cols[:, 0].sum() / cols[:, 2].sum(), cols[:, 1].sum() / cols[:, 2].sum()
    params: dict[str, Any] = {
        "f_tcp": f_tcp,
        "f_quic": f_quic,
        "raw_ratio": f_tcp / f_quic if f_quic > 0 else None,
    }
    if f_tcp + f_quic == 0:
        return withheld("T9", run, "no interference observed (f_tcp = f_quic = 0)", **params)
    interval = bootstrap(run, "T9", keys, cols, lambda s: s[:, 0] / (s[:, 0] + s[:, 1]))
    return from_interval("T9", run, interval, params=params)


def o1(run: RunInfo, f: RunFacts, present: set[str]) -> Estimate:
    """O1: PATHspider classes of the TCP SYN A/B tests (path.udp443 probe)."""
    if reason := missing_tables("O1", present):
        return withheld("O1", run, reason)
    num: Counter[str] = Counter()
    den: Counter[str] = Counter()
    for (target, test), outcomes in f.path.items():
        if test not in ("tcp_ecn", "tcp_exp_option"):
            continue
        broken = outcomes.get("broken", 0)
        den[target] += broken + outcomes.get("works", 0)
        num[target] += broken
    targets = sorted(t for t in den if den[t] > 0)
    return from_ratio("O1", run, [num[t] for t in targets], [den[t] for t in targets], keys=targets)
