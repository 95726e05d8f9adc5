"""DNS benchmark: ``fragscope run`` with dns.query against dnsperf, same NSD, same run. Does I/O.

Starts an NSD on 127.66.250.1 (a port free then) serving 300 names (RRL off, minimal responses: the
answer alone, as a recursive resolver sends it) and alternates dnsperf runs with
fragscope runs. fragscope goes through the real engine: execute() (what ``fragscope
run`` calls) on a generated campaign of dns.query A tasks (300 names x repeat) with
``--workers``, every response parsed into a dns_observations row (raw wire kept) and its
dns_answers rows, plus the tasks_done ledger, committed to a migrated SQLite database;
the bench then counts what the database holds. Prints one JSON line with both rates, CPU
microseconds per query of both sides, ``ratio = fragscope_qps / dnsperf_qps`` (the
peer is the mean of the dnsperf runs around ours) and the load average before and after;
exits 1 below the target (0.3, issue 22) or when a run is incomplete, and prints it as
pass or miss.

Politeness at full speed, measured at the server: a last fragscope run, on the same
full-speed path (same workers), has the endpoint limited to ``POLITE_SHARE`` of the rate
fragscope just reached unlimited (so the limiter, not the machine, sets the pace: the run
must come within 80 % of the limit), with a burst of ``POLITE_BURST``, for about
``POLITE_SECONDS``. NSD's own query counter (``nsd-control stats_noreset`` over a local
control socket) is read every ``POLL_S`` meanwhile, and no stretch of at least a second
between two readings may hold more than ``rate x its length + burst`` queries (its length
measured from before the first reading to after the second, so the check never blames
fragscope for the readings' own latency).
``python -m bench.dns [N [WORKERS [ROUNDS]]]`` (default 100000 2 2).
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from fragscope.lab.core.ports import free_port

TARGET = 0.3
POLITE_SHARE = 0.5
POLITE_BURST = 100
POLITE_SECONDS = 4.0
POLL_S = 0.2
ADDRESS = "127.66.250.1"
NAMES = 300


def _zone(path: Path) -> None:
    lines = [
        "$ORIGIN bench.test.",
        "$TTL 300",
        "@ SOA ns1 hostmaster 1 1800 900 604800 300",
        "@ NS ns1",
        f"ns1 A {ADDRESS}",
    ]
    lines += [f"h{i:03d} A 127.81.{i // 250}.{i % 250 + 1}" for i in range(NAMES)]
    path.write_text("\n".join(lines) + "\n")


def _port(run: Path) -> int:
    """The port of the run's NSD (chosen by _start_nsd)."""
    return int((run / "port").read_text())


def _start_nsd(run: Path) -> Path:
    _zone(run / "bench.test.zone")
    # No fixed port: two benches at once (or a profiling copy of this one) must not share
    # the NSD.
    port = free_port([ADDRESS])
    (run / "port").write_text(str(port))
    conf = run / "nsd.conf"
    conf.write_text(
        f"""server:
    ip-address: {ADDRESS}@{port}
    username: ""
    chroot: ""
    database: ""
    pidfile: "{run}/nsd.pid"
    xfrdfile: "{run}/xfrd.state"
    zonelistfile: "{run}/zone.list"
    xfrdir: "{run}"
    logfile: "{run}/nsd.log"
    server-count: 1
    do-ip6: no
    hide-version: yes
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
    minimal-responses: yes
remote-control:
    control-enable: yes
    control-interface: {run}/nsd.ctl
zone:
    name: "bench.test."
    zonefile: "{run}/bench.test.zone"
"""
    )
    subprocess.run(["nsd", "-c", str(conf)], check=True, capture_output=True)
    pidfile = run / "nsd.pid"
    import dns.message
    import dns.query

    deadline = time.monotonic() + 10
    while True:
        try:
            dns.query.udp(
                dns.message.make_query("bench.test.", "SOA"), ADDRESS, port=port, timeout=0.5
            )
            return pidfile
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _stop(pidfile: Path) -> None:
    from fragscope.lab.core import process

    nsd = process.adopt("nsd", process.pid_from_file(pidfile))
    if nsd is not None:
        process.stop_all([nsd], grace=10)


def dnsperf_qps(run: Path, seconds: int = 4) -> float:
    queries = run / "queries.txt"
    queries.write_text("".join(f"h{i:03d}.bench.test A\n" for i in range(NAMES)))
    out = subprocess.run(
        ["dnsperf", "-s", ADDRESS, "-p", str(_port(run)), "-d", str(queries), "-l", str(seconds),
         "-c", "4", "-T", "1", "-q", "500"],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    ).stdout  # fmt: skip
    match = re.search(r"Queries per second:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"cannot read dnsperf output:\n{out}")
    return float(match.group(1))


def _cpu() -> float:
    """CPU-seconds of this process and its reaped children (the engine's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _campaign(run: Path, n: int, *, tag: str, rate: float | None = None) -> Path:
    """A dns.query campaign of about n UDP A queries to the bench NSD (300 names x repeat);
    ``rate``: the endpoint limited to that many queries/s, burst POLITE_BURST."""
    targets = run / "targets.csv"
    targets.write_text("".join(f"{i + 1},h{i:03d}.bench.test\n" for i in range(NAMES)))
    repeat = max(1, -(-n // NAMES))
    path = run / f"bench-{tag}.toml"
    # Rate and burst far above what one server gets in a real campaign: the bench measures
    # the engine, not its politeness (the rate limiter's own test lives in tests/).
    endpoint_rate = f"rate = {rate}\n" if rate is not None else ""
    burst = POLITE_BURST if rate is not None else 1024
    path.write_text(
        f'name = "bench-dns-{tag}"\nvantage = "bench"\nrepeat = {repeat}\n\n'
        '[[targets]]\nfile = "targets.csv"\n\n'
        f'[[endpoints]]\nurl = "udp://{ADDRESS}:{_port(run)}"\nlabel = "nsd"\n'
        f'operator = "bench"\nrole = "test"\n{endpoint_rate}\n'
        '[probes."dns.query"]\nqtypes = ["A"]\ntimeout_s = 2.0\n\n'
        f"[limits]\nconcurrency = 1024\nrate = 10000000\nburst = {burst}\ndeadline = 5\n"
    )
    return path


def fragscope_run(
    run: Path, n: int, *, workers: int = 2, tag: str = "0", rate: float | None = None
) -> dict[str, float]:
    """``fragscope run`` (execute(), as the CLI calls it) on a generated campaign into a
    migrated SQLite database; returns rates, CPU and what the database holds."""
    from sqlalchemy import text

    from fragscope.db import migrate
    from fragscope.db.connection import make_engine
    from fragscope.probes.engine.console import Reporter
    from fragscope.probes.engine.prepared_run import RunOptions
    from fragscope.probes.engine.runs import execute

    campaign = _campaign(run, n, tag=tag, rate=rate)
    db = run / f"bench-{tag}.sqlite"
    engine = make_engine(str(db))
    migrate.upgrade(engine)  # as `fragscope db upgrade` once before the cron runs
    engine.dispose()
    opts = RunOptions(campaign=campaign, db=str(db), workers=workers, progress=False)
    with open(os.devnull, "w") as devnull:
        t0, c0 = time.perf_counter(), _cpu()
        code = execute(opts, reporter=Reporter(stream=devnull), out=devnull)
        elapsed, cpu = time.perf_counter() - t0, _cpu() - c0
    engine = make_engine(str(db))
    with engine.connect() as conn:
        q = lambda sql: conn.execute(text(sql)).scalar_one()  # noqa: E731
        stored = q("select count(*) from dns_observations")
        ok = q("select count(*) from dns_observations where failure is null and rcode = 0")
        answers = q(
            "select count(*) from dns_answers_flat where rtype = 'A' and section = 'answer'"
        )
        done = q("select count(*) from tasks_done")
        wires = q("select count(*) from dns_observations where raw_wire is not null")
    engine.dispose()
    return {
        "exit_code": code,
        "elapsed_s": elapsed,
        "cpu_s": cpu,
        "stored": stored,
        "ok": ok,
        "answers": answers,
        "tasks_done": done,
        "raw_wires": wires,
    }


def server_queries(run: Path) -> int:
    """The bench NSD's count of queries received so far (its own counter)."""
    out = subprocess.run(
        ["nsd-control", "-c", str(run / "nsd.conf"), "stats_noreset"],
        capture_output=True, text=True, timeout=10, check=True,
    ).stdout  # fmt: skip
    match = re.search(r"^num\.queries=(\d+)$", out, re.MULTILINE)
    if not match:
        raise RuntimeError(f"cannot read nsd-control stats:\n{out}")
    return int(match.group(1))


def worst_excess(readings: list[tuple[float, float, int]], *, rate: float, burst: int) -> float:
    """The largest ``queries - (rate x seconds + burst)`` over stretches of at least a
    second between two readings (before, after, count): > 0 means the limit was broken.

    A stretch's length runs from before its first reading to after its last, the longest
    it can have been, so the readings' own latency never counts against the limit."""
    worst = -math.inf
    for i, (before, _after, first) in enumerate(readings):
        for _before, after, last in readings[i + 1 :]:
            if after - before >= 1.0:
                worst = max(worst, last - first - (rate * (after - before) + burst))
    return worst


def peak_rate(readings: list[tuple[float, float, int]]) -> float:
    """The highest queries/s over stretches of at least a second between two readings,
    each taken at its longest (a lower bound of the true peak)."""
    best = 0.0
    for i, (before, _after, first) in enumerate(readings):
        for _before, after, last in readings[i + 1 :]:
            if after - before >= 1.0:
                best = max(best, (last - first) / (after - before))
    return best


def polite_run(run: Path, *, workers: int, rate: float) -> dict[str, float]:
    """A fragscope run with its endpoint limited to ``rate``, counted at the server every
    POLL_S."""
    readings: list[tuple[float, float, int]] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            before = time.monotonic()
            count = server_queries(run)
            readings.append((before, time.monotonic(), count))
            done.wait(POLL_S)

    start = server_queries(run)
    poller = threading.Thread(target=poll, name="bench-nsd-poll")
    poller.start()
    try:
        queries = round(rate * POLITE_SECONDS)
        result = fragscope_run(run, queries, workers=workers, tag="polite", rate=rate)
    finally:
        done.set()
        poller.join()
    sent = server_queries(run) - start
    excess = worst_excess(readings, rate=rate, burst=POLITE_BURST)
    return {
        **result,
        "rate": rate,
        "planned": max(1, -(-queries // NAMES)) * NAMES,
        "server_queries": sent,
        "server_qps": peak_rate(readings),
        "worst_excess": excess,
        "readings": len(readings),
    }


def _dnsperf(run: Path) -> tuple[float, float]:
    """(q/s, CPU-seconds per query) of one dnsperf run."""
    c0 = _cpu()
    qps = dnsperf_qps(run)
    return qps, (_cpu() - c0) / (qps * 4)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else 100_000
    workers = int(args[1]) if len(args) > 1 else 2
    rounds = int(args[2]) if len(args) > 2 else 2
    os.environ.setdefault("FRAGSCOPE_ALLOWED_NETS", "127.0.0.0/8,::1/128")
    for tool in ("nsd", "dnsperf"):
        if shutil.which(tool) is None:
            print(json.dumps({"bench": "dns", "error": f"{tool} not installed"}))
            return 1
    peers: list[tuple[float, float]] = []
    ours: list[dict[str, float]] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="fragscope-bench-dns-") as tmp:
        run = Path(tmp)
        pidfile = _start_nsd(run)
        try:
            # The machine is shared: the two sides alternate (dnsperf, fragscope, dnsperf,
            # ...) and the peer's rate is the mean of the dnsperf runs around ours.
            peers.append(_dnsperf(run))
            for r in range(rounds):
                ours.append(fragscope_run(run, n, workers=workers, tag=str(r)))
                peers.append(_dnsperf(run))
            unlimited = statistics.median(o["stored"] / o["elapsed_s"] for o in ours)
            polite = polite_run(run, workers=workers, rate=round(POLITE_SHARE * unlimited))
        finally:
            _stop(pidfile)
    peer = sum(q for q, _ in peers) / len(peers)
    peer_cpu = sum(c for _, c in peers) / len(peers)
    rates = [o["stored"] / o["elapsed_s"] for o in ours]
    qps = statistics.median(rates)
    cpu_per_query = sum(o["cpu_s"] for o in ours) / sum(o["stored"] for o in ours)
    ratio = qps / peer
    planned = max(1, -(-n // NAMES)) * NAMES
    complete = all(
        o["exit_code"] == 0
        and o["stored"] >= planned
        and o["tasks_done"] == planned
        and o["answers"] >= o["ok"]
        and o["raw_wires"] >= o["ok"]
        for o in ours
    )
    polite_ok = (
        polite["exit_code"] == 0
        and polite["stored"] >= polite["planned"]
        and polite["worst_excess"] <= 0
        and math.isfinite(polite["worst_excess"])  # at least one stretch of a second
        # At full speed: the limiter set the pace, or the check proved nothing.
        and polite["server_qps"] >= 0.8 * polite["rate"]
    )
    ok = complete and ratio >= TARGET and polite_ok
    print(
        json.dumps(
            {
                "bench": "dns",
                "path": "fragscope run (execute) -> dns.query batches -> SQLite",
                "queries": planned,
                "workers": workers,
                "fragscope_qps": round(qps),
                "fragscope_qps_runs": [round(x) for x in rates],
                "fragscope_cpu_us_per_query": round(cpu_per_query * 1e6, 1),
                "dnsperf_qps": round(peer),
                "dnsperf_qps_runs": [round(q) for q, _ in peers],
                "dnsperf_cpu_us_per_query": round(peer_cpu * 1e6, 2),
                "ratio": round(ratio, 3),
                "target": TARGET,
                "ratio_verdict": "pass" if ratio >= TARGET else "miss",
                # Politeness at the server: NSD's counter against rate x time + burst.
                "polite_rate": polite["rate"],
                "polite_burst": POLITE_BURST,
                "polite_server_queries": polite["server_queries"],
                "polite_server_peak_qps": round(polite["server_qps"]),
                "polite_worst_excess": (
                    round(polite["worst_excess"], 1)
                    if math.isfinite(polite["worst_excess"])
                    else None
                ),
                "polite_readings": polite["readings"],
                "polite_verdict": "pass" if polite_ok else "miss",
                # The machine is shared: the figures only compare within one run.
                "loadavg_before": [round(x, 2) for x in load_before],
                "loadavg_after": [round(x, 2) for x in os.getloadavg()],
                "stored_rows": [o["stored"] for o in ours],
                "answered": [o["ok"] for o in ours],
                "answer_rows": [o["answers"] for o in ours],
                "ok": ok,
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
