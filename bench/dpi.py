"""Benchmark of the lab's DPI censors (lab/dpi) against the same path without them. Does
I/O: builds ``fsv-bench-*`` namespaces (root) with a UDP echo on port 443 upstream, runs
the load client of bench.vantages at each, removes everything at the end.

Peer: the same middlebox with no censor (kernel forwarding only). Measured, UDP echoes/s
to port 443 with 256 in flight, best of 3 interleaved rounds: through ``inline`` (every
client packet goes through NFQUEUE to the censor process and its engine) and through
``residual`` (only each flow's first packet is queued, a copy accepted at once), each as a
ratio of the peer's. Also,
in this process, the engines' own rate on real aioquic client Initials (decrypt, reassemble,
parse) and TCP ClientHello segments: packets/s the censor's CPU allows. Targets: inline
>= 5000 packets/s through the queue, residual >= 0.5x the peer, no echo lost.

``python -m bench dpi`` (main() returns non-zero when a target is missed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from scapy.layers.inet import IP, TCP, UDP

from bench.vantages import HOST, REPO, client
from fragscope.lab.dpi.initial import open_initials
from fragscope.lab.dpi.inline import InlineEngine, Verdict
from fragscope.lab.dpi.policy import DpiPolicy, Mode, TcpAction, blocked_names
from fragscope.lab.vantages import model, runner
from fragscope.lab.vantages.layout import make_layout

UPSTREAM = "fsv-bench-dpi"  # its own: bench.vantages may run beside it
PORT = 443
COUNT, WINDOW = 20_000, 256
ROUNDS = 3
TARGET_INLINE_PPS = 5_000.0
TARGET_RESIDUAL_RATIO = 0.5
BLOCKED = ["www.example.test"]


def _cases() -> dict[str, tuple[model.Vantage, str]]:
    common = {"blocked_sni": BLOCKED}
    return {
        "kernel": (model.Vantage(name="bkern", kind=model.Kind.DISTANT), "10.99.252.24/29"),
        "inline": (
            model.dpi(name="binline", mode=Mode.INLINE, block_ech=True, **common),
            "10.99.252.32/29",
        ),
        "residual": (
            model.dpi(name="bresid", mode=Mode.RESIDUAL, trigger_probability=0.75, **common),
            "10.99.252.40/29",
        ),
    }


def engine_rate(n: int = 2_000) -> dict[str, float]:
    """Packets/s of the inline engine on real first flights: QUIC Initials (each a new
    flow, decrypted and parsed) and TCP segments carrying a ClientHello."""
    policy = DpiPolicy(Mode.INLINE, blocked_names(BLOCKED), tcp_action=TcpAction.RESET)
    config = QuicConfiguration(is_client=True, server_name="innocuous.example.test")
    conn = QuicConnection(configuration=config)
    conn.connect((HOST, PORT), now=0.0)
    (initial,) = [d for d, _ in conn.datagrams_to_send(now=0.0)]
    quic = [bytes(IP(src="10.99.0.9", dst=HOST) / UDP(sport=1024 + i, dport=PORT) / initial)
            for i in range(n)]  # fmt: skip
    # The same ClientHello as a TLS record over TCP: the Initial's CRYPTO frame, opened.
    ((_, hello),) = next(open_initials(initial)).crypto
    record = b"\x16\x03\x01" + len(hello).to_bytes(2, "big") + hello
    tcp = [bytes(IP(src="10.99.0.9", dst=HOST) / TCP(sport=1024 + i, dport=PORT, flags="PA",
                                                      seq=1) / record)
           for i in range(n)]  # fmt: skip
    out = {}
    for name, packets in (("quic_initials", quic), ("tcp_client_hellos", tcp)):
        engine = InlineEngine(policy)
        t0 = time.perf_counter()
        verdicts = [engine.handle(p) for p in packets]
        out[name] = n / (time.perf_counter() - t0)
        assert verdicts == [Verdict.ACCEPT] * n
    return out


def main() -> int:
    if os.geteuid() != 0:
        print("bench.dpi: needs root (network namespaces); skipped")
        return 0
    subprocess.run(["ip", "netns", "del", UPSTREAM], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "add", UPSTREAM], check=True)
    run_dir = Path(tempfile.mkdtemp(prefix="fsv-bench-dpi-"))
    echo = None
    layouts = []
    results: dict[str, dict[str, float]] = {}
    try:
        subprocess.run(["ip", "-n", UPSTREAM, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", UPSTREAM, "addr", "add", f"{HOST}/32", "dev", "lo"], check=True)
        echo = subprocess.Popen(
            ["ip", "netns", "exec", UPSTREAM, sys.executable, "-m", "bench.vantages", "serve",
             str(PORT)],
            stdout=subprocess.PIPE, text=True, cwd=REPO,
        )  # fmt: skip
        assert echo.stdout is not None and echo.stdout.readline().strip() == "ready"
        for vantage, subnet in _cases().values():
            layout = make_layout(vantage.name, upstream_ns=UPSTREAM, subnet=subnet, prefix="fsv-")
            layouts.append(layout)
            runner.up(vantage, layout, run_dir=run_dir)
        # Rounds interleave the paths, and each keeps its best round: the load client is
        # one Python process on a shared machine, so a slow round says little about a path.
        for _ in range(ROUNDS):
            for key, layout in zip(_cases(), layouts, strict=True):
                got = client(layout.client_ns, "load", str(COUNT), str(WINDOW), "3", str(PORT))
                best = results.get(key)
                lost = int(got["lost"]) + (int(best["lost"]) if best else 0)
                if best is None or got["rate"] > best["rate"]:
                    best = got
                results[key] = {**best, "lost": lost}
    finally:
        for layout in layouts:
            runner.down(layout, run_dir=run_dir)
        if echo is not None:
            echo.terminate()
            echo.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", UPSTREAM], capture_output=True, check=False)
    engine = engine_rate()
    kernel, inline, residual = (results[k]["rate"] for k in ("kernel", "inline", "residual"))
    lost = sum(int(r["lost"]) for r in results.values())
    print(f"kernel forwarding      : {kernel:9.0f} packets/s (UDP/443 echoes)")
    print(f"dpi inline (NFQUEUE)   : {inline:9.0f} packets/s  ratio {inline / kernel:.2f} "
          f"(target >= {TARGET_INLINE_PPS:.0f} packets/s)")  # fmt: skip
    print(f"dpi residual (1st pkt) : {residual:9.0f} packets/s  ratio {residual / kernel:.2f} "
          f"(target >= {TARGET_RESIDUAL_RATIO})")  # fmt: skip
    print(
        f"inline engine, in process: {engine['quic_initials']:7.0f} QUIC Initials/s, "
        f"{engine['tcp_client_hellos']:7.0f} TCP ClientHellos/s; echoes lost {lost}"
    )
    print(json.dumps({"kernel": kernel, "inline": inline, "residual": residual, **engine}))
    ok = inline >= TARGET_INLINE_PPS and residual >= TARGET_RESIDUAL_RATIO * kernel
    return 0 if ok and lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
