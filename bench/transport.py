"""Transport benchmark: fragscope's QUIC and VN probes against bare loops, same run. Does I/O.

Starts one Hypercorn/aioquic host on loopback (lab.web) and measures, interleaved so both
sides see the same machine load:
- QUIC handshakes/s through ``transport.quic`` (certificate verdict included, no HTTP)
  against a bare aioquic client loop doing the same handshakes (target ratio >= 0.8);
- VN probes/s through ``transport.quic_vn`` against a bare asyncio UDP loop sending the
  same 1200-byte packets on the same kind of connected socket (target ratio >= 0.5);
- handshakes/s through ``transport.sni`` (each task: four handshakes, control and real
  SNI, plus for QUIC a VN probe that counts for nothing) against the bare aioquic loop
  and a bare ssl-over-asyncio loop (target ratio >= 0.8 for each transport);
- handshakes/s through ``transport.ech``'s A/B test (each task: three hand-built TLS 1.3
  handshakes, no ECH, GREASE ECH and real ECH sealed with HPKE, up to the server's
  Certificate, decrypted) against a bare ssl-over-asyncio loop to the same Caddy 2.11 ECH
  host (target ratio >= 0.8).
Bounded in count and time; loopback only. Prints the figures; ``main()`` returns 1 when a
target is missed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, QuicEvent

from fragscope.lab.core.pki import make_pki
from fragscope.lab.core.ports import free_port
from fragscope.lab.truth import load as load_truth
from fragscope.lab.web import hosts, runner
from fragscope.probes.base import Observation, Task
from fragscope.probes.safety import NetworkPolicy
from fragscope.probes.transport.common import destination
from fragscope.probes.transport.ech import EchProbe, EchProbeConfig
from fragscope.probes.transport.ech_config import parse_ech_config_list
from fragscope.probes.transport.quic import QuicConfig, QuicProbe
from fragscope.probes.transport.quic_wire import build_initial
from fragscope.probes.transport.sni import SniConfig, SniProbe
from fragscope.probes.transport.vn import VnConfig, VnProbe

ADDRESS = "127.77.10.1"
ECH_ADDRESS = "127.77.10.2"
QUIC_TARGET = 0.8
VN_TARGET = 0.5
SNI_TARGET = 0.8
SNI_TASKS = int(os.environ.get("FRAGSCOPE_BENCH_SNI", "64"))
SNI_HANDSHAKES = 4  # control, real, real again, control again (no loss: one try each)
ECH_TARGET = 0.8
ECH_TASKS = int(os.environ.get("FRAGSCOPE_BENCH_ECH", "64"))
ECH_HANDSHAKES = 3  # control, GREASE, real ECH (no loss: one try each)
HANDSHAKES = int(os.environ.get("FRAGSCOPE_BENCH_HANDSHAKES", "240"))
HANDSHAKE_CONCURRENCY = 8
VN_PROBES = int(os.environ.get("FRAGSCOPE_BENCH_VN", "4000"))
VN_CONCURRENCY = 64
TIME_CAP_S = 20.0
ROUNDS = 8


async def _pool(
    n: int, concurrency: int, one: Callable[[int], Awaitable[bool]]
) -> tuple[float, int]:
    """Run ``one(i)`` n times, ``concurrency`` at once; returns (ops/s, successes)."""
    sem = asyncio.Semaphore(concurrency)
    ok = 0
    deadline = time.monotonic() + TIME_CAP_S

    async def guarded(i: int) -> None:
        nonlocal ok
        async with sem:
            if time.monotonic() < deadline and await one(i):
                ok += 1

    t = time.perf_counter()
    await asyncio.gather(*(guarded(i) for i in range(n)))
    return ok / (time.perf_counter() - t), ok


# --- QUIC -----------------------------------------------------------------------------------


class _Bare(QuicConnectionProtocol):
    def __init__(self, quic: QuicConnection, **kw: Any) -> None:
        super().__init__(quic, **kw)
        self.done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, HandshakeCompleted | ConnectionTerminated) and not self.done.done():
            self.done.set_result(isinstance(event, HandshakeCompleted))


async def bare_handshake(port: int, ca: str) -> bool:
    cfg = QuicConfiguration(is_client=True, alpn_protocols=["h3"], server_name="www.example.test")
    cfg.verify_mode = ssl.CERT_REQUIRED
    cfg.load_verify_locations(ca)
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: _Bare(QuicConnection(configuration=cfg)), remote_addr=(ADDRESS, port)
    )
    try:
        proto.connect(transport.get_extra_info("peername"), transmit=True)
        return await asyncio.wait_for(proto.done, 5.0)
    except TimeoutError:
        return False
    finally:
        proto.close()  # CONNECTION_CLOSE, then transmit
        transport.close()  # no draining, like the probe


def _through(probe: Any, port: int) -> Callable[[int], Awaitable[bool]]:
    """The fragscope side of a round: measurement ``i`` of the bench host by ``probe``."""

    async def through_probe(i: int) -> bool:
        task = Task(
            key=f"bench/{i}",
            probe=probe.name,
            target="www.example.test",
            params={"address": ADDRESS, "port": port},
            deadline_s=5.0,
        )
        return (await probe.measure(task)).ok

    return through_probe


async def quic_round(
    port: int, ca: str, n: int, *, ours_first: bool = False
) -> tuple[float, float]:
    policy = NetworkPolicy.from_env()
    probe = QuicProbe(QuicConfig(ca_file=ca, http=False, port=port), policy=policy)
    through_probe = _through(probe, port)

    if ours_first:
        ours, ours_ok = await _pool(n, HANDSHAKE_CONCURRENCY, through_probe)
    bare, bare_ok = await _pool(n, HANDSHAKE_CONCURRENCY, lambda i: bare_handshake(port, ca))
    if not ours_first:
        ours, ours_ok = await _pool(n, HANDSHAKE_CONCURRENCY, through_probe)
    if bare_ok < n * 0.9 or ours_ok < n * 0.9:
        print(f"  warning: handshakes ok bare={bare_ok}/{n} fragscope={ours_ok}/{n}")
    return ours, bare


# --- VN ---------------------------------------------------------------------------------------


async def bare_vn(port: int) -> bool:
    loop = asyncio.get_running_loop()
    packet = build_initial(0x1A2A3A4A, os.urandom(8), os.urandom(8))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        s.connect((ADDRESS, port))
        await loop.sock_sendall(s, packet)
        try:
            async with asyncio.timeout(2.0):
                data = await loop.sock_recv(s, 65535)
        except TimeoutError:
            return False
        return data[1:5] == b"\0\0\0\0"


async def vn_round(port: int, n: int, *, ours_first: bool = False) -> tuple[float, float]:
    probe = VnProbe(VnConfig(port=port), policy=NetworkPolicy.from_env())
    through_probe = _through(probe, port)

    if ours_first:
        ours, _ = await _pool(n, VN_CONCURRENCY, through_probe)
    bare, _ = await _pool(n, VN_CONCURRENCY, lambda i: bare_vn(port))
    if not ours_first:
        ours, _ = await _pool(n, VN_CONCURRENCY, through_probe)
    return ours, bare


# --- SNI A/B -----------------------------------------------------------------------------


async def bare_tls(
    port: int, ca: str, address: str = ADDRESS, name: str = "www.example.test"
) -> bool:
    ctx = ssl.create_default_context(cafile=ca)
    try:
        async with asyncio.timeout(5.0):
            _, writer = await asyncio.open_connection(address, port, ssl=ctx, server_hostname=name)
    except (TimeoutError, OSError):
        return False
    writer.transport.abort()
    return True


async def sni_round(
    port: int, ca: str, transport: str, n: int, *, ours_first: bool = False
) -> tuple[float, float]:
    """(handshakes/s through transport.sni, handshakes/s of the bare loop)."""
    cfg = SniConfig(port=port, ca_file=ca, transports=(transport,), tries=1, control_sni="x.test")
    probe = SniProbe(cfg, policy=NetworkPolicy.from_env())

    async def through_probe(i: int) -> bool:
        task = Task(
            key=f"bench/sni/{i}",
            probe=probe.name,
            target="www.example.test",
            params={"address": ADDRESS, "port": port, "transport": transport},
            deadline_s=30.0,
        )
        return (await probe.measure(task)).fields.get("verdict") == "ok"

    def bare(i: int) -> Awaitable[bool]:
        return bare_handshake(port, ca) if transport == "quic" else bare_tls(port, ca)

    concurrency = max(1, HANDSHAKE_CONCURRENCY // 2)
    if ours_first:
        ours, _ = await _pool(n, concurrency, through_probe)
    bare_rate, _ = await _pool(n * SNI_HANDSHAKES, concurrency, bare)
    if not ours_first:
        ours, _ = await _pool(n, concurrency, through_probe)
    return ours * SNI_HANDSHAKES, bare_rate


# --- ECH A/B -----------------------------------------------------------------------------


async def ech_round(port: int, ca: str, n: int, *, ours_first: bool = False) -> tuple[float, float]:
    """(handshakes/s through transport.ech's A/B test, handshakes/s of the bare ssl loop)."""
    fact = load_truth().web["ech"]
    name = fact.name.rstrip(".")
    [config] = parse_ech_config_list(fact.ech_config_list() or b"")
    probe = EchProbe(EchProbeConfig(port=port, ca_file=ca, tries=1))
    dest = destination(name, {"address": ECH_ADDRESS, "port": port}, port)

    async def through_probe(i: int) -> bool:
        obs = Observation(
            table=probe.table, target=name, endpoint=None, started_at=probe.clock.now()
        )
        fields: dict[str, Any] = {"ech_published": True}
        await probe.ab_test(dest, config, fields, obs)
        return fields["verdict"] == "ech_accepted"

    def bare(i: int) -> Awaitable[bool]:
        return bare_tls(port, ca, ECH_ADDRESS, name)

    concurrency = max(1, HANDSHAKE_CONCURRENCY // 2)
    if ours_first:
        ours, _ = await _pool(n, concurrency, through_probe)
    bare_rate, _ = await _pool(n * ECH_HANDSHAKES, concurrency, bare)
    if not ours_first:
        ours, _ = await _pool(n, concurrency, through_probe)
    return ours * ECH_HANDSHAKES, bare_rate


def main() -> int:
    os.environ.setdefault("FRAGSCOPE_ALLOWED_NETS", "127.0.0.0/8,::1/128")
    with tempfile.TemporaryDirectory(prefix="fragscope-bench-") as tmp:
        run_dir = Path(tmp)
        pki = make_pki(run_dir / "pki")
        port = free_port([ADDRESS])
        host = hosts.hypercorn_h3(ADDRESS, port, pki.cert, pki.key, run_dir)
        ech_port = free_port([ECH_ADDRESS])
        ech_fact = load_truth().web["ech"]
        ech_host = hosts.caddy_ech(ECH_ADDRESS, ech_port, pki.cert, pki.key, run_dir, fact=ech_fact)
        running = runner.start(host)
        running_ech = runner.start(ech_host)
        try:
            runner.wait_ready([running, running_ech])
            ca = str(pki.ca)
            asyncio.run(quic_round(port, ca, 10))  # warm-up: imports, trust store, server
            # Rounds alternate which side goes first, so drift in the machine's load
            # (2 shared cores) does not favour either side.
            quic = [
                asyncio.run(quic_round(port, ca, HANDSHAKES // ROUNDS, ours_first=i % 2 == 1))
                for i in range(ROUNDS)
            ]
            vn = [
                asyncio.run(vn_round(port, VN_PROBES // ROUNDS, ours_first=i % 2 == 1))
                for i in range(ROUNDS)
            ]
            sni = {
                t: [
                    asyncio.run(sni_round(port, ca, t, SNI_TASKS // ROUNDS, ours_first=i % 2 == 1))
                    for i in range(ROUNDS)
                ]
                for t in ("tcp", "quic")
            }
            asyncio.run(ech_round(ech_port, ca, 4))  # warm-up: the HPKE and X25519 imports
            ech = [
                asyncio.run(ech_round(ech_port, ca, ECH_TASKS // ROUNDS, ours_first=i % 2 == 1))
                for i in range(ROUNDS)
            ]
        finally:
            runner.stop(running)
            runner.stop(running_ech)
    q_ours = statistics.median(o for o, _ in quic)
    q_bare = statistics.median(b for _, b in quic)
    v_ours = statistics.median(o for o, _ in vn)
    v_bare = statistics.median(b for _, b in vn)
    # The ratio is the median of per-round ratios: each round pairs both sides under the
    # same load, which the shared machine changes from one second to the next.
    q_ratio = statistics.median(o / b for o, b in quic)
    v_ratio = statistics.median(o / b for o, b in vn)
    rounds = " ".join(f"{o / b:.2f}" for o, b in quic)
    print(f"transport: medians of {ROUNDS} alternating rounds; QUIC ratio per round: {rounds}")
    print(
        f"transport: QUIC handshakes/s  fragscope {q_ours:8.1f}  bare aioquic {q_bare:8.1f}  "
        f"ratio {q_ratio:.2f} (target >= {QUIC_TARGET}, concurrency {HANDSHAKE_CONCURRENCY})"
    )
    print(
        f"transport: VN probes/s        fragscope {v_ours:8.1f}  bare UDP loop {v_bare:7.1f}  "
        f"ratio {v_ratio:.2f} (target >= {VN_TARGET}, {VN_CONCURRENCY} in flight)"
    )
    sni_ok = True
    for t, rounds_ in sni.items():
        ratio = statistics.median(o / b for o, b in rounds_)
        sni_ok &= ratio >= SNI_TARGET
        print(
            f"transport: SNI A/B {t:<4} handshakes/s  fragscope "
            f"{statistics.median(o for o, _ in rounds_):8.1f}  bare "
            f"{'aioquic' if t == 'quic' else 'ssl'} {statistics.median(b for _, b in rounds_):8.1f}"
            f"  ratio {ratio:.2f} (target >= {SNI_TARGET})"
        )
    e_ratio = statistics.median(o / b for o, b in ech)
    print(
        f"transport: ECH A/B tcp  handshakes/s  fragscope "
        f"{statistics.median(o for o, _ in ech):8.1f}  bare ssl "
        f"{statistics.median(b for _, b in ech):8.1f}  ratio {e_ratio:.2f} (target >= {ECH_TARGET})"
    )
    ech_ok = e_ratio >= ECH_TARGET
    return 0 if q_ratio >= QUIC_TARGET and v_ratio >= VN_TARGET and sni_ok and ech_ok else 1


if __name__ == "__main__":
    sys.exit(main())
