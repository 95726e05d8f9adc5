"""A run's summary: per probe, per failure, per endpoint; rendered as text, markdown, html or json.

Reads the database (GROUP BY in SQL); the renderers compute nothing the JSON does not
hold. HTML escapes every string from the data (targets, endpoints and failure details can
be attacker-controlled). The reports package replaces this with the full report.
"""

from __future__ import annotations

import html
import json
from typing import Any

from sqlalchemy import Engine, inspect, select, text

from db.models import Base, Run, Vantage
from probes.engine.rows import ENVELOPE

FORMATS = ("text", "markdown", "html", "json")


class NoSuchRun(LookupError):
    pass


def observation_tables() -> list[str]:
    """Every table of the schema that carries the observation envelope."""
    need = set(ENVELOPE)
    return sorted(
        name for name, table in Base.metadata.tables.items() if need <= set(table.columns.keys())
    )


def resolve_run(engine: Engine, run: str) -> str:
    """``latest`` or a UUID (or unique prefix) -> the run id."""
    with engine.connect() as conn:
        if run == "latest":
            rid = conn.execute(select(Run.id).order_by(Run.started_at.desc()).limit(1)).scalar()
            if rid is None:
                raise NoSuchRun("the database holds no run")
            return str(rid)
        rows = conn.execute(select(Run.id).where(Run.id.like(f"{run}%"))).scalars().all()
    if len(rows) == 1:
        return str(rows[0])
    raise NoSuchRun(f"no run {run!r}" if not rows else f"run prefix {run!r} is ambiguous")


def build_summary(engine: Engine, run_id: str) -> dict[str, Any]:
    """Everything the renderers show, as JSON-ready data."""
    with engine.connect() as conn:
        run = conn.execute(select(Run.__table__).where(Run.id == run_id)).mappings().one()
        vantage = (
            conn.execute(select(Vantage.__table__).where(Vantage.id == run["vantage_id"]))
            .mappings()
            .first()
        )
        by_probe = [
            {"probe": p, "failure": f, "tasks": n, "attempts": int(a or 0)}
            for p, f, n, a in conn.execute(
                text(
                    "SELECT probe, failure, COUNT(*), SUM(attempts) FROM tasks_done "
                    "WHERE run_id = :r GROUP BY probe, failure ORDER BY probe, failure"
                ),
                {"r": run_id},
            )
        ]
        existing = set(inspect(conn).get_table_names())
        by_endpoint: list[dict[str, Any]] = []
        for table in observation_tables():
            if table not in existing:
                continue
            for probe, endpoint, failure, n, avg_ms in conn.execute(
                text(
                    f'SELECT probe, endpoint, failure, COUNT(*), AVG(duration_ms) FROM "{table}" '
                    "WHERE run_id = :r GROUP BY probe, endpoint, failure "
                    "ORDER BY probe, endpoint, failure"
                ),
                {"r": run_id},
            ):
                by_endpoint.append(
                    {
                        "table": table,
                        "probe": probe,
                        "endpoint": endpoint,
                        "failure": failure,
                        "attempts": n,
                        "mean_ms": round(avg_ms, 3) if avg_ms is not None else None,
                    }
                )
        targets = conn.execute(
            text("SELECT COUNT(*) FROM targets WHERE run_id = :r"), {"r": run_id}
        ).scalar()
    probes: dict[str, dict[str, Any]] = {}
    for row in by_probe:
        entry = probes.setdefault(
            row["probe"], {"tasks": 0, "ok": 0, "attempts": 0, "failures": {}}
        )
        entry["tasks"] += row["tasks"]
        entry["attempts"] += row["attempts"]
        if row["failure"] is None:
            entry["ok"] += row["tasks"]
        else:
            entry["failures"][row["failure"]] = row["tasks"]
    failures: dict[str, int] = {}
    for row in by_probe:
        if row["failure"] is not None:
            failures[row["failure"]] = failures.get(row["failure"], 0) + row["tasks"]
    return {
        "run": {
            "id": run["id"],
            "campaign": run["campaign"],
            "round": run["round"],
            "vantage": vantage["label"] if vantage else None,
            "hostname": vantage["hostname"] if vantage else None,
            "status": run["status"],
            "exit_code": run["exit_code"],
            "started_at": str(run["started_at"]),
            "finished_at": str(run["finished_at"]) if run["finished_at"] else None,
            "targets": targets,
        },
        "probes": probes,
        "failures": dict(sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))),
        "endpoints": by_endpoint,
    }


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _rows(summary: dict[str, Any]) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    probes = [
        [name, str(p["tasks"]), str(p["ok"]), _pct(p["ok"], p["tasks"]), str(p["attempts"])]
        for name, p in summary["probes"].items()
    ]
    total = sum(p["tasks"] for p in summary["probes"].values())
    failures = [[f, str(n), _pct(n, total)] for f, n in summary["failures"].items()]
    endpoints = [
        [
            e["probe"],
            e["endpoint"] or "-",
            e["failure"] or "ok",
            str(e["attempts"]),
            f"{e['mean_ms']:.2f}" if e["mean_ms"] is not None else "-",
        ]
        for e in summary["endpoints"]
    ]
    return probes, failures, endpoints


HEADERS = (
    ["probe", "tasks", "ok", "ok %", "attempts"],
    ["failure", "tasks", "share"],
    ["probe", "endpoint", "outcome", "attempts", "mean ms"],
)
TITLES = ("Per probe", "Per failure", "Per endpoint")


def _run_lines(summary: dict[str, Any]) -> list[tuple[str, str]]:
    r = summary["run"]
    return [
        ("run", r["id"]),
        ("campaign", r["campaign"]),
        ("round", r["round"] or "-"),
        ("vantage", f"{r['vantage']} ({r['hostname']})"),
        ("status", f"{r['status']} (exit {r['exit_code']})"),
        ("started", r["started_at"]),
        ("finished", r["finished_at"] or "-"),
        ("targets", str(r["targets"])),
    ]


def render(summary: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(summary, indent=2, sort_keys=False) + "\n"
    tables = _rows(summary)
    if fmt == "text":
        out = [f"{k:<9} {v}" for k, v in _run_lines(summary)]
        for title, header, rows in zip(TITLES, HEADERS, tables, strict=True):
            out += ["", title, _text_table(header, rows)]
        return "\n".join(out) + "\n"
    if fmt == "markdown":
        out = [f"# Run {summary['run']['id']}", ""]
        out += [f"- **{k}**: {_md(v)}" for k, v in _run_lines(summary)]
        for title, header, rows in zip(TITLES, HEADERS, tables, strict=True):
            out += ["", f"## {title}", "", "| " + " | ".join(header) + " |"]
            out.append("|" + "|".join("---" for _ in header) + "|")
            out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
        return "\n".join(out) + "\n"
    if fmt == "html":
        e = html.escape
        out = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>fragscope run {e(summary['run']['id'])}</title>",
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}</style>",
            "</head><body>",
            f"<h1>Run {e(summary['run']['id'])}</h1>",
            "<dl>",
        ]
        out += [f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in _run_lines(summary)]
        out.append("</dl>")
        for title, header, rows in zip(TITLES, HEADERS, tables, strict=True):
            out.append(f"<h2>{e(title)}</h2><table><thead><tr>")
            out += [f"<th>{e(h)}</th>" for h in header]
            out.append("</tr></thead><tbody>")
            out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
            out.append("</tbody></table>")
        out.append("</body></html>")
        return "\n".join(out) + "\n"
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _md(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return "  (none)"
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)
