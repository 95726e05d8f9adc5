"""The html report's charts as inline SVG strings (matplotlib). No I/O beyond memory.

``svg.hashsalt`` is fixed and the date left out so the same Summary gives the same bytes
(golden files); text stays text (``svg.fonttype = none``) so the page text holds the labels,
with control characters shown as escapes (view.visible).
"""

from __future__ import annotations

import io
import re
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from fragscope.reports.view import Chart, View, handshake_bars, visible

HASHSALT = "fragscope-reports"
_STYLE: dict[str, Any] = {
    "svg.hashsalt": HASHSALT,
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_PROLOG = re.compile(r"^.*?(?=<svg)", re.S)


def _svg(fig: Figure, title: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Title": title})
    plt.close(fig)
    # Inline SVG needs neither the XML declaration nor the DOCTYPE (which names a URL).
    return _PROLOG.sub("", buf.getvalue(), count=1).strip()


def _indicators(view: View, chart: Chart) -> str:
    run_id = chart.run_ids[0]
    rows = [i for i in view.doc["indicators"] if i["run_id"] == run_id and i["value"] is not None]
    codes = [r["code"] for r in rows]
    vals = np.array([r["value"] for r in rows])
    lo = np.array([r["ci_low"] if r["ci_low"] is not None else r["value"] for r in rows])
    hi = np.array([r["ci_high"] if r["ci_high"] is not None else r["value"] for r in rows])
    fig, ax = plt.subplots(figsize=(6.4, 0.28 * len(rows) + 1.0))
    y = np.arange(len(rows))[::-1]
    ax.barh(y, vals, color="#4c78a8", height=0.6)
    ax.errorbar(vals, y, xerr=[vals - lo, hi - vals], fmt="none", ecolor="#222", capsize=2)
    ax.set_yticks(y, codes)
    ax.set_xlim(0, 1)
    ax.set_xlabel("value (higher = more fragmented), 95% interval")
    ax.set_title(f"{visible(view.label(run_id))}: indicators")
    fig.tight_layout()
    return _svg(fig, chart.title)


def _trend(view: View, chart: Chart) -> str:
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    series: dict[str, list[tuple[int, float, str]]] = {}
    order = {r["run_id"]: n for n, r in enumerate(view.runs)}
    for run_id in chart.run_ids:
        row = view.value(run_id, "C2")
        if row is not None and row["value"] is not None:
            vantage = view.run_by_id[run_id]["vantage"]
            series.setdefault(vantage, []).append((order[run_id], row["value"], run_id))
    for vantage, pts in sorted(series.items()):
        # A line joins two runs only when the formulas behind C2 are the same versions;
        # a change of version breaks the line and is named on the chart.
        segments: list[list[tuple[int, float]]] = [[]]
        for n, (x, y, run_id) in enumerate(pts):
            changed = view.version_change(run_id, pts[n - 1][2], "C2") if n else []
            if changed:
                segments.append([])
                ax.axvline(x - 0.5, color="#999", linestyle=":", linewidth=1)
                ax.annotate(
                    "versions: " + "; ".join(changed),
                    (x - 0.5, 0.97),
                    fontsize=6,
                    rotation=90,
                    va="top",
                    ha="right",
                )
            segments[-1].append((x, y))
        colour = None
        for seg in segments:
            xs, ys = zip(*seg, strict=True)
            (line,) = ax.plot(
                xs, ys, marker="o", color=colour, label=None if colour else visible(vantage)
            )
            colour = line.get_color()
    ax.set_xticks(range(len(view.runs)), [view.runs[i]["started_at"][5:16] for i in order.values()])
    ax.tick_params(axis="x", labelrotation=30)
    ax.set_ylim(0, 1)
    ax.set_ylabel("C2 (AFI)")
    ax.set_title("Architectural Fragmentation Index over runs")
    if series:
        ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return _svg(fig, chart.title)


def _heatmap(view: View, chart: Chart) -> str:
    codes = [
        c
        for c in dict.fromkeys(i["code"] for i in view.doc["indicators"])
        if any((view.value(r, c) or {}).get("value") is not None for r in chart.run_ids)
    ]
    grid = np.full((len(chart.run_ids), len(codes)), np.nan)
    for a, run_id in enumerate(chart.run_ids):
        for b, code in enumerate(codes):
            row = view.value(run_id, code)
            if row is not None and row["value"] is not None:
                grid[a, b] = row["value"]
    fig, ax = plt.subplots(figsize=(0.42 * len(codes) + 1.8, 0.45 * len(chart.run_ids) + 1.2))
    im = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(codes)), codes)
    vantages = [visible(view.run_by_id[r]["vantage"]) for r in chart.run_ids]
    ax.set_yticks(range(len(chart.run_ids)), vantages)
    for (a, b), v in np.ndenumerate(grid):
        ax.text(
            b,
            a,
            "–" if np.isnan(v) else f"{v:.2f}",
            ha="center",
            va="center",
            fontsize=6,
            color="white" if not np.isnan(v) and v < 0.6 else "black",
        )
    fig.colorbar(im, ax=ax, fraction=0.04)
    ax.set_title("Indicator values by vantage")
    fig.tight_layout()
    return _svg(fig, chart.title)


def _discovery(view: View, chart: Chart) -> str:
    keys = [
        ("alt_svc", "Alt-Svc h3"),
        ("https_rr", "HTTPS RR h3"),
        ("quic", "QUIC answers"),
        ("alt_svc_and_quic", "Alt-Svc and QUIC"),
    ]
    fig, ax = plt.subplots(figsize=(8.0, 3.0))
    width = 0.8 / max(1, len(chart.run_ids))
    for n, run_id in enumerate(chart.run_ids):
        row = view.value(run_id, "T6")
        channels = row["params"]["channels"] if row else {}
        vals = [channels.get(k) or 0 for k, _ in keys]
        ax.bar(np.arange(len(keys)) + n * width, vals, width, label=visible(view.label(run_id)))
    ax.set_xticks(np.arange(len(keys)) + 0.4 - width / 2, [t for _, t in keys])
    ax.set_ylabel("targets")
    ax.set_title("QUIC discovery channels")
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return _svg(fig, chart.title)


def _handshake(view: View, chart: Chart) -> str:
    """Grouped bars per vantage: T10 over TCP+TLS, T10 over QUIC, T12. A missing value is
    marked "n/a" above an empty slot, so no vantage reads as 0 for lack of data."""
    names = ["T10 TCP", "T10 QUIC", "T12 ECH"]
    fig, ax = plt.subplots(figsize=(8.0, 3.0))
    width = 0.8 / max(1, len(chart.run_ids))
    for n, run_id in enumerate(chart.run_ids):
        bars = handshake_bars(view.value(run_id, "T10"), view.value(run_id, "T12"))
        xs = np.arange(len(names)) + n * width
        drawn = ax.bar(
            xs,
            [0.0 if v is None else v for v in bars],
            width,
            label=visible(view.label(run_id)),
        )
        for x, v, rect in zip(xs, bars, drawn, strict=True):
            ax.annotate(
                "n/a" if v is None else f"{v:.2f}",
                (x, rect.get_height()),
                ha="center",
                va="bottom",
                fontsize=6,
            )
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("share of tests")
    ax.set_title("Encrypted handshake: SNI filtering (T10) and ECH interference (T12)")
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return _svg(fig, chart.title)


_DRAW = {
    "indicators": _indicators,
    "trend": _trend,
    "heatmap": _heatmap,
    "discovery": _discovery,
    "handshake": _handshake,
}


def render(view: View) -> list[tuple[str, str]]:
    """(title, inline SVG) for every chart of the plan, in page order."""
    with matplotlib.rc_context(_STYLE):  # type: ignore[arg-type]
        return [(c.title, _DRAW[c.kind](view, c)) for c in view.charts()]
