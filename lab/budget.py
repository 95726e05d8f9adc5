"""Attempts and time budgets that keep a vantage's loss and delay out of what a lab round
measures. No I/O: a pure function of the vantage's planted path (lab/vantages/truth.toml).

The lab indicator tests (tests/analysis/test_lab_indicators.py) demand the exact derived
value at every vantage, so at ``lossy`` (``drop`` of every ``every`` packets the client
sends, nft ``numgen inc``) and ``distant`` (``delay_ms`` each way) a lookup or handshake
may fail only when the planted truth makes it fail. docs/lab.md ("Loss, delay and exact
values") states the probabilities these numbers come from:

- A packet is lost with probability p = drop / every. The counter is deterministic, but
  a task's attempts are seconds apart (a timeout, then the engine's backoff) and the other
  tasks' packets fall between them, so its attempts meet independent counter positions;
  were a task's attempts the only packets, the counter loses at most ``drop`` consecutive
  sends, so ``drop + 1`` attempts could not all be lost at all.
- A task fails only when all k of its attempts fail (probes/engine/shard_runner.py):
  with per-attempt failure q, probability q**k; over n such tasks in a round, at most
  n * q**k. k is the smallest value that keeps this under :data:`ROUND_FLAKE_BUDGET`.
"""

from __future__ import annotations

from dataclasses import dataclass

from fragscope.lab.vantages.model import Vantage

# The chance, per round and per kind of task, we accept that the path (not the truth)
# changes a measured value.
ROUND_FLAKE_BUDGET = 1e-3
MIN_ATTEMPTS = 3  # retries = 2: issue 19, "a failure counts only when all k attempts fail"
# naming.resolve per attempt on a path without loss or delay: the slowest lookup (an
# EIP-3668 name through the Universal Resolver, its batch gateway and callback, then again
# through the registry walk) took 10-13 s from the host and up to 20 s from a namespace
# on a loaded machine (2 cores shared with the other tests' servers), where a 20 s
# deadline cut it and the retry moved N4.
BASE_DEADLINE_S = 45.0
# naming.resolve per HTTP request. A TCP connection's SYN is sent at 0, 1, 3 and 7 s
# (initial RTO 1 s, doubled on each timeout: RFC 6298 sections 2 and 5.5), so 8 s outlasts
# three lost SYNs (a lookup at lossy fails only when four in a row are lost), and a
# gateway bridge that asks the chain itself has time to answer on a loaded machine.
REQUEST_TIMEOUT_S = 8.0
SYNS_WITHIN_REQUEST_TIMEOUT = 4
# SYNs sent within a 2 s connect timeout (at 0 and 1 s): transport.tls at a lossy path.
SYNS_WITHIN_CONNECT_TIMEOUT = 2
# A naming.resolve lookup opens up to this many HTTP connections one after another
# (probes/naming/http.py: one request per connection): an EIP-3668 name from distant took
# longer than 15 s, i.e. more than 24 requests of two round trips each.
CONNECTIONS_PER_LOOKUP = 40
# path.udp443 sends per host: the baseline and the test SYN of each of its two A/B tests
# (ECN setup, an experimental TCP option) and one UDP/443 datagram.
PATH_PACKETS_PER_HOST = 5
# Extra deadline a lossy lookup may need: several of its connections waiting out a lost
# SYN (1 s, 3 s) or a lost request (RTO from 200 ms, doubling); an EIP-3668 name took 31 s.
LOSSY_EXTRA_DEADLINE_S = 40.0
# transport.sni's handshake steps per test: control first, real first, real repeat,
# control later (probes/transport/sni.py).
SNI_STEPS = 4


@dataclass(frozen=True)
class Budget:
    """Per-probe attempts and time for one vantage's campaign (lab/plan.py renders them)."""

    dns_attempts: int  # dns.query: one datagram per attempt
    naming_attempts: int  # naming.resolve lookups
    naming_timeout_s: float  # naming.resolve per request
    naming_deadline_s: float  # naming.resolve per attempt
    transport_attempts: int  # transport.tls / transport.quic pairs
    path_tries: int  # path.udp443: sends of each packet
    vn_attempts: int  # transport.quic_vn: one datagram per attempt
    sni_tries: int  # transport.sni: handshakes per step (its `tries`)

    def retries(self, attempts: int) -> int:
        return attempts - 1


def loss_rate(v: Vantage) -> float:
    return v.loss.drop / v.loss.every if v.loss is not None else 0.0


def attempts_needed(per_attempt_failure: float, tasks: int) -> int:
    """The least k >= MIN_ATTEMPTS with tasks * q**k <= ROUND_FLAKE_BUDGET."""
    if not 0.0 <= per_attempt_failure < 1.0:
        raise ValueError(f"per-attempt failure {per_attempt_failure} not in [0, 1)")
    k = MIN_ATTEMPTS
    while tasks * per_attempt_failure**k > ROUND_FLAKE_BUDGET:
        k += 1
    return k


def lookup_failure(p: float) -> float:
    """One naming.resolve attempt at loss rate p: one of its connections loses every SYN
    sent within the request timeout."""
    return 1 - (1 - p**SYNS_WITHIN_REQUEST_TIMEOUT) ** CONNECTIONS_PER_LOOKUP


def sni_deadline_s(tries: int, handshake_timeout_s: float, residual_s: float) -> float:
    """A transport.sni task's deadline: its four handshake steps all timing out, the VN
    probe, the wait for a residual block, and a margin for a loaded machine."""
    return SNI_STEPS * tries * handshake_timeout_s + handshake_timeout_s + residual_s + 10.0


def budget(
    v: Vantage,
    *,
    dns_queries: int,
    lookups: int,
    pairs: int,
    path_packets: int,
    sni_handshakes: int = 0,
) -> Budget:
    """The budget of vantage ``v`` for a round asking ``dns_queries`` dns.query tasks,
    ``lookups`` naming.resolve lookups, ``pairs`` transport pairs and sending
    ``path_packets`` path.udp443 packets (path.udp443 resends a packet itself: its tries
    are attempts, from 2 on a path without loss) and ``sni_handshakes`` transport.sni
    steps (a step fails only when all its tries are lost, at most 10)."""
    p = loss_rate(v)
    rtt_s = 2 * v.delay_ms / 1000
    # Each request of a lookup costs a connection and an exchange: two round trips.
    deadline = BASE_DEADLINE_S + CONNECTIONS_PER_LOOKUP * 2 * rtt_s
    return Budget(
        dns_attempts=attempts_needed(p, dns_queries),
        naming_attempts=attempts_needed(lookup_failure(p), lookups),
        naming_timeout_s=REQUEST_TIMEOUT_S,
        naming_deadline_s=deadline + (LOSSY_EXTRA_DEADLINE_S if p else 0.0),
        transport_attempts=attempts_needed(p**SYNS_WITHIN_CONNECT_TIMEOUT, pairs),
        path_tries=max(2, attempts_needed(p, path_packets)) if p else 2,
        vn_attempts=attempts_needed(p, pairs),
        sni_tries=min(10, attempts_needed(p**SYNS_WITHIN_CONNECT_TIMEOUT, max(1, sni_handshakes))),
    )
