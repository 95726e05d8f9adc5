"""Benchmark of ``indicators compute`` against a plain full scan of the same tables. Does I/O.

Builds a synthetic database of 5,000,000 observation rows shaped like a real run of
campaigns/default.toml (bench._synthetic states the mix and how it is derived): 8 vantages
of one round; per run, dns.query over ~6,900 top-site names + canary sets x 28 resolvers
(one control, Do53/DoT/DoH/DoQ) x A/AAAA/HTTPS with their dns_answers,
whoami queries, N2's TLD SOA queries and DNSSEC canaries with dns.iterative verdicts (about
99.8 % of the observations); naming.resolve over the canaries at 13 endpoints, with
naming_values; transport.tls/quic/quic_vn/path on ~170 pinned targets; the targets table.
Loaded with the stdlib sqlite3 executemany into a migrated database, secondary indexes
rebuilt after the load. Then, each in a child process and alternating (scan, compute, scan),
times (a) one plain full scan of every table compute reads: ``SELECT run_id, target,
count(*) FROM t NOT INDEXED GROUP BY run_id, target`` (children per parent observation),
fetched, and (b) ``indicators compute --round bench`` (facts, bootstrap, store). Prints one
JSON object (wall and CPU seconds of both sides, load average, the row mix); exit 1 when
compute costs more than 2 scans (wall, against the mean of the two scans) or its peak RSS
is 2 GB or more. Then (unless --no-duckdb) the database is exported as Parquet
(``db export --round bench``) and ``indicators compute --from-parquet``'s path computes
every indicator with DuckDB over it: ``duckdb_equals_sqlite`` is pass when every value
(value, n, interval, status, reason, params) equals SQLite's, else miss (exit 1).
``--parquet-rows N`` runs the DuckDB bench at scale instead (bench._parquet_synthetic).
usage: python -m bench.indicators [--rows N] [--keep DIR [--reuse]] [--no-duckdb]
       python -m bench.indicators --parquet-rows 50000000 [--keep DIR [--reuse]]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import _synthetic as synthetic

ROWS = 5_000_000
# Issue 22: the SQLite/PostgreSQL path at <= 2 full scans' worth (it was 4.91).
MAX_SCANS = 2.0
MAX_RSS_BYTES = 2 * 1024**3
VANTAGES = ("clean", "censored", "lossy", "distant", "v5", "v6", "v7", "v8")
T0 = synthetic.T0


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]


def _rows(
    table: str, cols: list[str], runs: list[tuple[str, str, int]], targets: int, first_id: int
) -> Iterator[tuple[Any, ...]]:
    """Transport rows of one table in column order; deterministic pseudo-random outcomes.

    As campaigns/default.toml plans them: each target is one pinned address (7 in 9 IPv4),
    one task per probe (one row), and the path probe's two tests."""
    pos = {c: i for i, c in enumerate(cols)}
    rid = first_id
    base: list[Any] = [None] * len(cols)
    for run_id, vid, vi in runs:
        for t in range(targets):
            target = f"t{t}.bench.test"
            if t % 9 < 7:
                addr, ipv = f"10.{99 + t % 50}.{t // 250 % 250}.{t % 250}", 4
            else:
                addr, ipv = f"fd99::{t:x}", 6
            for k in range(2 if table == "path_observations" else 1):
                rid += 1
                row = list(base)
                row[pos["id"]] = rid
                row[pos["run_id"]] = run_id
                row[pos["vantage_id"]] = vid
                row[pos["task_key"]] = f"{table}|{target}@{addr}|-|{k}|0"
                row[pos["attempt"]] = 0
                row[pos["probe"]] = table
                row[pos["probe_version"]] = 1
                row[pos["target"]] = target
                row[pos["endpoint"]] = addr
                row[pos["started_at"]] = T0
                row[pos["duration_ms"]] = 1.0
                row[pos["address"]] = addr
                row[pos["port"]] = 443
                row[pos["ip_version"]] = ipv
                # Vantage vi blocks QUIC to targets t % 8 < vi/2; 1 in 7 flaky attempts.
                blocked = t % 8 < vi // 2
                flaky = (t + k + vi) % 7 == 0
                if table == "tls_observations":
                    if flaky:
                        row[pos["failure"]] = "generic_timeout_error"
                        row[pos["failed_operation"]] = "connect"
                    else:
                        row[pos["connect_ms"]] = 1.0
                        row[pos["tls_version"]] = "TLSv1.3" if t % 5 else "TLSv1.2"
                        row[pos["alpn"]] = "h2"
                        row[pos["alt_svc_h3"]] = int(t % 3 != 0)
                elif table == "quic_observations":
                    row[pos["offered_versions"]] = "[1]"
                    if blocked or flaky or t % 3 == 0:
                        row[pos["stage"]] = "initial_sent"
                        row[pos["failure"]] = "quic_no_reply"
                        row[pos["failed_operation"]] = "quic_handshake"
                    else:
                        row[pos["stage"]] = "http_done"
                        row[pos["quic_version"]] = 1
                elif table == "quic_vn_observations":
                    row[pos["sent_version"]] = 0x1A2A3A4A
                    row[pos["datagram_size"]] = 1200
                    row[pos["dcid"]] = f"{t:016x}"
                    row[pos["scid"]] = f"{rid:016x}"
                    if blocked or t % 3 == 0:
                        row[pos["reply"]] = "none"
                    else:
                        row[pos["reply"]] = "vn"
                        row[pos["has_v1"]] = 1
                        row[pos["has_v2"]] = int(t % 2 == 0)
                        row[pos["has_grease"]] = 0
                else:
                    row[pos["test"]] = ("tcp_ecn", "tcp_exp_option")[k]
                    row[pos["outcome"]] = "broken" if (t + vi) % 11 == 0 else "works"
                vn_none = table == "quic_vn_observations" and row[pos["reply"]] == "none"
                ok = row[pos["failure"]] is None and not vn_none
                for col, value in _detail(table, ok, t).items():
                    row[pos[col]] = value
                yield tuple(row)


_CERT = {
    "cert_sha256": "5f" * 32,
    "chain_sha256": json.dumps(["5f" * 32, "a7" * 32]),
    "cert_issuer": "CN=fragscope lab intermediate CA,O=fragscope lab",
    "cert_not_before": "2026-11-01 00:00:00.000000",
    "cert_not_after": "2027-02-01 00:00:00.000000",
    "cert_name_match": 1,
    "cert_valid": 1,
}


def _detail(table: str, ok: bool, t: int) -> dict[str, Any]:
    """The columns a real probe fills beside the ones the indicators read (certificate,
    HTTP, timing, failure detail), so rows are as wide as the lab's and a scan reads as
    many pages as it would there."""
    name = f"t{t}.bench.test"
    if table == "path_observations":
        return {
            "source_port": 40000 + t % 20000,
            "baseline": "connected",
            "rtt_ms": 1.5,
            "experiment": "connected" if ok else "timeout",
        }
    if not ok:
        return {"failure_detail": f"timed out after 5.0 s waiting for {name}:443 (attempt)"}
    if table == "quic_vn_observations":
        return {
            "rtt_ms": 1.2,
            "cid_echo_ok": 1,
            "n_versions": 3,
            "raw_reply": b"\x80" * 40,
            "lists_sent_version": 0,
        }
    out = {
        **_CERT,
        "sni": name,
        "cert_subject": f"CN={name}",
        "handshake_ms": 2.5,
        "alpn_offered": '["h2", "http/1.1"]' if table == "tls_observations" else '["h3"]',
        "cipher": "TLS_AES_128_GCM_SHA256",
        "tls_group": "x25519",
        "http_status": 200,
        "http_ms": 3.5,
        "http_server": "Caddy",
    }
    if table == "quic_observations":
        out |= {"alpn": "h3", "quic_version_label": "v1"}
    else:
        out |= {
            "http_version": "HTTP/2",
            "alt_svc_raw": 'h3=":443"; ma=2592000',
            "alt_svc": '[{"alpn": "h3", "host": "", "port": 443, "ma": 2592000}]',
        }
    return out


TRANSPORT = ("tls_observations", "quic_observations", "quic_vn_observations", "path_observations")
# Every table compute reads (the scan peer reads them all).
OBSERVATIONS = (*TRANSPORT, "dns_observations", "naming_observations")
TABLES = (*TRANSPORT, "dns_observations", "dns_answers", "naming_observations", "targets")
LOADED = (*TABLES, "naming_values")


class _Loader:
    """executemany of one table's row dicts, in chunks (children after their parents)."""

    def __init__(self, conn: sqlite3.Connection, table: str) -> None:
        cols = _columns(conn, table)
        self.conn, self.to_tuple, self.rows = conn, synthetic.columns_of(cols), 0
        names = ", ".join(f'"{c}"' for c in cols)
        self.sql = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(cols))})'
        self.buffer: list[tuple[Any, ...]] = []

    def add(self, row: dict[str, Any]) -> None:
        self.buffer.append(self.to_tuple(row))

    def flush(self) -> None:
        self.conn.executemany(self.sql, self.buffer)
        self.rows += len(self.buffer)
        self.buffer.clear()


def _load_pairs(
    conn: sqlite3.Connection,
    parent: str,
    child: str,
    pairs: Iterator[tuple[dict[str, Any], list[dict[str, Any]]]],
) -> tuple[int, int]:
    p, c = _Loader(conn, parent), _Loader(conn, child)
    for obs, children in pairs:
        p.add(obs)
        for row in children:
            c.add(row)
        if len(p.buffer) >= 50_000:
            p.flush()
            c.flush()
    p.flush()
    c.flush()
    return p.rows, c.rows


def mix(rows: int, resolvers: int) -> dict[str, int]:
    """How many names of each list one run gets for a budget of ``rows`` observations
    over all vantages: copies of the default campaign's per-run plan (bench._synthetic)."""
    per_copy = (
        (synthetic.TOP_SITES + synthetic.CANARIES + 2) * resolvers * len(synthetic.QTYPES)
        + synthetic.NAMING_TASKS
        + 3 * synthetic.TRANSPORT_TARGETS
        + 2 * synthetic.TRANSPORT_TARGETS  # transport.path's two tests
    )
    # Asked once per run whatever the scale: whoami names and N2's TLDs at every resolver.
    fixed = (len(synthetic.WHOAMI) + len(synthetic.TLDS)) * resolvers
    copies = max(0.0, rows / len(VANTAGES) - fixed) / per_copy
    return {
        "top_sites": max(1, round(synthetic.TOP_SITES * copies)),
        "canary_sets": max(1, round(copies)),
        "transport_targets": max(1, round(synthetic.TRANSPORT_TARGETS * copies)),
    }


def build(path: Path, rows: int) -> dict[str, Any]:
    from fragscope.db import migrate
    from fragscope.db.connection import make_engine
    from fragscope.db.ids import target_id, vantage_id

    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    resolvers, naming = synthetic.panel()
    plan = mix(rows, len(resolvers))
    t0 = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")  # 256 MiB: the unique index stays in cache
    marks_t = ", ".join("?" * len(LOADED))
    # Secondary indexes are rebuilt after the load (a sorted build is far cheaper than
    # 5 million random inserts into each b-tree).
    indexes = conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({marks_t})",
        LOADED,
    ).fetchall()
    for name, _sql in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    runs = []
    for vi, label in enumerate(VANTAGES):
        vid = vantage_id(label, "bench")
        run_id = f"00000000-0000-4000-8000-{vi:012d}"
        conn.execute(
            "INSERT INTO vantages (id, label, hostname, egress_addresses, created_at) "
            "VALUES (?, ?, 'bench', '[]', ?)",
            (vid, label, T0),
        )
        conn.execute(
            "INSERT INTO runs (id, campaign, round, vantage_id, config, software, seed, "
            "started_at, status, counts) VALUES (?, 'bench', 'bench', ?, '{}', '{}', 1, ?, "
            "'finished', '{}')",
            (run_id, vid, f"2026-11-28 12:{vi:02d}:00.000000"),
        )
        runs.append((run_id, vid, vi))
    sets = plan["canary_sets"]
    names, secure, bogus = synthetic.dns_names(plan["top_sites"], sets)
    counts: dict[str, int] = {}
    ids = synthetic.Ids()
    for run in runs:
        pairs = synthetic.dns_rows(run, resolvers, names, ids, secure=secure, bogus=bogus)
        for table, n in zip(
            ("dns_observations", "dns_answers"),
            _load_pairs(conn, "dns_observations", "dns_answers", pairs),
            strict=True,
        ):
            counts[table] = counts.get(table, 0) + n
        pairs = synthetic.naming_rows(run, naming, sets, ids)
        for table, n in zip(
            ("naming_observations", "naming_values"),
            _load_pairs(conn, "naming_observations", "naming_values", pairs),
            strict=True,
        ):
            counts[table] = counts.get(table, 0) + n
        conn.commit()
    for table in TRANSPORT:
        loader = _Loader(conn, table)
        cur = conn.executemany(
            loader.sql,
            _rows(table, _columns(conn, table), runs, plan["transport_targets"], ids.obs),
        )
        ids.obs += cur.rowcount
        counts[table] = cur.rowcount
        conn.commit()
    lists = [("top-sites", "icann", "test", n) for n, k in names if k == "top"]
    lists += [("canaries", "mixed", "test", n) for n, k in names if k != "top"]
    lists += [("whoami", "icann", "control", n) for n, _t in synthetic.WHOAMI]
    lists += [("quic-anycast", "icann", "test", f"t{t}.bench.test")
              for t in range(plan["transport_targets"])]  # fmt: skip
    conn.executemany(
        "INSERT INTO targets (id, run_id, name, list, rank, namespace, role) "
        "VALUES (?, ?, ?, ?, NULL, ?, ?)",
        (
            (target_id(run_id, lst, name), run_id, name, lst, ns, role)
            for run_id, _vid, _vi in runs
            for lst, ns, role, name in lists
        ),
    )
    counts["targets"] = len(lists) * len(runs)
    for _name, sql in indexes:
        conn.execute(sql)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    observations = sum(counts[t] for t in OBSERVATIONS)
    return {
        "rows": observations,
        "mix": plan,
        "table_rows": counts,
        "build_s": time.perf_counter() - t0,
    }


# The peer reads every row of every table compute reads (NOT INDEXED: a full table scan
# whatever indexes exist, never a count answered from a small index) and groups it per
# (run, target) as compute does, so the two sides pay for the same pages and one sort.
# Child tables have no run or target: they are grouped per parent observation.
SCAN_GROUPS = {t: "run_id, target" for t in (*TRANSPORT, "dns_observations")} | {
    "naming_observations": "run_id, target",
    "dns_answers": "observation_id",
    "targets": "run_id, name",
}
_SCAN = """
import json, sqlite3, sys, time
t0, c0 = time.perf_counter(), time.process_time()
conn = sqlite3.connect(sys.argv[1])
groups = 0
for table, by in json.loads(sys.argv[2]).items():
    rows = conn.execute(f"SELECT {by}, count(*) FROM {table} NOT INDEXED "
                        f"GROUP BY {by}").fetchall()
    groups += len(rows)
print(json.dumps({"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                  "groups": groups}))
"""

# Both computations write every estimate (value, n, interval, status, reason, params) to
# the file argv[2], so the parent compares DuckDB's with SQLite's.
_DUMP = """
def dump(c, path):
    from fragscope.analysis.compute import jsonable
    rows = sorted([e.run_id, e.code, e.version, e.value, e.n, e.ci_low, e.ci_high, e.status,
                   e.reason, jsonable(e.params)] for e in c.estimates)
    with open(path, "w") as fh:
        json.dump(rows, fh)
"""

_COMPUTE = (
    """
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
from fragscope.analysis import asn, scope
from fragscope.analysis.compute import compute, store
from fragscope.db.connection import make_engine
engine = make_engine(sys.argv[1])
runs = scope.select_runs(engine, round_name="bench")
c = compute(engine, runs, mapping=asn.load_lab())
written = store(engine, c)
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
"""
    + _DUMP
    + """
dump(c, sys.argv[2])
print(json.dumps({"seconds": seconds, "cpu": cpu, "values": written,
                  "withheld": sum(e.value is None for e in c.estimates)}))
"""
)

_EXPORT = """
import json, sys, time
t0 = time.perf_counter()
from fragscope.db.connection import make_engine
from fragscope.db.export import export
files = export(make_engine(sys.argv[1]), sys.argv[2], fmt="parquet", round_name="bench")
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": sum(files.values())}))
"""

# ``indicators compute --from-parquet``: the same analysis on DuckDB over the export.
_DUCKDB_COMPUTE = (
    """
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
from fragscope.analysis import asn, scope
from fragscope.analysis.compute import compute
from fragscope.analysis.dataset import open_dataset
engine = open_dataset(sys.argv[1])
c = compute(engine, scope.select_runs(engine, round_name="bench"), mapping=asn.load_lab())
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
"""
    + _DUMP
    + """
if len(sys.argv) > 2:
    dump(c, sys.argv[2])
print(json.dumps({"seconds": seconds, "cpu": cpu, "values": len(c.estimates),
                  "withheld": sum(e.value is None for e in c.estimates)}))
"""
)


def _child(code: str, *args: str) -> tuple[dict[str, Any], int]:
    """Run ``code`` in a child; its JSON and its peak RSS in bytes (Linux: ru_maxrss KiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return json.loads(out.stdout.strip().splitlines()[-1]), max(after, before) * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.indicators")
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--keep", default=None, help="directory to keep the database in")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --keep: reuse a database built there before (skips the ~3 min build)",
    )
    parser.add_argument(
        "--no-duckdb",
        dest="duckdb",
        action="store_false",
        help="skip the Parquet export and the DuckDB computation compared with SQLite's",
    )
    parser.add_argument(
        "--parquet-rows",
        type=int,
        default=None,
        help="instead: the DuckDB bench over this many synthetic DNS rows written as "
        "Parquet directly (bench._parquet_synthetic), e.g. 50000000",
    )
    args = parser.parse_args(argv if argv is not None else [])
    if args.parquet_rows is not None:
        from bench import _parquet_synthetic

        return _parquet_synthetic.bench(args.parquet_rows, keep=args.keep, reuse=args.reuse)
    with tempfile.TemporaryDirectory(prefix="fragscope-bench-") as tmp:
        path = Path(args.keep or tmp) / "bench-indicators.sqlite"
        if args.reuse and args.keep and path.exists():
            with sqlite3.connect(path) as conn:
                rows = sum(
                    conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in OBSERVATIONS
                )
                conn.execute("DELETE FROM indicator_values")
            built = {"rows": rows, "reused": str(path)}
        else:
            if path.exists():
                path.unlink()
            built = build(path, args.rows)
        # The sides alternate (scan, compute, scan) on a shared machine; the ratio is to
        # the mean of the two scans, and CPU time is reported beside wall time.
        load_before = os.getloadavg()
        scan1, _ = _child(_SCAN, str(path), json.dumps(SCAN_GROUPS))
        sqlite_values = Path(tmp) / "sqlite-values.json"
        comp, comp_rss = _child(_COMPUTE, f"sqlite:///{path}", str(sqlite_values))
        scan2, _ = _child(_SCAN, str(path), json.dumps(SCAN_GROUPS))
        duck = _duckdb_side(path, Path(tmp), sqlite_values) if args.duckdb else {}
        scan_s = (scan1["seconds"] + scan2["seconds"]) / 2
        scan_cpu = (scan1["cpu"] + scan2["cpu"]) / 2
        ratio = comp["seconds"] / scan_s
        result = {
            "benchmark": "indicators",
            **built,
            "scan_s": [round(scan1["seconds"], 3), round(scan2["seconds"], 3)],
            "scan_cpu_s": [round(scan1["cpu"], 3), round(scan2["cpu"], 3)],
            "scan_groups": scan1["groups"],
            "compute_s": round(comp["seconds"], 3),
            "compute_cpu_s": round(comp["cpu"], 3),
            "compute_values": comp["values"],
            "ratio_compute_per_scan": round(ratio, 2),
            "ratio_cpu": round(comp["cpu"] / scan_cpu, 2),
            "load_average": [round(x, 2) for x in load_before + os.getloadavg()],
            "target_ratio_max": MAX_SCANS,
            "scans_worth": "pass" if ratio <= MAX_SCANS else "miss",
            "compute_peak_rss_mb": round(comp_rss / 2**20, 1),
            "rss_budget_mb": MAX_RSS_BYTES // 2**20,
            "db_mb": round(os.path.getsize(path) / 2**20, 1),
            **duck,
        }
        print(json.dumps(result, indent=2))
        same = duck.get("duckdb_equals_sqlite", "pass") == "pass"
        return 0 if ratio <= MAX_SCANS and comp_rss < MAX_RSS_BYTES and same else 1


def _duckdb_side(path: Path, tmp: Path, sqlite_values: Path) -> dict[str, Any]:
    """Export the database as Parquet, compute over it with DuckDB, compare every value."""
    out, values = tmp / "parquet", tmp / "duckdb-values.json"
    from bench._parquet_synthetic import run_sampled

    exported, _ = run_sampled(_EXPORT, f"sqlite:///{path}", str(out))
    # Sampled from /proc: RUSAGE_CHILDREN's peak would be the largest child's so far.
    duck, duck_rss = run_sampled(_DUCKDB_COMPUTE, str(out), str(values))
    same = json.loads(values.read_text()) == json.loads(sqlite_values.read_text())
    return {
        "export_s": round(exported["seconds"], 3),
        "duckdb_compute_s": round(duck["seconds"], 3),
        "duckdb_compute_peak_rss_mb": round(duck_rss / 2**20, 1),
        "duckdb_values": duck["values"],
        "duckdb_equals_sqlite": "pass" if same else "miss",
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
