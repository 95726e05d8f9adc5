"""transport.sni's verdict rule (probes/transport/sni.py classify) on step outcomes. No I/O."""

from __future__ import annotations

import pytest

from fragscope.probes.transport.sni import SniConfig, SniProbe, StepResult, classify

OK, LOST = StepResult(True, 0), StepResult(False, 2)
OK_AFTER_LOSS = StepResult(True, 1)  # the control needed a retry: the path loses packets
REFUSED = StepResult(False, 0, alert=49)  # every real-SNI try answered with access_denied
CONTROL_ALERTED = StepResult(True, 0, alert=112)  # the control answered unrecognized_name
REFUSED_ANSWER = StepResult(True, 0, alert=49)  # the control answered access_denied too


@pytest.mark.parametrize(
    ("transport", "control_first", "real", "control_later", "vn", "verdict"),
    [
        ("tcp", OK, [OK, OK], OK, None, "ok"),
        ("tcp", OK, [LOST, LOST], OK, None, "sni_filtered"),
        ("quic", OK, [LOST, LOST], OK, True, "sni_filtered"),
        # the first real handshake passed, the repeat was lost: not "no censorship"
        ("quic", OK, [OK, LOST], LOST, False, "residual"),
        ("quic", OK, [OK, OK], LOST, False, "residual"),
        ("quic", OK, [LOST, LOST], LOST, False, "residual"),
        ("quic", LOST, [LOST, LOST], LOST, False, "udp_blocked"),
        ("quic", LOST, [LOST, LOST], LOST, True, "ip_or_port_blocked"),
        ("tcp", LOST, [LOST, LOST], LOST, None, "ip_or_port_blocked"),
        # loss: the control itself needed retries, so lost real handshakes prove nothing
        ("quic", OK_AFTER_LOSS, [LOST, LOST], OK, True, "inconclusive"),
        ("tcp", LOST, [OK, OK], OK, None, "inconclusive"),
        ("tcp", StepResult(False, 0, measured=False), [LOST, LOST], LOST, None, "inconclusive"),
        # the real SNI refused with a TLS alert, the control served: filtered, as with RSTs
        ("tcp", OK, [REFUSED, REFUSED], OK, None, "sni_filtered"),
        ("tcp", CONTROL_ALERTED, [REFUSED, REFUSED], CONTROL_ALERTED, None, "sni_filtered"),
        # the real SNI got the control's own alert: the server treats both names alike
        ("tcp", REFUSED_ANSWER, [REFUSED, REFUSED], REFUSED_ANSWER, None, "inconclusive"),
    ],
)
def test_classify(
    transport: str,
    control_first: StepResult,
    real: list[StepResult],
    control_later: StepResult,
    vn: bool | None,
    verdict: str,
) -> None:
    assert classify(transport, control_first, real, control_later, vn) == verdict


@pytest.mark.parametrize(
    ("field", "value"), [("transports", ("tcp", "sctp")), ("transports", ()), ("tries", 0)]
)
def test_bad_config_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        SniConfig(**{field: value})  # type: ignore[arg-type]


def test_transport_order_is_drawn_per_target_and_stable() -> None:
    probe = SniProbe()
    orders = {
        name: [p.key_suffix for p in probe.tasks_for(name, None)]
        for name in (f"t{i}.example.test" for i in range(16))
    }
    assert {tuple(o) for o in orders.values()} == {("tcp", "quic"), ("quic", "tcp")}
    again = SniProbe()
    assert all([p.key_suffix for p in again.tasks_for(n, None)] == o for n, o in orders.items())
