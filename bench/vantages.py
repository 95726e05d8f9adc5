"""Benchmark of the distant vantage's delay relay against the kernel's own forwarding.
Does I/O: builds ``fsv-bench-*`` namespaces (root), runs a UDP echo and a load client in
them, removes everything at the end.

Peer: the same middlebox with no relay (kernel forwarding only). Measured: echo rate with
64 probes in flight through the relay at 0 ms, as a ratio of the peer's; and the RTT
added when the relay holds packets 150 ms each way. Targets: ratio >= 0.25 (the relay
must not be what limits a campaign: dnspython tops out near 1.5k q/s per process), added
RTT within 280..400 ms, no packet dropped by the relay's queue bound.

``python -m bench.vantages`` (main() returns non-zero when a target is missed).
"""

from __future__ import annotations

import json
import os
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fragscope.lab.vantages import model, runner
from fragscope.lab.vantages.layout import make_layout

UPSTREAM = "fsv-bench-up"
HOST = "10.99.240.99"
PORT = 9
REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 0.25
WINDOW = 256
TARGET_ADDED_MS = (280.0, 400.0)


def serve(port: int = PORT) -> None:
    """UDP echo on HOST:``port`` (run inside the upstream namespace)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        s.bind((HOST, port))
        print("ready", flush=True)
        while True:
            data, addr = s.recvfrom(2048)
            s.sendto(data, addr)


def load(count: int, window: int, timeout: float, port: int = PORT) -> None:
    """Send ``count`` echo probes keeping ``window`` in flight; print rate and RTTs."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        s.connect((HOST, port))
        s.setblocking(False)
        sent_at: dict[int, float] = {}
        rtts: list[float] = []
        nxt = 0
        t0 = time.monotonic()
        last_progress = t0
        while (nxt < count or sent_at) and time.monotonic() - last_progress < timeout:
            while nxt < count and len(sent_at) < window:
                sent_at[nxt] = time.monotonic()
                s.send(nxt.to_bytes(4, "big") + b"x" * 60)
                nxt += 1
            ready, _, _ = select.select([s], [], [], 0.05)
            if not ready:
                continue
            while True:
                try:
                    data = s.recv(2048)
                except BlockingIOError:
                    break
                started = sent_at.pop(int.from_bytes(data[:4], "big"), None)
                if started is not None:
                    rtts.append((time.monotonic() - started) * 1000)
                    last_progress = time.monotonic()
        elapsed = max(last_progress - t0, 1e-9)  # up to the last echo, not the final wait
    print(json.dumps({"rate": len(rtts) / elapsed, "received": len(rtts), "lost": len(sent_at),
                      "median_rtt_ms": statistics.median(rtts) if rtts else None}))  # fmt: skip


def client(layout_ns: str, *args: str) -> dict[str, float]:
    """Run ``python -m bench.vantages ARGS`` (the load client) at a vantage; its JSON."""
    done = subprocess.run(
        ["ip", "netns", "exec", layout_ns, sys.executable, "-m", "bench.vantages", *args],
        capture_output=True, text=True, check=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> int:
    if os.geteuid() != 0:
        print("bench.vantages: needs root (network namespaces); skipped")
        return 0
    subprocess.run(["ip", "netns", "del", UPSTREAM], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "add", UPSTREAM], check=True)
    run_dir = Path(tempfile.mkdtemp(prefix="fsv-bench-"))
    echo = None
    layouts = []
    try:
        subprocess.run(["ip", "-n", UPSTREAM, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", UPSTREAM, "addr", "add", f"{HOST}/32", "dev", "lo"], check=True)
        echo = subprocess.Popen(
            ["ip", "netns", "exec", UPSTREAM, sys.executable, "-m", "bench.vantages", "serve"],
            stdout=subprocess.PIPE, text=True, cwd=REPO,
        )  # fmt: skip
        assert echo.stdout is not None and echo.stdout.readline().strip() == "ready"
        cases = {
            "kernel": model.Vantage(name="bkernel", kind=model.Kind.DISTANT, delay_ms=0),
            # 1 ms: the smallest delay that puts the relay on the path
            "relay": model.distant(name="brelay", delay_ms=1),
            "relay150": model.distant(name="bfar", delay_ms=150),
        }
        subnets = {"kernel": "10.99.252.0/29", "relay": "10.99.252.8/29",
                   "relay150": "10.99.252.16/29"}  # fmt: skip
        results: dict[str, dict[str, float]] = {}
        for key, vantage in cases.items():
            layout = make_layout(vantage.name, upstream_ns=UPSTREAM, subnet=subnets[key],
                                 prefix="fsv-")  # fmt: skip
            layouts.append(layout)
            runner.up(vantage, layout, run_dir=run_dir)
            count, window = (600, 64) if key == "relay150" else (20000, WINDOW)
            results[key] = client(layout.client_ns, "load", str(count), str(window), "3")
            if key == "kernel":  # the unloaded RTT, the baseline for the added delay
                results["idle"] = client(layout.client_ns, "load", "200", "1", "3")
    finally:
        for layout in layouts:
            runner.down(layout, run_dir=run_dir)
        if echo is not None:
            echo.terminate()
            echo.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", UPSTREAM], capture_output=True, check=False)
    ratio = results["relay"]["rate"] / results["kernel"]["rate"]
    added = results["relay150"]["median_rtt_ms"] - results["idle"]["median_rtt_ms"]
    stats = [json.loads((run_dir / f"{v}-delay.log").read_text().splitlines()[-1])
             for v in ("brelay", "bfar")]  # fmt: skip
    dropped = sum(s["dropped_full"] for s in stats)
    print(f"kernel forwarding : {results['kernel']['rate']:9.0f} echoes/s")
    print(f"delay relay (1 ms): {results['relay']['rate']:9.0f} echoes/s   "
          f"ratio {ratio:.2f} (target >= {TARGET_RATIO})")  # fmt: skip
    print(f"relay 150 ms      : +{added:.1f} ms RTT (target {TARGET_ADDED_MS[0]:.0f}.."
          f"{TARGET_ADDED_MS[1]:.0f}); relay queue drops {dropped}")  # fmt: skip
    ok = ratio >= TARGET_RATIO and TARGET_ADDED_MS[0] <= added <= TARGET_ADDED_MS[1]
    return 0 if ok and dropped == 0 else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(*(int(a) for a in sys.argv[2:3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "load":
        load(
            int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), *(int(a) for a in sys.argv[5:6])
        )
    else:
        sys.exit(main())
