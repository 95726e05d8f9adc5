"""The same-path control (analysis.pathcontrol) on the synthetic planted world
(tests/fixtures/analysis.py): the lossy vantage loses QUIC to t0, and its control target
(role control) lost QUIC too, in the same window or long before."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from fragscope.analysis import asn, compute, pathcontrol, scope
from fragscope.db.ids import vantage_id
from fragscope.db.writer import Writer, spec_for
from tests.fixtures.analysis import STANDARD_PLANTS, T0, build_world, envelope

CONTROL = "control.example.test"


def control_rows(failed_at: dt.timedelta) -> Callable[[Engine, dict[str, str]], None]:
    """Every run lists CONTROL as a control target; its one QUIC attempt works, except at
    lossy, where it fails ``failed_at`` after the test rows' time."""

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
        Writer(engine).write(rows)

    return add


def lossy_t2(tmp_path: Path, failed_at: dt.timedelta) -> compute.Estimate:
    w = build_world(
        f"sqlite:///{tmp_path / 'w.sqlite'}", STANDARD_PLANTS, extra=control_rows(failed_at)
    )
    try:
        runs = scope.select_runs(w.engine, round_name="r1")
        c = compute.compute(w.engine, runs, mapping=asn.load_lab())
    finally:
        w.engine.dispose()
    (t2,) = [e for e in c.estimates if e.code == "T2" and e.run_id == w.runs["lossy"]]
    return t2


def test_a_failure_the_same_path_control_shares_is_discarded(tmp_path: Path) -> None:
    # Without a control the plant gives lossy T2 = 1/8 (t0's QUIC lost): loss read as
    # blocking. The control's QUIC failed in the same window, so t0 is left out.
    t2 = lossy_t2(tmp_path, dt.timedelta(seconds=3))
    assert t2.value == 0.0 and t2.n == 7, t2
    assert t2.params["path_control_discarded"] == 1


def test_a_control_failure_outside_the_window_explains_nothing(tmp_path: Path) -> None:
    t2 = lossy_t2(tmp_path, dt.timedelta(seconds=pathcontrol.WINDOW_S + 50))
    assert t2.value == 1 / 8 and t2.n == 8, t2
    assert t2.params["path_control_discarded"] == 0
