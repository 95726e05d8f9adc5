"""Indicators checked against the lab's planted truth (issue 9, "Done when").

One round ("truth") of small real campaigns run by the real engine (`fragscope run`) with
the real probes against the lab of real servers (NSD, Knot, Unbound + RPZ, Hypercorn/aioquic,
Caddy): from the host (``clean``, the control) and from inside the ``censored`` and
``lossy`` vantages' namespaces (``ip netns exec fs-v-<name>``, as ``fragscope lab exec``),
all into one SQLite database. The indicators are then computed for the round and compared
with values DERIVED here from lab/truth.toml and lab/vantages/truth.toml, never with
numbers written into the test:

- N1 (resolver answer divergence) and N5 (namespace ambiguity): exact. Each vantage's own
  resolver (vantages truth) is the test resolver, the validating ICANN-like resolver over
  IPv6 the control; the manipulating resolver's planted rewrites and NXDOMAINs are the
  only differences, so censored - clean = the planted share of the names asked.
- T2 (UDP/443 blocking): exact. The share of (host, address) pairs with TCP and QUIC
  listeners whose address the censored vantage drops on UDP/443; 0 for clean.
- T1 (advertised-vs-reachable gap): exact for clean and censored (hosts advertising h3
  whose QUIC handshake cannot complete: no UDP listener, or dropped by the vantage).
- C1 (divergence to the control): bounded, not exact (JSD of outcome distributions): 0 for
  the control itself, > 0 for censored, and censored ranked farther than lossy (the
  campaigns retry timeouts twice, so loss is retried away and blocking is not).

Does I/O: runs subprocesses in network namespaces, talks only to lab addresses.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from analysis import scope
from analysis.compute import Computation, compute
from analysis.result import Estimate
from db.engine import make_engine
from lab import truth as lab_truth
from lab.vantages import facts as vantage_facts
from lab.vantages import lab_exec_argv
from lab.world import Lab

pytestmark = pytest.mark.timeout(280)

REPO = Path(__file__).resolve().parents[2]
ROUND = "truth"
VANTAGES = ("clean", "censored", "lossy")
# Names asked for A records besides the planted ones: they exist in the ICANN-like view and
# the manipulating resolver leaves them alone, so they carry no divergence.
PLAIN_NAMES = ("mail.example.test.", "mail.nsec.test.", "caddy.example.test.")


@dataclass(frozen=True)
class Plan:
    """What the campaigns ask, derived from the truth files (the test's inputs)."""

    names: tuple[str, ...]
    pins: tuple[tuple[str, str], ...]  # (host name, pinned address) for transport probes


def _icann_a(t: lab_truth.Truth, name: str) -> set[str]:
    return set(t.expected(name, "A", "icann"))


def make_plan(t: lab_truth.Truth) -> Plan:
    policy = t.resolvers["manip"].policy
    assert policy is not None
    planted = [*policy.rewrite, *policy.nxdomain]
    # Only names the control can answer: a planted NXDOMAIN for a name that does not exist
    # in the ICANN view (www.geek.) is no divergence, so it would only dilute the share.
    names = tuple(sorted(n for n in {*planted, *PLAIN_NAMES} if _icann_a(t, n)))
    pins = []
    for host in sorted(t.web.values(), key=lambda h: h.key):
        # One address per host (the engine keys a task by probe|name|endpoint): IPv4 when
        # the host has it, else IPv6 (the v6-only host).
        pins.append((host.name.rstrip("."), host.address or host.address6 or ""))
    return Plan(names=names, pins=tuple(pins))


def expected_n1(t: lab_truth.Truth, plan: Plan, resolver_address: str) -> float:
    """RAD of a vantage whose test resolver is ``resolver_address`` against the ICANN-like
    control: the share of names whose answers share no address and differ in rcode class."""
    manip = t.resolvers["manip"]
    if resolver_address != manip.address:
        return 0.0  # the validating ICANN-like resolver: the control's own view
    policy = manip.policy
    assert policy is not None
    divergent = 0
    for name in plan.names:
        control = _icann_a(t, name)
        if name in policy.nxdomain:
            divergent += 1  # NXDOMAIN against NOERROR with addresses
        elif name in policy.rewrite:
            divergent += 0 if policy.rewrite[name] in control else 1
    return divergent / len(plan.names)


def eligible_pairs(t: lab_truth.Truth, plan: Plan) -> list[tuple[str, str]]:
    """T2's denominator: pinned (host, address) pairs with a TCP listener and QUIC that
    works from the control."""
    by_name = {h.name.rstrip("."): h for h in t.web.values()}
    return [(n, a) for n, a in plan.pins if by_name[n].has_tcp and by_name[n].has_udp]


def expected_t2(t: lab_truth.Truth, plan: Plan, vantage: str) -> float:
    v = vantage_facts.load()[vantage]
    dropped = {str(b.address) for b in v.blocks if b.action.value == "drop" and b.port == 443}
    pairs = eligible_pairs(t, plan)
    return sum(1 for _, a in pairs if a in dropped) / len(pairs)


def expected_t1(t: lab_truth.Truth, plan: Plan, vantage: str) -> float:
    """QARG: of the hosts advertising h3 (Alt-Svc on a TLS response, or h3 in the HTTPS
    record), the share whose QUIC handshake cannot complete from this vantage."""
    v = vantage_facts.load()[vantage]
    blocked = {str(b.address) for b in v.blocks if b.port == 443}
    by_name = {h.name.rstrip("."): h for h in t.web.values()}
    adv = [(n, a) for n, a in plan.pins if by_name[n].alt_svc == "h3" and by_name[n].has_tcp]
    gap = sum(1 for n, a in adv if not by_name[n].has_udp or a in blocked)
    return gap / len(adv)


def campaign_text(t: lab_truth.Truth, plan: Plan, vantage: str, targets_dir: Path) -> str:
    own = str(vantage_facts.load()[vantage].resolver)
    control6 = t.resolvers["icann"].address6
    ca = t.ca_file
    return f"""
name = "truth-{vantage}"
vantage = "{vantage}"
round = "{ROUND}"

[[targets]]
list = "names"
file = "{targets_dir / "names.txt"}"
format = "lines"
namespace = "icann"

[[targets]]
list = "hosts"
file = "{targets_dir / "hosts.csv"}"
namespace = "icann"

[[endpoints]]
url = "udp://{own}"
label = "own"
operator = "vantage"
role = "test"

[[endpoints]]
url = "udp://[{control6}]"
label = "control"
operator = "lab-icann"
role = "control"

[probes."dns.query"]
lists = ["names"]
qtypes = ["A"]
timeout_s = 1.0

[probes."transport.tls"]
lists = ["hosts"]
ca_file = "{ca}"
connect_timeout_s = 2.0
handshake_timeout_s = 2.0
http_timeout_s = 2.0

[probes."transport.quic"]
lists = ["hosts"]
ca_file = "{ca}"
handshake_timeout_s = 2.0
http_timeout_s = 2.0

# Retries separate loss from blocking, as a real campaign would: a pair is ok when any
# attempt worked, so the lossy vantage's dropped packets are retried away while the
# censored vantage's deterministic drops time out on every attempt.
[limits]
concurrency = 16
deadline = 8.0
retries = 2
backoff = 0.05
rate = 200
burst = 20

[safety]
allowed = ["10.99.0.0/16", "fd99::/16"]
"""


def run_vantage(lab: Lab, plan: Plan, vantage: str, db: Path, work: Path) -> None:
    toml = work / f"truth-{vantage}.toml"
    text = campaign_text(lab.truth, plan, vantage, work)
    toml.write_text(text.replace(f'"{lab.truth.ca_file}"', f'"{lab.ca_file}"'))
    argv = [
        sys.executable,
        "-c",
        "import cli; cli.main()",
        "run",
        "--campaign",
        str(toml),
        "--db",
        str(db),
        "--auto-migrate",
        "--no-progress",
    ]
    env = {**os.environ, "FRAGSCOPE_ALLOWED_NETS": "10.99.0.0/16,fd99::/16"}
    done = subprocess.run(
        lab_exec_argv(vantage, argv),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # 0 = finished; network failures (the planted ones) are data, not errors.
    assert done.returncode == 0, (vantage, done.stdout, done.stderr)


@dataclass
class Round:
    plan: Plan
    truth: lab_truth.Truth
    comp: Computation
    by_label: dict[str, dict[str, Estimate]]


@pytest.fixture(scope="module")
def lab_round(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Round:
    t = lab.truth
    plan = make_plan(t)
    work = tmp_path_factory.mktemp("lab-indicators")
    (work / "names.txt").write_text("".join(n.rstrip(".") + "\n" for n in plan.names))
    (work / "hosts.csv").write_text(
        "".join(f"{i},{n},{a}\n" for i, (n, a) in enumerate(plan.pins, start=1))
    )
    db = work / "round.sqlite"
    for vantage in VANTAGES:
        run_vantage(lab, plan, vantage, db, work)
    engine = make_engine(str(db))
    runs = scope.select_runs(engine, run="latest", round_name=ROUND)
    comp = compute(engine, runs, mapping=None)
    labels = {r.id: r.vantage_label for r in comp.runs}
    by_label: dict[str, dict[str, Estimate]] = {}
    for e in comp.estimates:
        by_label.setdefault(labels[e.run_id], {})[e.code] = e
    engine.dispose()
    return Round(plan=plan, truth=t, comp=comp, by_label=by_label)


def _exact(e: Estimate, expected: float) -> None:
    assert e.value is not None, (e.code, e.reason)
    assert e.value == pytest.approx(expected, abs=1e-12), (e.code, e.value, expected, e.params)
    assert e.ci_low is not None and e.ci_high is not None
    assert e.ci_low - 1e-12 <= expected <= e.ci_high + 1e-12, (e.code, e.ci_low, e.ci_high)


def test_round_has_the_three_vantages(lab_round: Round) -> None:
    assert set(lab_round.by_label) == set(VANTAGES)


def test_n1_moves_by_exactly_the_planted_rewrites(lab_round: Round) -> None:
    t, plan = lab_round.truth, lab_round.plan
    vantages = vantage_facts.load()
    clean = lab_round.by_label["clean"]["N1"]
    censored = lab_round.by_label["censored"]["N1"]
    exp_clean = expected_n1(t, plan, str(vantages["clean"].resolver))
    exp_censored = expected_n1(t, plan, str(vantages["censored"].resolver))
    assert exp_clean == 0.0 and exp_censored > 0  # the derivation itself is not vacuous
    _exact(clean, exp_clean)
    _exact(censored, exp_censored)
    assert censored.value - clean.value == pytest.approx(exp_censored - exp_clean)
    assert censored.n == clean.n == len(plan.names)


def test_n5_equals_the_planted_share_per_vantage(lab_round: Round) -> None:
    # N5 over every resolver of the run (own + control): the same names are ambiguous.
    t, plan = lab_round.truth, lab_round.plan
    vantages = vantage_facts.load()
    for label in ("clean", "censored"):
        _exact(lab_round.by_label[label]["N5"], expected_n1(t, plan, str(vantages[label].resolver)))


def test_t2_equals_the_planted_udp443_blocking(lab_round: Round) -> None:
    t, plan = lab_round.truth, lab_round.plan
    exp = expected_t2(t, plan, "censored")
    assert 0 < exp < 1
    _exact(lab_round.by_label["censored"]["T2"], exp)
    _exact(lab_round.by_label["clean"]["T2"], expected_t2(t, plan, "clean"))
    assert lab_round.by_label["clean"]["T2"].value == 0.0
    n_pairs = len(eligible_pairs(t, plan))
    assert lab_round.by_label["censored"]["T2"].params["pairs"] == n_pairs


def test_t1_equals_the_advertised_but_unreachable_share(lab_round: Round) -> None:
    t, plan = lab_round.truth, lab_round.plan
    for label in ("clean", "censored"):
        _exact(lab_round.by_label[label]["T1"], expected_t1(t, plan, label))
    assert lab_round.by_label["censored"]["T1"].value > lab_round.by_label["clean"]["T1"].value


def test_c1_ranks_censored_farther_than_lossy(lab_round: Round) -> None:
    c1 = {label: lab_round.by_label[label]["C1"] for label in VANTAGES}
    # The control against itself: no divergence at all.
    assert c1["clean"].value == 0.0, c1["clean"]
    assert c1["censored"].value is not None and c1["censored"].value > 0, c1["censored"]
    lossy = c1["lossy"].value if c1["lossy"].value is not None else 0.0
    assert c1["censored"].value > lossy, (c1["censored"], c1["lossy"])
    # Documented bound: JSD in bits lies in [0, 1].
    for e in c1.values():
        assert e.value is None or 0.0 <= e.value <= 1.0
