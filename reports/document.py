"""The report as format-neutral sections (paragraphs, tables, bullet lists) built from the
Summary; text, markdown and html render the same sections. Pure: no I/O, no statistic.

Strings from the network or the database (TXT records, Server headers, naming values,
endpoints, vantage labels) pass through verbatim here, marked view.Untrusted; each renderer
escapes them for its format, and shows control characters as escapes in every string.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import ClassVar

from fragscope.reports import brief
from fragscope.reports.view import (
    HANDSHAKE_CODES,
    HANDSHAKE_TABLES,
    HEADLINE_CODES,
    NAMING_CODES,
    TRANSPORT_CODES,
    Doc,
    Literal,
    Untrusted,
    View,
    ci,
    num,
)


@dataclass
class Para:
    kind: ClassVar[str] = "para"
    text: str
    heading: bool = False


@dataclass
class Table:
    kind: ClassVar[str] = "table"
    headers: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass
class Bullets:
    kind: ClassVar[str] = "bullets"
    items: list[str]
    commands: list[list[str]] = field(default_factory=list)  # per item: explain commands


Block = Para | Table | Bullets


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block]
    chart_kinds: tuple[str, ...] = ()


def _ind_table(view: View, codes: tuple[str, ...], runs: list[Doc]) -> Table:
    rows = []
    for run in runs:
        for code in codes:
            r = view.value(run["run_id"], code)
            if r is None:
                continue
            note = _no_value(r)
            rows.append(
                [
                    view.label(run["run_id"]),
                    code,
                    r["title"],
                    num(r["value"]),
                    ci(r),
                    _n(r),
                    note,
                ]
            )
    return Table(["vantage", "code", "indicator", "value", "95% CI", "n", "no value because"], rows)


NOT_APPLICABLE_CAPTION = "Indicators not applicable (the formula is undefined on complete data)"


def _no_value(row: Doc) -> str:
    """Why an indicator row has no value: withheld (lack of data) or not applicable."""
    if row["value"] is not None:
        return ""
    kind = "not applicable" if row["status"] == "not_applicable" else "withheld"
    return f"{kind}: {row['reason'] or ''}"


def _n(row: Doc) -> str:
    """The sample size column: clusters, or for the composite its pillars (a count of
    pillars is no sample size; the composite table lists them)."""
    pillars = row["params"].get("pillars")
    if isinstance(pillars, dict):
        return f"{len(pillars)} pillar{'s' if len(pillars) != 1 else ''}"
    return "" if row["n"] is None else str(row["n"])


def _member(view: View, run_id: str, member: str) -> str:
    """A composite member and its value: an indicator (N1) or a param of one (N4.apd)."""
    code, _, param = member.partition(".")
    row = view.value(run_id, code)
    if row is None:
        return member
    value = row["params"].get(param) if param else row["value"]
    return f"{member} = {num(value)}" if isinstance(value, int | float) else member


def composite(view: View) -> Table | None:
    """C2 by vantage and pillar: the pillar's value, or why it does not count, and its
    members present (with their values) and missing."""
    defined: dict[str, list[str]] = view.doc["method"]["composite"]["pillars"]
    rows = []
    for run in view.latest:
        row = view.value(run["run_id"], "C2")
        if row is None or row["value"] is None:
            continue
        values = row["params"].get("pillars") or {}
        present = row["params"].get("members_present") or {}
        for pillar, members in sorted(defined.items()):
            have = present.get(pillar, [])
            rows.append(
                [
                    view.label(run["run_id"]),
                    pillar,
                    num(values[pillar]) if pillar in values else "not counted",
                    ", ".join(_member(view, run["run_id"], m) for m in have) or "none",
                    ", ".join(m for m in members if m not in have) or "none",
                ]
            )
    if not rows:
        return None
    caption = (
        f"Composite C2: its pillars and members (a pillar counts when >= "
        f"{num(view.doc['method']['composite']['min_coverage'], 1)} of its members are present)"
    )
    return Table(
        ["vantage", "pillar", "value", "members present", "members missing"], rows, caption
    )


def _observed(view: View, kind: str, key_header: str) -> Table | None:
    rows = [
        [view.label(o["run_id"]), Untrusted(o["key"] or ""), Untrusted(o["value"]), str(o["count"])]
        for o in view.doc.get("observed", [])
        if o["kind"] == kind
    ]
    if not rows:
        return None
    return Table(["vantage", key_header, "value (verbatim, untrusted)", "count"], rows)


def _params(row: Doc | None, keys: tuple[str, ...]) -> str:
    if row is None:
        return ""
    parts = []
    for k in keys:
        if k in row["params"]:
            v = row["params"][k]
            parts.append(f"{k} = {num(v) if isinstance(v, float) else json.dumps(v)}")
    return "; ".join(parts)


def headline(view: View) -> Section:
    blocks: list[Block] = [
        Para(
            "Latest run of each vantage. Every value lies in [0, 1], higher = more "
            "fragmented (T9: 0.5 = symmetric); 95% intervals over targets (Method notes). "
            "An interval marked degenerate has zero width: resampling had nothing to vary, "
            "so it states no precision."
        ),
        _ind_table(view, HEADLINE_CODES, view.latest),
    ]
    if (c2 := composite(view)) is not None:
        blocks.append(c2)
    return Section("headline", "Headline indicators", blocks, ("indicators",))


def naming_layer(view: View) -> Section:
    blocks: list[Block] = [_ind_table(view, NAMING_CODES, view.runs)]
    if (txt := _observed(view, "dns_txt", "owner name")) is not None:
        txt.caption = "TXT records seen (attacker-controlled)"
        blocks.append(txt)
    return Section("naming", "Naming layer", blocks)


def transport_layer(view: View) -> Section:
    codes = tuple(c for c in TRANSPORT_CODES if c not in HANDSHAKE_CODES)
    blocks: list[Block] = [
        _ind_table(view, codes, view.runs),
        Para(f"{', '.join(HANDSHAKE_CODES)}: see Encrypted handshake."),
    ]
    rows = []
    for run in view.runs:
        r = view.value(run["run_id"], "T6")
        ch = (r or {}).get("params", {}).get("channels")
        if isinstance(ch, dict):
            rows.append(
                [view.label(run["run_id"])]
                + [
                    "-" if ch.get(k) is None else str(ch[k])
                    for k in ("targets", "alt_svc", "https_rr", "quic", "alt_svc_and_quic")
                ]
            )
    if rows:
        blocks.append(
            Table(
                [
                    "vantage",
                    "targets",
                    "Alt-Svc h3",
                    "HTTPS RR h3",
                    "QUIC answers",
                    "Alt-Svc and QUIC",
                ],
                rows,
                "QUIC discovery channels (targets per channel)",
            )
        )
    if (srv := _observed(view, "http_server", "-")) is not None:
        srv.headers[1] = "header"
        srv.rows = [[a, "Server", c, d] for a, _, c, d in srv.rows]
        srv.caption = "HTTP Server headers seen (attacker-controlled)"
        blocks.append(srv)
    return Section("transport", "Transport layer", blocks, ("discovery",))


# What each encrypted-handshake indicator's params hold, in the order shown (the params
# are documented in docs/indicators.md).
_HANDSHAKE_DETAIL = {
    "T10": (("tcp", "TCP"), ("quic", "QUIC"), ("residual", "residual"), ("undecided", "undecided")),
    "T11": (("published", "published"),),
    "T12": (("accepted", "accepted"), ("rejected", "rejected"), ("undecided", "undecided")),
}
HANDSHAKE_NO_DATA = (
    "No transport.sni or transport.ech measurements in these runs: the encrypted-handshake "
    "layer was not measured."
)


def _detail(row: Doc) -> str:
    """The params of a T10-T12 row as "TCP 0.500; QUIC 1.000; residual 1"."""
    params = row["params"]
    parts = []
    for key, name in _HANDSHAKE_DETAIL[row["code"]]:
        if key in params:
            v = params[key]
            parts.append(f"{name} {num(v) if isinstance(v, float) or v is None else v}")
    return "; ".join(parts)


def encrypted_handshake(view: View) -> Section:
    """T10 (with its TCP/QUIC split and residual count), T11 and T12 per vantage, with a
    line of prose each; the "no data" line when no run in scope has transport.sni or
    transport.ech rows (the coverage section's tables), so nothing reads as 0."""
    measured = {c["run_id"] for c in view.doc["coverage"] if c["table"] in HANDSHAKE_TABLES}
    if not any(r["run_id"] in measured for r in view.runs):
        return Section("handshake", "Encrypted handshake", [Para(HANDSHAKE_NO_DATA)])
    rows = [
        [
            view.label(run["run_id"]),
            code,
            r["title"],
            num(r["value"]),
            ci(r),
            _n(r),
            _detail(r),
            _no_value(r),
        ]
        for run in view.runs
        for code in HANDSHAKE_CODES
        if (r := view.value(run["run_id"], code)) is not None
    ]
    blocks: list[Block] = [
        Para(
            "T10, SNI filtering: on the same address, the ClientHello with the target's own "
            "name fails (over TCP+TLS or QUIC) while one with an innocuous control name gets "
            "through; residual counts blocks that outlived the triggering flow. SNI filtering "
            "is not UDP blocking: T2 leaves these QUIC pairs out (docs/indicators.md)."
        ),
        Para(
            "T11, ECH adoption: the share of targets whose HTTPS record publishes an Encrypted "
            "ClientHello config. T12, ECH interference: of those, the share where the "
            "ClientHello with ECH is lost while the same one without ECH reaches the same "
            "address; a server that declines ECH (rejected) is no interference by the path."
        ),
        Table(
            [
                "vantage",
                "code",
                "indicator",
                "value",
                "95% CI",
                "n",
                "detail",
                "no value because",
            ],
            rows,
            "SNI filtering and ECH by vantage",
        ),
    ]
    return Section("handshake", "Encrypted handshake", blocks, ("handshake",))


def namespaces(view: View) -> Section:
    blocks: list[Block] = []
    rows = [
        [
            view.label(n["run_id"]),
            # An engine-made failure row (the task hit its deadline) has no namespace or
            # method: the probe never chose them (probes/naming/probe.py, ENGINE_MARGIN_S).
            n["namespace"] or "not recorded",
            n["method"] or "not recorded",
            n["outcome"] or "no answer",
            str(n["count"]),
        ]
        for n in view.doc.get("namespaces", [])
    ]
    if rows:
        blocks.append(Table(["vantage", "namespace", "method", "outcome", "lookups"], rows))
    else:
        blocks.append(Para("No alternative-namespace lookups in these runs."))
    items = []
    for run in view.runs:
        n3, n4 = view.value(run["run_id"], "N3"), view.value(run["run_id"], "N4")
        text = "; ".join(
            s
            for s in (
                f"N3 = {num(n3['value'])} ({_params(n3, ('alt_tlds', 'colliding'))})"
                if n3 and n3["value"] is not None
                else "",
                f"N4 = {num(n4['value'])} ({_params(n4, ('agf', 'apd'))})"
                if n4 and n4["value"] is not None
                else "",
            )
            if s
        )
        if text:
            items.append(f"{view.label(run['run_id'])}: {text}")
    if items:
        blocks.append(Bullets(items))
    if (txt := _observed(view, "naming_text", "key")) is not None:
        txt.caption = "Text values resolved in alternative namespaces (attacker-controlled)"
        blocks.append(txt)
    return Section("namespaces", "Alternative namespaces and collisions", blocks)


def cross_vantage(view: View) -> Section:
    blocks: list[Block] = []
    ctrl = view.comparisons("control")
    if ctrl:
        blocks.append(
            Table(
                ["vantage", "control", "C1 (bits)", "95% CI", "flagged"],
                [
                    [
                        view.label(c["run_a"], c["vantage_a"]),
                        view.label(c["run_b"], c["vantage_b"]),
                        num(c["value"]),
                        ci(c),
                        "yes" if c["flagged"] else "no",
                    ]
                    for c in ctrl
                ],
                "Divergence of outcomes to the control vantage",
            )
        )
    pairs = view.comparisons("pair")
    if pairs:
        blocks.append(
            Para(
                "Each pair is compared on the targets that every vantage of the round "
                "measured, so a - b is the difference on those targets and can differ from "
                "the difference of the headline values, which use all targets of each "
                "vantage; the last column gives both sides on the common targets."
            )
        )
        blocks.append(
            Table(
                [
                    "code",
                    "vantage a",
                    "vantage b",
                    "a - b",
                    "95% CI",
                    "p",
                    "p (Holm)",
                    "significant",
                    "on common targets",
                ],
                [
                    [
                        c["code"],
                        view.label(c["run_a"], c["vantage_a"]),
                        view.label(c["run_b"], c["vantage_b"]),
                        num(c["value"]),
                        ci(c),
                        num(c["p_value"]),
                        num(c["p_holm"]),
                        "yes" if c["flagged"] else "no",
                        c["note"],
                    ]
                    for c in pairs
                ],
                "Pairs of vantages: paired score interval on common targets, Holm over pairs",
            )
        )
    if not blocks:
        blocks.append(Para("Only one vantage is in scope: no cross-vantage comparison."))
    return Section("cross-vantage", "Cross-vantage comparison", blocks, ("heatmap",))


def trend(view: View) -> Section:
    blocks: list[Block] = []
    rows = [
        [
            Untrusted(c["vantage_a"]),
            c["code"],
            view.label(c["run_b"], c["vantage_b"]),
            view.label(c["run_a"], c["vantage_a"]),
            num(c["value"])
            if c["value"] is not None
            else "; ".join(view.version_change(c["run_a"], c["run_b"], c["code"])) or c["note"],
            "yes" if c["flagged"] else "no",
        ]
        for c in view.comparisons("trend")
    ]
    if rows:
        blocks.append(
            Table(
                ["vantage", "code", "previous run", "this run", "change", "flagged"],
                rows,
                "Change against the previous run (flagged: 95% intervals disjoint; a change "
                "of formula version is named, never computed)",
            )
        )
    rep = view.comparisons("repeat")
    if rep:
        blocks.append(
            Table(
                ["vantage", "previous run", "C1 to previous run (bits)"],
                [
                    [
                        Untrusted(c["vantage_a"]),
                        view.label(c["run_b"], c["vantage_b"]),
                        num(c["value"]),
                    ]
                    for c in rep
                ],
                "Same-vantage repeat: the noise baseline for C1",
            )
        )
    if not blocks:
        blocks.append(Para("No earlier run of these vantages: no trend yet."))
    return Section("trend", "Trend over runs", blocks, ("trend",))


def data_quality(view: View) -> Section:
    d = view.doc
    blocks: list[Block] = [
        Table(
            ["vantage", "table", "rows", "ok", "targets"],
            [
                [
                    view.label(c["run_id"]),
                    c["table"],
                    str(c["rows"]),
                    str(c["ok"]),
                    str(c["targets"]),
                ]
                for c in d["coverage"]
            ],
            "Coverage",
        ),
    ]
    if d["failures"]:
        blocks.append(
            Table(
                ["vantage", "table", "failure", "operation", "count"],
                [
                    [
                        view.label(f["run_id"]),
                        f["table"],
                        f["failure"],
                        f["operation"] or "-",
                        str(f["count"]),
                    ]
                    for f in d["failures"]
                ],
                "Failures by class and operation",
            )
        )
    else:
        blocks.append(Para("No failed measurement."))
    if d["silent_endpoints"]:
        blocks.append(
            Table(
                ["vantage", "table", "endpoint", "attempts"],
                [
                    [
                        view.label(s["run_id"]),
                        s["table"],
                        Untrusted(s["endpoint"]),
                        str(s["attempts"]),
                    ]
                    for s in d["silent_endpoints"]
                ],
                "Endpoints that never answered",
            )
        )
    if d["withheld"]:
        blocks.append(
            Table(
                ["vantage", "code", "why"],
                [[view.label(w["run_id"]), w["code"], w["reason"]] for w in d["withheld"]],
                "Indicators withheld for lack of data",
            )
        )
    if d["not_applicable"]:
        blocks.append(
            Table(
                ["vantage", "code", "why"],
                [[view.label(w["run_id"]), w["code"], w["reason"]] for w in d["not_applicable"]],
                NOT_APPLICABLE_CAPTION,
            )
        )
    return Section("data-quality", "Data quality", blocks)


def method(view: View) -> Section:
    m = view.doc["method"]
    items = [
        f"Summary schema {view.doc['schema_version']}, generated {view.doc['generated_at']}.",
        f"Uncertainty: {m['bootstrap']}.",
        f"Control vantage: {m['control_label']}.",
        "IP-to-ASN mapping: "
        + (
            f"{m.get('asn_mapping_source') or 'given'}, dated {m['asn_mapping_date']}."
            if m.get("asn_mapping_date")
            else "none given (ASN-based tests skipped or withheld)."
        ),
        "Composite (C2): pillars "
        + "; ".join(f"{p} = {', '.join(v)}" for p, v in sorted(m["composite"]["pillars"].items()))
        + f"; a pillar counts when >= {num(m['composite']['min_coverage'], 1)} of its members "
        f"are present; weights {m['composite']['weights']}.",
    ]
    notes: list[str] = [
        Literal(f"{n['code']} v{n['version']} {n['title']}: {n['formula']}")
        for n in view.doc["notes"]
    ]
    return Section("method", "Method notes", [Bullets(items), Bullets(notes)])


def council(view: View) -> Section:
    blocks: list[Block] = [
        Para(
            "Findings mapped to the Council's Topic 3 questions. Each statement quotes the "
            "indicator values it rests on; the command under it shows the observations behind "
            "them."
        )
    ]
    for topic, stmts in brief.by_topic(view):
        blocks.append(Para(topic, heading=True))
        blocks.append(
            Bullets(
                [s.text for s in stmts] or ["Nothing to report."],
                [sorted({e.explain for e in s.evidence}) for s in stmts] or [[]],
            )
        )
    return Section("council-brief", "Council brief", blocks)


def sections(view: View) -> list[Section]:
    return [
        headline(view),
        naming_layer(view),
        transport_layer(view),
        encrypted_handshake(view),
        namespaces(view),
        cross_vantage(view),
        trend(view),
        data_quality(view),
        method(view),
        council(view),
    ]


def shown(sections: list[Section], show: Callable[[str], str]) -> list[Section]:
    """The sections with every string passed through ``show`` (view.visible for the text
    and html reports), keeping each string's Untrusted or Literal mark."""

    def one(s: str) -> str:
        return type(s)(show(s)) if isinstance(s, Untrusted | Literal) else show(s)

    def block(b: Block) -> Block:
        if isinstance(b, Para):
            return replace(b, text=one(b.text))
        if isinstance(b, Table):
            rows = [[one(c) for c in r] for r in b.rows]
            return replace(
                b, headers=[one(h) for h in b.headers], rows=rows, caption=one(b.caption)
            )
        cmds = [[one(c) for c in cs] for cs in b.commands]
        return replace(b, items=[one(i) for i in b.items], commands=cmds)

    return [replace(s, title=one(s.title), blocks=[block(b) for b in s.blocks]) for s in sections]


def title(view: View) -> str:
    vantages = ", ".join(r["vantage"] for r in view.latest)
    rounds = sorted({r["round"] for r in view.runs if r["round"]})
    scope = f"round {', '.join(rounds)}" if rounds else f"{len(view.runs)} run(s)"
    return f"fragscope summary: {scope} ({vantages})"
