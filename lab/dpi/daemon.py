"""The DPI censor process: binds an NFQUEUE in a vantage's middlebox namespace and applies
:mod:`inline`'s verdicts or installs :mod:`residual`'s blocks. Does I/O (netlink through
the netfilterqueue binding, ``nft`` for the residual set). Run inside the namespace::

    ip netns exec fs-m-dpi-inline python -m fragscope.lab.dpi.daemon --mode inline \
        --queue 0 --block-sni www.example.test --block-ech --tcp-action reset

The nftables rules that queue packets to it are lab.vantages.nft's; they match only
packets from the vantage's client towards lab addresses, inside the middlebox namespace,
so the host's own traffic never reaches it. Prints ``ready ...`` once bound, one JSON
line per block, and one JSON line of counters when stopped by SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import select
import signal
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from netfilterqueue import NetfilterQueue

from fragscope.lab.dpi.inline import Blocked, InlineEngine, Verdict
from fragscope.lab.dpi.policy import (
    RESET_MARK,
    RESIDUAL_SET4,
    RESIDUAL_SET6,
    DpiPolicy,
    Mode,
    TcpAction,
    blocked_names,
)
from fragscope.lab.dpi.residual import ResidualBlock, ResidualEngine

QUEUE_MAXLEN = 4096


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record, default=str), flush=True)


def residual_element_argv(table: str, block: ResidualBlock) -> list[str]:
    """``nft add element`` for one residual block: the set's own timeout removes it."""
    family_set = RESIDUAL_SET4 if block.client.version == 4 else RESIDUAL_SET6
    ms = max(1, round(block.seconds * 1000))
    element = f"{{ {block.client} . {block.server} . {block.port} timeout {ms}ms }}"
    return ["nft", "add", "element", "inet", table, family_set, element]


class Censor:
    """Glue between the queue and an engine; counts what it did."""

    def __init__(self, policy: DpiPolicy, table: str) -> None:
        self.policy, self.table = policy, table
        self.counts = {"accept": 0, "drop": 0, "reset": 0, "residual_blocks": 0, "nft_errors": 0}
        self.inline = InlineEngine(policy, on_block=self._log_block)
        self.residual = ResidualEngine(policy)

    def _log_block(self, blocked: Blocked) -> None:
        proto, src, sport, dst, dport = blocked.flow
        _emit({"block": blocked.reason.value, "sni": blocked.sni, "proto": proto,
               "client": f"{src}:{sport}", "server": f"{dst}:{dport}"})  # fmt: skip

    def on_inline(self, pkt: Any) -> None:
        verdict = self.inline.handle(pkt.get_payload())
        self.counts[verdict.value] += 1
        if verdict is Verdict.ACCEPT:
            pkt.accept()
        elif verdict is Verdict.DROP:
            pkt.drop()
        else:
            # Accepted with the mark set: the middlebox's next forward chain (priority
            # after the queue's, lab.vantages.nft.dpi_chains) rejects it with a TCP RST.
            pkt.set_mark(RESET_MARK)
            pkt.accept()

    def on_residual(self, pkt: Any) -> None:
        raw = pkt.get_payload()
        pkt.accept()  # the original goes on at once: the analyser works on its copy
        self.counts["accept"] += 1
        block = self.residual.observe(raw)
        if block is None:
            return
        done = subprocess.run(
            residual_element_argv(self.table, block), capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            self.counts["nft_errors"] += 1
            _emit({"nft_error": done.stderr.strip()})
            return
        self.counts["residual_blocks"] += 1
        _emit({"block": "residual", "sni": block.sni, "client": str(block.client),
               "server": f"{block.server}:{block.port}", "seconds": block.seconds})  # fmt: skip


def policy_from_args(args: argparse.Namespace) -> DpiPolicy:
    return DpiPolicy(
        mode=Mode(args.mode),
        blocked_sni=blocked_names(args.block_sni),
        block_ech=args.block_ech,
        tcp_action=TcpAction(args.tcp_action),
        residual_s=args.residual_s,
        trigger_probability=args.probability,
        seed=args.seed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fragscope.lab.dpi.daemon", description=__doc__)
    parser.add_argument("--mode", choices=[m.value for m in Mode], required=True)
    parser.add_argument("--queue", type=int, default=0, help="NFQUEUE number")
    parser.add_argument("--table", default="fragscope_vantage", help="nft table (inet)")
    parser.add_argument("--block-sni", action="append", default=[], help="blocked host name")
    parser.add_argument("--block-ech", action="store_true", help="block ClientHellos with ECH")
    parser.add_argument("--tcp-action", choices=[a.value for a in TcpAction], default="drop")
    parser.add_argument("--residual-s", type=float, default=10.0)
    parser.add_argument("--probability", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        policy = policy_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    censor = Censor(policy, args.table)
    callback = censor.on_inline if policy.mode is Mode.INLINE else censor.on_residual
    queue = NetfilterQueue()
    try:
        queue.bind(args.queue, callback, max_len=QUEUE_MAXLEN)
    except OSError as exc:
        print(f"dpi censor: cannot bind NFQUEUE {args.queue}: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    poller = select.poll()
    poller.register(queue.get_fd(), select.POLLIN)
    print(f"ready mode={policy.mode.value} queue={args.queue}", flush=True)
    try:
        while True:
            poller.poll()
            queue.run(block=False)
    except _Stop:
        pass
    finally:
        queue.unbind()
    stats = {**censor.counts, "packets": censor.inline.packets + censor.residual.seen,
             "matched": censor.residual.matched, "spared": censor.residual.spared}  # fmt: skip
    with contextlib.suppress(OSError):
        _emit(stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
