"""The DuckDB indicators bench at scale: tens of millions of synthetic DNS rows written as a
Parquet export directly by DuckDB SQL (no database on the way), then every indicator
computed over them by ``indicators compute --from-parquet``'s code path
(analysis/dataset.py), against a DuckDB full scan of the same files. Does I/O (files,
child processes).

The shape is bench.indicators' (bench._synthetic states the mix): 8 vantages of one round;
per run the default campaign's dns.query over top-site names and canary sets x 28 resolvers
x A/AAAA/HTTPS, N2's TLD SOA queries, the whoami names and the DNSSEC canaries with their
dns.iterative verdicts; about 99.8 % of the rows. The choices bench._synthetic makes in
Python with a keyed hash (which names resolve, which resolvers rewrite or time out, how
many addresses, CNAMEs and RRSIGs an answer has) are made here in SQL with DuckDB's
``hash()``, in the same proportions; the small rest (naming.resolve, transport, targets)
comes from bench._synthetic's and bench.indicators' own generators.

Prints one JSON object: build, compute and scan seconds, the compute's peak RSS, and
pass/miss for peak RSS < 1.5 GB and compute <= 2 scans' worth (wall, against the mean of
two scans). Exit 1 on a miss. The compute child is killed above ``RSS_KILL_BYTES``, so a
regression cannot exhaust a shared machine: that is a miss too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import _synthetic as synthetic

MAX_SCANS = 2.0
MAX_RSS_BYTES = int(1.5 * 1024**3)
RSS_KILL_BYTES = 3 * 1024**3
ROUND = "bench"
VANTAGES = ("clean", "censored", "lossy", "distant", "v5", "v6", "v7", "v8")


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# One run's dns.query rows: names x resolvers x qtypes, a timed-out first attempt retried
# (attempt 1) where bench._synthetic retries, planted rewrites, NXDOMAIN rewriting, DoQ
# blocked at the censored-like vantages. Columns as dns.query writes them.
_QUERIES = """
CREATE TEMP TABLE q AS
WITH base AS (
  SELECT r.run_id, r.vantage_id, r.vi, n.name, n.kind, n.exists_, n.tld, s.*, t.qtype,
         hash(n.name, s.idx, t.qtype, r.vi) % 100 AS slow_h,
         hash(n.name, s.operator) % 100 AS rewrite_h
  FROM runs_t r, names n, resolvers s, qtypes t
  WHERE (n.kind = 'tld') = (t.qtype = 'SOA')
), attempts AS (
  SELECT b.*, a.attempt,
    (b.vi % 4 = 1 AND b.transport = 'quic') AS blocked,
    (b.transport = 'udp' AND b.slow_h < CASE WHEN b.vi % 4 = 2 THEN 5 ELSE 1 END) AS slow
  FROM base b, (VALUES (0), (1)) a(attempt)
)
SELECT * EXCLUDE (slow, blocked),
  (blocked OR (slow AND attempt = 0)) AS timed_out,
  (role = 'test' AND operator IN ('Yandex', '114DNS', 'AliDNS') AND kind = 'top'
   AND rewrite_h < 2 * (vi % 4)) AS rewrite
FROM attempts
WHERE attempt = 0 OR slow OR blocked
"""

_OUTCOMES = """
CREATE TEMP TABLE o AS
SELECT q.*, row_number() OVER () + {first_id} AS id,
  CASE
    WHEN timed_out THEN NULL
    WHEN kind = 'tld' THEN CASE WHEN tld_found THEN 'NOERROR' ELSE 'NXDOMAIN' END
    WHEN is_bogus AND validating THEN 'SERVFAIL'
    WHEN NOT exists_ AND NOT (operator = '114DNS' AND qtype = 'A') THEN 'NXDOMAIN'
    ELSE 'NOERROR' END AS rcode_name,
  CASE
    WHEN timed_out OR kind = 'tld' THEN 0
    WHEN qtype = 'A' THEN CASE WHEN hash(name, 'two') % 3 = 0 AND NOT rewrite THEN 2 ELSE 1 END
    WHEN qtype = 'AAAA' THEN CASE WHEN hash(name, 'v6') % 10 < 6 AND exists_ THEN 1 ELSE 0 END
    ELSE CASE WHEN hash(name, 'https') % 10 < 4 AND exists_ AND NOT rewrite THEN 1 ELSE 0 END
  END AS n_rdata
FROM (
  SELECT q.*, (q.name IN ('com', 'net', 'org', 'de', 'cn', 'ru', 'io', 'xyz')
               OR (q.namespace <> 'icann' AND q.name IN ('geek', 'glue', 'libre'))) AS tld_found,
    q.operator NOT IN ('114DNS', 'Yandex') AS validating,
    q.name LIKE 'bogus%.dnssec.test' AS is_bogus,
    q.name LIKE 'secure%.dnssec.test' AS is_secure
  FROM q
) q
"""

# Answer records of the answered NOERROR queries with records: an optional CNAME first,
# the addresses (or HTTPS record), an RRSIG from validating resolvers for signed names; an
# authority SOA for NXDOMAIN and NODATA; an answer SOA for a TLD that exists.
_ANSWERS = """
CREATE TEMP TABLE a AS
WITH rdata AS (
  SELECT o.*, (hash(name, 'cname') % 10 < 3) AS alias,
         (validating AND hash(name, 'signed') % 4 = 0) AS signed
  FROM o WHERE rcode_name = 'NOERROR' AND n_rdata > 0 AND kind <> 'tld'
), recs AS (
  SELECT id AS observation_id, 0 AS k, 'CNAME' AS rtype, name || '.' AS owner,
         'edge.' || name || '.' AS value FROM rdata WHERE alias
  UNION ALL
  SELECT id, 1 + i, qtype, CASE WHEN alias THEN 'edge.' ELSE '' END || name || '.',
    CASE
      WHEN qtype = 'HTTPS' THEN '1 . alpn="h3,h2" port="443" ipv4hint="10.99.'
           || (80 + hash(name) % 3) || '.' || (1 + hash(name) % 250) || '"'
      WHEN qtype = 'AAAA' AND rewrite THEN 'fd99::66:1'
      WHEN qtype = 'AAAA' THEN 'fd99::80:' || printf('%x', hash(name) % 4096)
      WHEN i = 1 THEN '10.99.' || (80 + hash(name || '~') % 3) || '.'
           || (1 + hash(name || '~') % 250)
      WHEN rewrite OR NOT exists_ THEN '10.99.66.' || (1 + hash(name) % 200)
      ELSE '10.99.' || (80 + hash(name) % 3) || '.' || (1 + hash(name) % 250)
    END
  FROM rdata, range(2) r(i) WHERE i < n_rdata
  UNION ALL
  SELECT id, 9, 'RRSIG', CASE WHEN alias THEN 'edge.' ELSE '' END || name || '.',
         qtype || ' 13 3 300 20261229012154 20261129012154 61893 bench.test. '
         || repeat('Zm9v', 22)
  FROM rdata WHERE signed
), neg AS (
  SELECT id AS observation_id, 'authority' AS section, 0 AS k, 'SOA' AS rtype,
         CASE WHEN rcode_name = 'NOERROR' THEN name || '.' ELSE tld || '.' END AS owner
  FROM o WHERE kind <> 'tld'
    AND (rcode_name = 'NXDOMAIN' OR (rcode_name = 'NOERROR' AND n_rdata = 0))
  UNION ALL
  SELECT id, 'answer', 0, 'SOA', name || '.' FROM o WHERE kind = 'tld' AND tld_found
    AND rcode_name = 'NOERROR'
)
SELECT observation_id, 'answer' AS section, k, rtype, owner, value FROM recs
UNION ALL
SELECT observation_id, section, k, rtype, owner,
       'ns1.bench.test. hostmaster.bench.test. 2026112801 1800 900 604800 300' FROM neg
"""

_OBSERVATIONS_COPY = """
COPY (
  SELECT o.name || '.' AS qname, o.name || '.' AS qname_unicode, o.qtype, 'query' AS purpose,
    o.transport, o.address AS resolver_address, o.port AS resolver_port,
    o.role AS resolver_role, o.operator AS resolver_operator,
    o.namespace AS resolver_namespace,
    CASE WHEN o.timed_out THEN NULL ELSE hash(o.name, o.idx, o.qtype) % 65536 END AS query_id,
    CASE o.rcode_name WHEN 'NOERROR' THEN 0 WHEN 'SERVFAIL' THEN 2 WHEN 'NXDOMAIN' THEN 3 END
      AS rcode,
    o.rcode_name, CASE WHEN o.timed_out THEN NULL ELSE false END AS flag_aa,
    CASE WHEN o.timed_out THEN NULL ELSE false END AS flag_tc,
    CASE WHEN o.timed_out THEN NULL ELSE true END AS flag_rd,
    CASE WHEN o.timed_out THEN NULL ELSE true END AS flag_ra,
    CASE WHEN o.timed_out THEN NULL ELSE (o.validating AND o.rcode_name = 'NOERROR'
      AND (o.is_secure OR hash(o.name, 'signed') % 4 = 0)) END AS flag_ad,
    CASE WHEN o.timed_out THEN NULL ELSE false END AS flag_cd,
    coalesce(c.answers, 0) AS answer_count, coalesce(c.authority, 0) AS authority_count,
    1 AS additional_count, 60 + 40 * coalesce(c.answers + c.authority, 0) AS response_size,
    CASE WHEN o.timed_out THEN NULL ELSE 8.0 + hash(o.name, o.idx) % 40 END AS rtt_ms,
    false AS late, false AS duplicate, NULL::VARCHAR AS whoami_address,
    NULL::VARCHAR AS validation, NULL::VARCHAR AS validation_detail,
    o.id, 'dns.query|' || o.name || '|' || o.label || '|' || o.qtype || '|0' AS task_key,
    o.attempt, 'dns.query' AS probe, 1 AS probe_version, o.name AS target, o.url AS endpoint,
    TIMESTAMP '2026-11-28 12:00:00' AS started_at,
    CASE WHEN o.timed_out THEN 5000.0 ELSE 12.5 END AS duration_ms,
    CASE WHEN o.timed_out THEN 'no response before the deadline'
         WHEN o.rcode_name = 'NXDOMAIN' THEN 'NXDOMAIN'
         WHEN o.rcode_name = 'SERVFAIL' THEN 'SERVFAIL'
         WHEN coalesce(c.answers, 0) = 0
           THEN 'NOERROR without records of the asked type (NODATA)' END AS failure_detail,
    o.run_id, o.vantage_id,
    CASE WHEN o.timed_out THEN 'generic_timeout_error'
         WHEN o.rcode_name = 'NXDOMAIN' THEN 'dns_nxdomain_error'
         WHEN o.rcode_name = 'SERVFAIL' THEN 'dns_servfail_error'
         WHEN coalesce(c.answers, 0) = 0 THEN 'dns_no_answer' END AS failure,
    CASE WHEN o.timed_out THEN 'dns_round_trip'
         WHEN o.rcode_name <> 'NOERROR' OR coalesce(c.answers, 0) = 0 THEN 'resolve' END
      AS failed_operation,
    {round} AS round, o.vantage_id AS vantage
  FROM o LEFT JOIN (
    SELECT observation_id, count(*) FILTER (WHERE section = 'answer') AS answers,
           count(*) FILTER (WHERE section = 'authority') AS authority
    FROM a GROUP BY observation_id
  ) c ON c.observation_id = o.id
  UNION ALL BY NAME
  SELECT * FROM extra_obs WHERE run_id = {run}
) TO {path} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (round, vantage),
             OVERWRITE_OR_IGNORE, FILENAME_PATTERN {pattern})
"""

_ANSWERS_COPY = """
COPY (
  SELECT row_number() OVER () + {first_id} AS id, a.observation_id, a.section,
    row_number() OVER (PARTITION BY a.observation_id, a.section ORDER BY a.k) - 1 AS position,
    a.owner AS name, a.rtype, 300::BIGINT AS ttl, a.value,
    CASE WHEN a.rtype = 'HTTPS' THEN 1 END AS svc_priority,
    CASE WHEN a.rtype = 'HTTPS' THEN '.' END AS svc_target,
    CASE WHEN a.rtype = 'HTTPS' THEN 'h3,h2' END AS svc_alpn,
    CASE WHEN a.rtype = 'HTTPS' THEN 443 END AS svc_port,
    CASE WHEN a.rtype = 'HTTPS' THEN regexp_extract(a.value, 'ipv4hint="([^"]*)"', 1) END
      AS svc_ipv4hint,
    NULL::VARCHAR AS svc_ipv6hint, CASE WHEN a.rtype = 'HTTPS' THEN false END AS svc_ech,
    {round} AS round, {vantage} AS vantage
  FROM a
  UNION ALL BY NAME
  SELECT * FROM extra_answers WHERE observation_id IN (SELECT id FROM extra_obs
                                                     WHERE run_id = {run})
) TO {path} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (round, vantage),
             OVERWRITE_OR_IGNORE, FILENAME_PATTERN {pattern})
"""


def build(out: Path, rows: int) -> dict[str, Any]:
    """Write the dataset for a budget of ``rows`` observations into ``out``."""
    import duckdb

    from bench import indicators as small
    from fragscope.db import migrate
    from fragscope.db.export import write_rows
    from fragscope.db.ids import target_id, vantage_id
    from fragscope.db.models import Base

    t0 = time.perf_counter()
    tables = Base.metadata.tables
    out.mkdir(parents=True, exist_ok=True)
    resolvers, naming = synthetic.panel()
    plan = small.mix(rows, len(resolvers))
    sets = plan["canary_sets"]
    names, secure, bogus = synthetic.dns_names(plan["top_sites"], sets)
    runs = []
    for vi, label in enumerate(VANTAGES):
        runs.append((f"00000000-0000-4000-8000-{vi:012d}", vantage_id(label, "bench"), vi))
    con = duckdb.connect()
    con.execute("SET memory_limit = '1GB'")
    # One run's rows are materialised between the statements: past the limit they spill
    # here, beside the dataset (never into the working directory).
    con.execute(f"SET temp_directory = {_q(str(out.parent / (out.name + '.spill')))}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("CREATE TABLE runs_t (run_id VARCHAR, vantage_id VARCHAR, vi INTEGER)")
    con.executemany("INSERT INTO runs_t VALUES (?, ?, ?)", runs)

    def exists(name: str, kind: str) -> bool:
        if kind == "top":
            return synthetic._h(name) % 50 != 0
        return kind != "canary" or name.rsplit(".", 1)[-1] in synthetic.ALT_TLDS

    con.execute("CREATE TABLE names (name VARCHAR, kind VARCHAR, exists_ BOOLEAN, tld VARCHAR)")
    con.executemany(
        "INSERT INTO names VALUES (?, ?, ?, ?)",
        [(n, k, exists(n, k), n.rsplit(".", 1)[-1]) for n, k in names],
    )
    con.execute(
        "CREATE TABLE resolvers (label VARCHAR, url VARCHAR, operator VARCHAR, role VARCHAR, "
        "namespace VARCHAR, transport VARCHAR, address VARCHAR, port INTEGER, idx INTEGER)"
    )
    con.executemany(
        "INSERT INTO resolvers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(r.label, r.url, r.operator, r.role, r.namespace, r.transport, r.address, r.port,
          r.index) for r in resolvers],
    )  # fmt: skip
    con.execute("CREATE TABLE qtypes AS SELECT * FROM (VALUES ('A'), ('AAAA'), ('HTTPS'), "
                "('SOA')) t(qtype)")  # fmt: skip
    # The whoami queries and dns.iterative verdicts of every run: bench._synthetic's rows
    # (a few hundred per run), appended to the SQL-made ones.
    ids = synthetic.Ids(obs=10**12, child=10**12)
    obs_cols = [c.name for c in tables["dns_observations"].columns]
    ans_cols = [c.name for c in tables["dns_answers"].columns]
    extra_obs, extra_answers = [], []
    for run in runs:
        for obs, children in synthetic.dns_rows(run, resolvers, [], ids, secure=secure,
                                                bogus=bogus):  # fmt: skip
            extra_obs.append({c: obs.get(c) for c in obs_cols} | {"round": ROUND,
                             "vantage": run[1]})  # fmt: skip
            for child in children:
                extra_answers.append({c: child.get(c) for c in ans_cols} | {"round": ROUND,
                                     "vantage": run[1]})  # fmt: skip
    _table_from_rows(con, "extra_obs", extra_obs)
    _table_from_rows(con, "extra_answers", extra_answers)
    con.execute("ALTER TABLE extra_obs ALTER started_at TYPE TIMESTAMP")
    counts = {"dns_observations": 0, "dns_answers": 0}
    first_obs = first_ans = 0
    for run_id, vid, vi in runs:
        # One run at a time: DuckDB holds one run's rows, never the whole dataset.
        con.execute("DROP TABLE IF EXISTS q; DROP TABLE IF EXISTS o; DROP TABLE IF EXISTS a")
        con.execute(
            _QUERIES.replace("FROM runs_t r", f"FROM (SELECT * FROM runs_t WHERE vi = {vi}) r")
        )
        con.execute(_OUTCOMES.format(first_id=first_obs))
        con.execute(_ANSWERS)
        pattern = _q(f"run-{run_id}-{{i}}")
        con.execute(
            _OBSERVATIONS_COPY.format(
                round=_q(ROUND), run=_q(run_id), path=_q(str(out / "dns_observations")),
                pattern=pattern,
            )
        )  # fmt: skip
        con.execute(
            _ANSWERS_COPY.format(
                first_id=first_ans, round=_q(ROUND), vantage=_q(vid), run=_q(run_id),
                path=_q(str(out / "dns_answers")), pattern=pattern,
            )
        )  # fmt: skip
        n_obs = con.execute("SELECT count(*) FROM o").fetchone()[0]  # type: ignore[index]
        n_ans = con.execute("SELECT count(*) FROM a").fetchone()[0]  # type: ignore[index]
        first_obs += n_obs
        first_ans += n_ans
        counts["dns_observations"] += n_obs + sum(o["run_id"] == run_id for o in extra_obs)
        counts["dns_answers"] += n_ans
    counts["dns_answers"] += len(extra_answers)
    con.close()
    counts |= _small_tables(out, runs, plan, naming, sets, names, resolvers, write_rows)
    _shared_tables(out, runs, plan, names, write_rows, target_id)
    manifest = {"format": "parquet", "schema_revision": migrate.heads()[0], "run": None,
                "round": ROUND, "files": {}}  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    observations = sum(counts[t] for t in small.OBSERVATIONS if t in counts)
    return {"rows": observations, "mix": plan, "table_rows": counts,
            "build_s": round(time.perf_counter() - t0, 1)}  # fmt: skip


def _table_from_rows(con: Any, name: str, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa

    con.register(f"{name}_arrow", pa.Table.from_pylist(rows))
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
    con.unregister(f"{name}_arrow")


def _small_tables(
    out: Path, runs: list[tuple[str, str, int]], plan: dict[str, int], naming: Any, sets: int,
    names: Any, resolvers: Any, write_rows: Any,
) -> dict[str, int]:  # fmt: skip
    """naming.resolve and the transport tables (0.2 % of the rows) from the Python
    generators, one file per run as the export writes them."""
    from bench import indicators as small
    from fragscope.db.export import column_kind
    from fragscope.db.models import Base

    tables = Base.metadata.tables
    counts: dict[str, int] = {}
    ids = synthetic.Ids(obs=2 * 10**12, child=2 * 10**12)

    def typed(table: str, rows: Any) -> Any:
        # The generators write SQLite's text times; the Parquet column is a timestamp.
        # (and 0/1 booleans, JSON as text): the Parquet columns are typed.
        kinds = [column_kind(c) for c in tables[table].columns]
        times = [i for i, k in enumerate(kinds) if k == "datetime"]
        flags = [i for i, k in enumerate(kinds) if k == "bool"]
        texts = [i for i, k in enumerate(kinds) if k == "json"]
        for row in rows:
            values = list(row)
            for i in times:
                if isinstance(values[i], str):
                    values[i] = dt.datetime.fromisoformat(values[i])
            for i in flags:
                if values[i] is not None:
                    values[i] = bool(values[i])
            for i in texts:
                if isinstance(values[i], str):
                    values[i] = json.loads(values[i])
            yield values

    for run in runs:
        part = f"round={ROUND}/vantage={run[1]}/run-{run[0]}.parquet"
        pairs = list(synthetic.naming_rows(run, naming, sets, ids))
        for table, rows in (
            ("naming_observations", [o for o, _c in pairs]),
            ("naming_values", [c for _o, cs in pairs for c in cs]),
        ):
            cols = [c.name for c in tables[table].columns]
            to_tuple = synthetic.columns_of(cols)
            counts[table] = counts.get(table, 0) + write_rows(
                out / table / part, tables[table], typed(table, map(to_tuple, rows))
            )
        for table in small.TRANSPORT:
            cols = [c.name for c in tables[table].columns]
            rows = small._rows(table, cols, [run], plan["transport_targets"], ids.obs)
            written = write_rows(out / table / part, tables[table], typed(table, rows))
            ids.obs += written
            counts[table] = counts.get(table, 0) + written
    return counts


def _shared_tables(
    out: Path, runs: list[tuple[str, str, int]], plan: dict[str, int], names: Any,
    write_rows: Any, target_id: Any,
) -> None:  # fmt: skip
    """runs, vantages and targets, one file each."""
    from fragscope.db.models import Base

    tables = Base.metadata.tables
    t0 = dt.datetime(2026, 11, 28, 12, 0)
    write_rows(out / "vantages.parquet", tables["vantages"], (
        (vid, VANTAGES[vi], "bench", [], None, None, t0) for _r, vid, vi in runs))  # fmt: skip
    write_rows(out / "runs.parquet", tables["runs"], (
        (run_id, "bench", ROUND, vid, {}, {}, 1, t0 + dt.timedelta(minutes=vi), None, None,
         "finished", None, {}) for run_id, vid, vi in runs))  # fmt: skip
    lists = [("top-sites", "icann", "test", n) for n, k in names if k == "top"]
    lists += [("canaries", "mixed", "test", n) for n, k in names if k != "top"]
    lists += [("whoami", "icann", "control", n) for n, _t in synthetic.WHOAMI]
    lists += [("quic-anycast", "icann", "test", f"t{t}.bench.test")
              for t in range(plan["transport_targets"])]  # fmt: skip
    write_rows(out / "targets.parquet", tables["targets"], (
        (target_id(run_id, lst, name), run_id, name, lst, None, ns, role, None)
        for run_id, _vid, _vi in runs for lst, ns, role, name in lists))  # fmt: skip


# A full scan of the same files, per table grouped as bench.indicators' SQLite scan groups
# them (per run and target; a child table per parent observation).
_SCAN = """
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import duckdb
con = duckdb.connect()
groups = 0
for table, by in json.loads(sys.argv[2]).items():
    path = f"{sys.argv[1]}/{table}/*/*/*.parquet"
    if table == "targets":
        path = f"{sys.argv[1]}/targets.parquet"
    groups += con.execute(f"SELECT count(*) FROM (SELECT {by}, count(*) FROM "
                          f"read_parquet('{path}') GROUP BY {by})").fetchone()[0]
print(json.dumps({"seconds": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                  "groups": groups}))
"""


def run_sampled(code: str, *args: str) -> tuple[dict[str, Any], int]:
    """Run ``code`` in a child, sampling its RSS (/proc) and killing it above
    RSS_KILL_BYTES; its JSON (None when killed) and its peak RSS in bytes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _rss(proc.pid))
        if peak > RSS_KILL_BYTES:
            proc.kill()
        time.sleep(0.2)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        return {"error": (stderr.strip().splitlines() or ["killed"])[-1]}, peak
    return json.loads(stdout.strip().splitlines()[-1]), peak


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def bench(rows: int, *, keep: str | None = None, reuse: bool = False) -> int:
    """Build (or reuse) the dataset, then scan, compute, scan; print the figures."""
    from bench import indicators as small

    with tempfile.TemporaryDirectory(prefix="fragscope-bench-parquet-") as tmp:
        out = Path(keep or tmp) / f"parquet-{rows}"
        if reuse and (out / "manifest.json").exists():
            built: dict[str, Any] = {"reused": str(out)}
        else:
            built = build(out, rows)
        groups = json.dumps(small.SCAN_GROUPS)
        load_before = os.getloadavg()
        scan1, _ = run_sampled(_SCAN, str(out), groups)
        comp, rss = run_sampled(small._DUCKDB_COMPUTE, str(out))
        scan2, _ = run_sampled(_SCAN, str(out), groups)
        scan_s = (scan1["seconds"] + scan2["seconds"]) / 2
        ratio = comp["seconds"] / scan_s if "seconds" in comp else None
        size = sum(p.stat().st_size for p in out.rglob("*.parquet"))
        result = {
            "benchmark": "indicators --parquet-rows",
            **built,
            "dataset_mb": round(size / 2**20, 1),
            "scan_s": [round(scan1["seconds"], 3), round(scan2["seconds"], 3)],
            "compute": comp,
            "ratio_compute_per_scan": None if ratio is None else round(ratio, 2),
            "compute_peak_rss_mb": round(rss / 2**20, 1),
            "load_average": [round(x, 2) for x in load_before + os.getloadavg()],
            "scans_worth_max": MAX_SCANS,
            "rss_max_mb": MAX_RSS_BYTES // 2**20,
            "scans_worth": "pass" if ratio is not None and ratio <= MAX_SCANS else "miss",
            "peak_rss": "pass" if "seconds" in comp and rss < MAX_RSS_BYTES else "miss",
        }
        print(json.dumps(result, indent=2))
        return 0 if result["scans_worth"] == result["peak_rss"] == "pass" else 1
