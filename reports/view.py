"""The view of a Summary shared by every renderer: lookups, formatting, and which charts
the html report draws. Pure: it reads the Summary's JSON form (and the indicator registry's
groups) only, computes no statistic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fragscope.analysis import registry

Doc = dict[str, Any]

# The report's groups come from the indicator registry: the naming and transport sections
# show the indicators of those pillar modules, the headline table those with a headline place.
NAMING_CODES = registry.in_module("naming")
TRANSPORT_CODES = registry.in_module("transport")
HEADLINE_CODES = registry.headline_codes()
# The encrypted-handshake layer (SNI filtering, ECH adoption, ECH interference) has its own
# section and chart; the transport section shows the rest of its module.
HANDSHAKE_CODES = ("T10", "T11", "T12")
HANDSHAKE_TABLES = ("sni_observations", "ech_observations")


# Characters a terminal or a text viewer acts on instead of showing: C0 controls, DEL and
# C1 controls (U+009B is a one-character CSI), the line and paragraph separators, and the
# bidirectional overrides and isolates that reorder what is displayed ("Trojan Source",
# CVE-2021-42574). Newline too: the renderers lay out their own lines.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class Untrusted(str):
    """A string from the network or the database (TXT records, Server headers, naming
    values, owner names, endpoints, labels): every renderer escapes it for its format,
    while the project's own prose is written as it is (docs/reports.md)."""

    __slots__ = ()


class Literal(str):
    """Project text shown exactly as written, markup characters included (a formula):
    markdown sets it as a code span."""

    __slots__ = ()


def visible(s: str) -> str:
    """``s`` with every control character shown as its escape (ESC as the four characters
    ``\\x1b``), so no report can move a cursor, recolour a terminal or reorder text."""
    return _CONTROL.sub(_escape, s)


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c <= 0xFF else f"\\u{c:04x}"


def num(x: float | None, digits: int = 3) -> str:
    """A value as the reports print it everywhere (so the page text matches the JSON)."""
    return "-" if x is None else f"{x:.{digits}f}"


def degenerate(row: Doc) -> bool:
    """A zero-width interval (analysis marks a bootstrap's ``ci_degenerate``): it states no
    precision, since resampling had nothing to vary."""
    low, high = row.get("ci_low"), row.get("ci_high")
    marked = bool((row.get("params") or {}).get("ci_degenerate"))
    return marked or (low is not None and high is not None and high - low <= 0)


def ci(row: Doc) -> str:
    if row.get("ci_low") is None or row.get("ci_high") is None:
        return ""
    interval = f"[{num(row['ci_low'])}, {num(row['ci_high'])}]"
    return f"{interval} degenerate" if degenerate(row) else interval


def short(run_id: str) -> str:
    return run_id[-8:] if len(run_id) > 8 else run_id


@dataclass
class Chart:
    """One chart the html report draws: its kind and the runs it covers."""

    kind: str  # indicators, trend, heatmap, discovery, handshake
    title: str
    run_ids: list[str] = field(default_factory=list)


@dataclass
class View:
    doc: Doc
    runs: list[Doc]
    run_by_id: dict[str, Doc]
    latest: list[Doc]  # the last run of each vantage, in the Summary's run order
    values: dict[tuple[str, str], Doc]  # (run_id, code) -> indicator row

    def value(self, run_id: str, code: str) -> Doc | None:
        return self.values.get((run_id, code))

    def label(self, run_id: str, vantage: str | None = None) -> str:
        """The vantage (and start time when several runs of it are shown); a run outside
        the scope (a control or previous run) is named by its vantage and id tail."""
        r = self.run_by_id.get(run_id)
        if r is None:
            if not run_id:
                return "-"
            return Untrusted(
                f"{vantage} (run {short(run_id)})" if vantage else f"run {short(run_id)}"
            )
        return Untrusted(
            f"{r['vantage']} {r['started_at'][:16]}" if self.multi_run else r["vantage"]
        )

    @property
    def multi_run(self) -> bool:
        return len(self.latest) < len(self.runs)

    def rows_for(self, key: str, run_id: str) -> list[Doc]:
        return [r for r in self.doc.get(key, []) if r["run_id"] == run_id]

    def comparisons(self, kind: str) -> list[Doc]:
        return [c for c in self.doc["comparisons"] if c["kind"] == kind]

    def charts(self) -> list[Chart]:
        return chart_plan(self.doc)

    def versions(self, run_id: str) -> dict[str, int]:
        """Formula version of each indicator with a row in the run."""
        return {i["code"]: i["version"] for i in self.doc["indicators"] if i["run_id"] == run_id}

    def version_change(self, run_id: str, previous: str, code: str) -> list[str]:
        """The indicators behind ``code`` (itself and, for the composite, its pillar
        members) whose formula version differs between two runs, as "N1 v1 -> v2"."""
        before, now = self.versions(previous), self.versions(run_id)
        behind = {code}
        if code == "C2":
            pillars = self.doc["method"]["composite"]["pillars"].values()
            behind |= {m.partition(".")[0] for members in pillars for m in members}
        return [
            f"{c} v{before[c]} -> v{now[c]}"
            for c in sorted(behind)
            if c in before and c in now and before[c] != now[c]
        ]


def build(doc: Doc) -> View:
    runs = list(doc["runs"])
    latest: dict[str, Doc] = {}
    for r in runs:
        latest[r["vantage"]] = r
    order = {r["run_id"]: i for i, r in enumerate(runs)}
    return View(
        doc=doc,
        runs=runs,
        run_by_id={r["run_id"]: r for r in runs},
        latest=sorted(latest.values(), key=lambda r: order[r["run_id"]]),
        values={(i["run_id"], i["code"]): i for i in doc["indicators"]},
    )


def chart_plan(doc: Doc) -> list[Chart]:
    """The charts, in page order: one indicator bar chart per vantage (its latest run with
    any value, vantages in first-seen order); a trend chart when a vantage has two or more
    runs with values; a cross-vantage heat map when two or more vantages have values; the
    QUIC discovery channels when any T6 row carries its channel counts; the encrypted
    handshake when any run has a value of T10 (or its TCP/QUIC split) or T12."""
    with_values = [
        r["run_id"]
        for r in doc["runs"]
        if any(i["run_id"] == r["run_id"] and i["value"] is not None for i in doc["indicators"])
    ]
    vantage_of = {r["run_id"]: r["vantage"] for r in doc["runs"]}
    per_vantage: dict[str, list[str]] = {}
    for rid in with_values:
        per_vantage.setdefault(vantage_of[rid], []).append(rid)
    charts = [
        Chart("indicators", "Indicators with 95% intervals (latest run)", [v[-1]])
        for v in per_vantage.values()
    ]
    if any(len(v) >= 2 for v in per_vantage.values()):
        charts.append(Chart("trend", "Trend over runs", with_values))
    if len(per_vantage) >= 2:
        latest = [v[-1] for v in per_vantage.values()]
        charts.append(Chart("heatmap", "Cross-vantage heat map (latest run per vantage)", latest))
    discovery = [
        i["run_id"]
        for i in doc["indicators"]
        if i["code"] == "T6" and isinstance(i["params"].get("channels"), dict)
    ]
    if discovery:
        charts.append(Chart("discovery", "QUIC discovery channels", discovery))
    if handshake := handshake_runs(doc):
        charts.append(Chart("handshake", "Encrypted handshake: SNI filtering and ECH", handshake))
    return charts


def handshake_bars(row_t10: Doc | None, row_t12: Doc | None) -> list[float | None]:
    """The encrypted-handshake chart's bars for one run: T10 over TCP, T10 over QUIC, T12
    (None where there is no value: the chart marks it, never draws a zero)."""
    split = (row_t10 or {}).get("params") or {}
    return [split.get("tcp"), split.get("quic"), (row_t12 or {}).get("value")]


def handshake_runs(doc: Doc) -> list[str]:
    """Runs, in the Summary's order, with at least one bar of the encrypted-handshake chart."""
    rows = {(i["run_id"], i["code"]): i for i in doc["indicators"] if i["code"] in ("T10", "T12")}
    return [
        r["run_id"]
        for r in doc["runs"]
        if any(
            v is not None
            for v in handshake_bars(rows.get((r["run_id"], "T10")), rows.get((r["run_id"], "T12")))
        )
    ]
