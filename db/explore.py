"""``fragscope explore``: serve a SQLite database with datasette on loopback, immutable.
Starts a process.

The metadata datasette shows (table and column descriptions) is generated from the models
(db.describe), renamed to the file's database name, plus canned queries that answer the
common questions. Only the canned queries whose tables exist in the file are offered.
"""

from __future__ import annotations

import importlib.util
import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from fragscope.db.describe import metadata_json

LOOPBACK = "127.0.0.1"

# Canned queries (datasette "queries"): SQLite SQL, also printed in README.md, where each was
# run against a lab database. Answers: comparable across vantages of one run or round.
CANNED_QUERIES: dict[str, dict[str, Any]] = {
    "quic_adoption_by_operator": {
        "title": "QUIC adoption by operator",
        "description": "Per vantage and server operator (the HTTP Server header over TCP, "
        "else the certificate issuer): hosts tested, hosts that completed a QUIC "
        "handshake, and those advertising h3 in Alt-Svc.",
        "needs": ["quic_adoption", "tls_observations", "vantages"],
        "sql": """SELECT v.label AS vantage,
       COALESCE(t.http_server, t.cert_issuer, '(unknown)') AS operator,
       COUNT(*) AS hosts,
       SUM(COALESCE(q.quic_ok, 0)) AS quic_ok,
       ROUND(AVG(COALESCE(q.quic_ok, 0)), 3) AS quic_share,
       SUM(COALESCE(q.alt_svc_h3, 0)) AS advertise_h3
FROM quic_adoption AS q
JOIN vantages AS v ON v.id = q.vantage_id
LEFT JOIN (
    SELECT run_id, vantage_id, target, address,
           MAX(http_server) AS http_server, MAX(cert_issuer) AS cert_issuer
    FROM tls_observations GROUP BY run_id, vantage_id, target, address
) AS t USING (run_id, vantage_id, target, address)
GROUP BY vantage, operator
ORDER BY vantage, hosts DESC""",
    },
    "answer_divergence_by_resolver": {
        "title": "Answer divergence by resolver",
        "description": "Per vantage and resolver: of the (name, type) questions that both "
        "it and the control resolver of the same run answered (any rcode), the share "
        "whose rcode or sorted answer set differs from the control's.",
        "needs": ["dns_observations", "dns_answers", "vantages"],
        "sql": """WITH answers AS (
    SELECT o.run_id, o.vantage_id, o.endpoint, o.resolver_operator, o.resolver_role,
           o.transport, o.qname, o.qtype,
           o.rcode_name AS outcome,
           (SELECT group_concat(value, ' ') FROM (
                SELECT a.value FROM dns_answers AS a
                WHERE a.observation_id = o.id AND a.section = 'answer' AND a.rtype = o.qtype
                ORDER BY a.value)) AS answer
    FROM dns_observations AS o
    WHERE o.purpose = 'query' AND o.probe = 'dns.query' AND o.rcode_name IS NOT NULL
      AND o.attempt = (SELECT MAX(attempt) FROM dns_observations AS l
                       WHERE l.run_id = o.run_id AND l.task_key = o.task_key)
),
control AS (
    SELECT run_id, vantage_id, qname, qtype, outcome, answer
    FROM answers WHERE resolver_role = 'control'
)
SELECT v.label AS vantage, a.resolver_operator AS resolver, a.transport, a.endpoint,
       COUNT(*) AS questions,
       SUM(CASE WHEN a.outcome IS c.outcome AND a.answer IS c.answer THEN 0 ELSE 1 END)
           AS differ,
       ROUND(AVG(CASE WHEN a.outcome IS c.outcome AND a.answer IS c.answer
                      THEN 0.0 ELSE 1.0 END), 3) AS divergence
FROM answers AS a
JOIN control AS c USING (run_id, vantage_id, qname, qtype)
JOIN vantages AS v ON v.id = a.vantage_id
WHERE a.resolver_role IS NOT 'control'
GROUP BY vantage, resolver, a.transport, a.endpoint
ORDER BY vantage, divergence DESC""",
    },
    "failures_by_probe": {
        "title": "Failures by probe and vantage",
        "description": "Every attempt is a row: the count of each failure per probe.",
        "needs": ["runs", "vantages", "tasks_done"],
        "sql": """SELECT v.label AS vantage, t.probe, COALESCE(t.failure, 'ok') AS outcome,
       COUNT(*) AS tasks
FROM tasks_done AS t
JOIN runs AS r ON r.id = t.run_id
JOIN vantages AS v ON v.id = r.vantage_id
GROUP BY vantage, t.probe, outcome
ORDER BY vantage, t.probe, tasks DESC""",
    },
    "runs_overview": {
        "title": "Runs",
        "description": "Every run: campaign, vantage, round, status and timing.",
        "needs": ["runs", "vantages"],
        "sql": """SELECT r.id, r.campaign, v.label AS vantage, r.round, r.status, r.exit_code,
       r.started_at, r.finished_at
FROM runs AS r JOIN vantages AS v ON v.id = r.vantage_id
ORDER BY r.started_at DESC""",
    },
}


class ExploreError(Exception):
    """explore cannot start; the message says why and what to do."""


def database_name(path: Path) -> str:
    """The name datasette gives a database file: its stem."""
    return path.stem


def existing_tables(path: Path) -> set[str]:
    con = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        rows = con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
        return {name for (name,) in rows}
    finally:
        con.close()


def explore_metadata(path: Path) -> dict[str, Any]:
    """datasette metadata for ``path``: the generated docs plus the canned queries it can run."""
    meta: dict[str, Any] = json.loads(metadata_json())
    ((_, database),) = meta.pop("databases").items()
    present = existing_tables(path)
    database["tables"] = {t: v for t, v in database["tables"].items() if t in present}
    database["queries"] = {
        name: {k: v for k, v in query.items() if k != "needs"}
        for name, query in CANNED_QUERIES.items()
        if set(query["needs"]) <= present
    }
    meta["databases"] = {database_name(path): database}
    meta["license"] = "the data's own licence: ask the operator of the vantages"
    return meta


def datasette_argv(path: Path, metadata: Path, *, port: int) -> list[str]:
    """The datasette command line: loopback only, read-only SQL with a time limit.

    ``-i`` serves the file immutable: datasette opens it with SQLite's immutable flag, so
    no statement can change it and nothing is written beside it, a second line of defence
    behind the read-only SQL (https://docs.datasette.io/en/stable/performance.html).
    """
    return [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        "-i",
        str(path),
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--metadata",
        str(metadata),
        "--setting",
        "sql_time_limit_ms",
        "20000",
        "--setting",
        "default_page_size",
        "50",
    ]


def check_datasette() -> None:
    if importlib.util.find_spec("datasette") is None:
        raise ExploreError(
            "datasette is not installed: pip install 'fragscope[explore]' "
            "(or .venv/bin/pip install -e '.[explore]')"
        )


def serve(path: Path, metadata_dir: Path, *, port: int) -> int:
    """Write the metadata next to nothing of the user's (``metadata_dir``), run datasette.

    Returns datasette's exit code; Ctrl-C stops it.
    """
    check_datasette()
    if not path.is_file():
        raise ExploreError(f"--db: {path} does not exist")
    metadata = metadata_dir / "metadata.json"
    metadata.write_text(json.dumps(explore_metadata(path), indent=2), encoding="utf-8")
    proc = subprocess.Popen(datasette_argv(path, metadata, port=port))

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    # SIGTERM (systemd, a test, kill) must stop datasette too, not orphan it.
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
