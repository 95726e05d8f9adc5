"""Regenerate docs/examples/ (`make examples`): the html and markdown reports of a lab-like
synthetic campaign (vantages clean, censored, lossy; two rounds an hour apart; the censored
vantage's resolver rewrites, blocks and answers special-use names). Writes files.

Until the lab campaign's database is wired in, this is the planted world of the analysis
tests (tests/fixtures/analysis.py), so every figure in the examples is known by hand.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

from analysis import asn
from reports import render
from reports.commands import select_runs, summarize
from tests.fixtures.analysis import STANDARD_PLANTS, T0, Plant, add_dns_world, build_world

GENERATED_AT = "2026-11-28T14:00:00+00:00"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else "docs/examples")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'campaign.sqlite'}"
        w1 = build_world(url, STANDARD_PLANTS)
        add_dns_world(w1.engine, w1.runs, "censored")
        plants = dict(STANDARD_PLANTS)
        plants["lossy"] = Plant("lossy", quic_blocked={0, 1, 2})
        w2 = build_world(
            url,
            plants,
            round_name="r2",
            run_prefix="00000000-0000-4000-9000-",
            start_offset=dt.timedelta(hours=1),
        )
        add_dns_world(w2.engine, w2.runs, "censored")
        runs = select_runs(w1.engine, run="latest", round_name=None, since=T0)
        doc = summarize(w1.engine, runs, mapping=asn.load_lab()).to_dict()
        doc["generated_at"] = GENERATED_AT
        w1.engine.dispose()
        w2.engine.dispose()
    for fmt, name in (("html", "summary.html"), ("markdown", "summary.md")):
        (out / name).write_text(render(doc, fmt), encoding="utf-8")
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
