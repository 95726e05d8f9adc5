"""The same-path control (analysis.pathcontrol) on the synthetic planted world
(tests/fixtures/analysis.py): the lossy vantage loses QUIC to t0, and its control target
(role control) lost QUIC too, in the same window or long before."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from fragscope.analysis import asn, compute, pathcontrol, scope
from fragscope.db.ids import row_id, vantage_id
from fragscope.db.writer import Writer, spec_for
from tests.fixtures.analysis import (
    STANDARD_PLANTS,
    T0,
    add_dns_world,
    build_world,
    envelope,
    foreign_insert,
)

CONTROL = "control.example.test"


def control_rows(
    failed_at: dt.timedelta, *, then_answered: bool = False
) -> Callable[[Engine, dict[str, str]], None]:
    """Every run lists CONTROL as a control target; its one QUIC attempt works, except at
    lossy, where it fails ``failed_at`` after the test rows' time (and, with
    ``then_answered``, its retry a second later works)."""

    def add(engine: Engine, runs: dict[str, str]) -> None:
        targets, quic = spec_for("targets"), spec_for("quic_observations")
        rows = []
        for n, (label, run_id) in enumerate(sorted(runs.items())):
            vid = vantage_id(label, "synthetic")
            rows.append(
                (targets, targets.row(id=9000 + n, run_id=run_id, name=CONTROL,
                                      list="path-control", namespace="icann", role="control"))
            )  # fmt: skip
            env = envelope(run_id, vid, "transport.quic", CONTROL, "10.99.80.99")
            base = {"address": "10.99.80.99", "port": 443, "ip_version": 4, "sni": CONTROL}
            if label == "lossy":
                env["started_at"] = T0 + failed_at
                fields = {"stage": "initial_sent", "failure": "quic_no_reply",
                          "failed_operation": "quic_handshake"}  # fmt: skip
            else:
                fields = {"stage": "http_done", "quic_version": 1, "alpn": "h3"}
            rows.append((quic, quic.row(**env, **base, offered_versions=[1], **fields)))
            if label == "lossy" and then_answered:
                retry = {**env, "attempt": 1, "started_at": env["started_at"] + dt.timedelta(1)}
                retry["id"] = row_id(run_id, env["task_key"], 1)
                done = {"stage": "http_done", "quic_version": 1, "alpn": "h3"}
                rows.append((quic, quic.row(**retry, **base, offered_versions=[1], **done)))
        Writer(engine).write(rows)

    return add


def estimate_in_world(
    db: Path, extra: Callable[[Engine, dict[str, str]], None], code: str, label: str
) -> compute.Estimate:
    """Indicator ``code`` at vantage ``label`` of the planted world with ``extra`` rows."""
    w = build_world(f"sqlite:///{db}", STANDARD_PLANTS, extra=extra)
    try:
        runs = scope.select_runs(w.engine, round_name="r1")
        c = compute.compute(w.engine, runs, mapping=asn.load_lab())
    finally:
        w.engine.dispose()
    (found,) = [e for e in c.estimates if e.code == code and e.run_id == w.runs[label]]
    return found


def lossy_t2(
    tmp_path: Path, failed_at: dt.timedelta, *, then_answered: bool = False
) -> compute.Estimate:
    extra = control_rows(failed_at, then_answered=then_answered)
    return estimate_in_world(tmp_path / "w.sqlite", extra, "T2", "lossy")


def test_a_failure_the_same_path_control_shares_is_discarded(tmp_path: Path) -> None:
    # Without a control the plant gives lossy T2 = 1/8 (t0's QUIC lost): loss read as
    # blocking. The control's QUIC failed in the same window, so t0 is left out.
    t2 = lossy_t2(tmp_path, dt.timedelta(seconds=3))
    assert t2.value == 0.0 and t2.n == 7, t2
    assert t2.params["path_control_discarded"] == 1


def test_a_control_that_lost_an_attempt_then_answered_explains_nothing(tmp_path: Path) -> None:
    # The control's first attempt was lost in the window, its retry worked: the path loses
    # packets but was not down, so t0's failure on every attempt still counts.
    t2 = lossy_t2(tmp_path, dt.timedelta(seconds=3), then_answered=True)
    assert t2.value == 1 / 8 and t2.n == 8, t2
    assert t2.params["path_control_discarded"] == 0


def test_a_control_failure_outside_the_window_explains_nothing(tmp_path: Path) -> None:
    t2 = lossy_t2(tmp_path, dt.timedelta(seconds=pathcontrol.WINDOW_S + 50))
    assert t2.value == 1 / 8 and t2.n == 8, t2
    assert t2.params["path_control_discarded"] == 0


# -- naming lookups (N4): the control resolver and the control host's TLS ------------------


def naming_controls(
    dns_failed_at: dt.timedelta | None, tls_failed_at: dt.timedelta | None
) -> Callable[[Engine, dict[str, str]], None]:
    """The censored vantage's naming world (tests/fixtures/analysis.py NAMING_PLANT: its
    eth.limo lookup of vitalik.eth got no answer), one more opennic lookup over DNS that got
    none, and at that vantage a control resolver query and a control-host TLS attempt that
    fail ``*_failed_at`` after the rows' time (None: they work)."""

    def add(engine: Engine, runs: dict[str, str]) -> None:
        add_dns_world(engine, runs, "censored")
        vid, run_id = vantage_id("censored", "synthetic"), runs["censored"]
        lost = envelope(run_id, vid, "naming.resolve", "lost.geek", "dns:opennic-lab")
        lookup = {"namespace": "opennic", "name": "lost.geek", "name_normalized": "lost.geek",
                  "method": "dns", "endpoint_namespace": "opennic",
                  "endpoint_operator": "opennic-lab", "depends_on_icann_dns": False,
                  "outcome": None, "failure": "generic_timeout_error"}  # fmt: skip
        foreign_insert(engine, "naming_observations", [{**lost, **lookup}])
        env = envelope(run_id, vid, "dns.query", "control.example.test", "udp://10.99.53.99")
        query = {"qname": "control.example.test", "qtype": "A", "transport": "udp",
                 "resolver_address": "10.99.53.99", "resolver_port": 53,
                 "resolver_role": "control", "resolver_namespace": "icann"}  # fmt: skip
        if dns_failed_at is not None:
            env["started_at"] = T0 + dns_failed_at
            query |= {"failure": "generic_timeout_error", "failed_operation": "dns_round_trip"}
        else:
            query |= {"rcode": 0, "rcode_name": "NOERROR"}
        foreign_insert(engine, "dns_observations", [{**env, **query}])
        targets, tls = spec_for("targets"), spec_for("tls_observations")
        env = envelope(run_id, vid, "transport.tls", CONTROL, "10.99.80.99")
        base = {"address": "10.99.80.99", "port": 443, "ip_version": 4, "sni": CONTROL}
        if tls_failed_at is not None:
            env["started_at"] = T0 + tls_failed_at
            fields = {"failure": "generic_timeout_error", "failed_operation": "connect"}
        else:
            fields = {"tls_version": "TLSv1.3", "connect_ms": 1.0}
        Writer(engine).write(
            [
                (targets, targets.row(id=9900, run_id=run_id, name=CONTROL,
                                      list="path-control", namespace="icann", role="control")),
                (tls, tls.row(**env, **base, **fields)),
            ]
        )  # fmt: skip

    return add


def censored_n4(
    tmp_path: Path, dns_failed_at: dt.timedelta | None, tls_failed_at: dt.timedelta | None
) -> compute.Estimate:
    extra = naming_controls(dns_failed_at, tls_failed_at)
    return estimate_in_world(tmp_path / "n.sqlite", extra, "N4", "censored")


def test_lost_lookups_count_when_the_same_path_controls_work(tmp_path: Path) -> None:
    # 6 alternative-namespace lookups, 2 unanswered (the gateway's and lost.geek's).
    n4 = censored_n4(tmp_path, None, None)
    assert n4.value == 2 / 6 and n4.params["path_control_discarded"] == 0, n4


def test_a_lookup_lost_with_its_same_path_control_is_discarded(tmp_path: Path) -> None:
    # The control resolver failed 3 s later: lost.geek (dns method) is the path's; the
    # gateway's lookup (HTTP) still counts: the control host's TLS worked.
    n4 = censored_n4(tmp_path / "dns", dt.timedelta(seconds=3), None)
    assert n4.value == 1 / 5 and n4.params["path_control_discarded"] == 1, n4
    # Both controls failed: both unanswered lookups are the path's.
    n4 = censored_n4(tmp_path / "both", dt.timedelta(seconds=3), dt.timedelta(seconds=-2))
    assert n4.value == 0.0 and n4.params["path_control_discarded"] == 2, n4


def test_a_naming_control_failure_outside_the_window_explains_nothing(tmp_path: Path) -> None:
    late = dt.timedelta(seconds=pathcontrol.WINDOW_S + 50)
    n4 = censored_n4(tmp_path, late, late)
    assert n4.value == 2 / 6 and n4.params["path_control_discarded"] == 0, n4
