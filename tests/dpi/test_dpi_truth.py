"""The DPI vantages as lab truth: their TOML tables, the errors a bad table gets, and the
rules and command lines built from them (no I/O)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fragscope.lab.core.guard import LAB_NETS
from fragscope.lab.dpi.policy import Mode, TcpAction
from fragscope.lab.vantages import facts, lab_layout, nft, plan
from fragscope.lab.vantages.model import Kind, VantageError


def test_the_dpi_vantages_in_the_truth() -> None:
    vantages = facts.load()
    inline, residual = vantages["dpi-inline"], vantages["dpi-residual"]
    assert inline.kind is residual.kind is Kind.DPI
    assert inline.dpi is not None and residual.dpi is not None
    assert (inline.dpi.mode, inline.dpi.block_ech, inline.dpi.tcp_action) == (
        Mode.INLINE, True, TcpAction.RESET
    )  # fmt: skip
    assert residual.dpi.mode is Mode.RESIDUAL and 0 < residual.dpi.trigger_probability < 1
    assert inline.needs_middlebox and residual.needs_middlebox


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("mode = 'sideways'", "field 'mode' is 'sideways'"),
        ("mode = 'inline'\nblocked_sni = 'a.test'", "field 'blocked_sni'"),
        ("mode = 'inline'\ntcp_action = 'rst'", "field 'tcp_action'"),
        ("mode = 'residual'\ntrigger_probability = 0", "field 'trigger_probability'"),
        ("mode = 'residual'\nresidual_s = -1", "field 'residual_s'"),
        ("mode = 'residual'\nblock_ech = true", "field 'block_ech'"),
        ("mode = 'inline'\nseed = 'x'", "field 'seed'"),
        ("mode = 'inline'\ndelay_ms = 3", "unknown field 'delay_ms'"),
    ],
)
def test_a_bad_dpi_table_names_its_field(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "truth.toml"
    path.write_text(f"[vantages.dpi-inline]\nkind = 'dpi'\n{body}\n")
    with pytest.raises(VantageError, match=f"'dpi-inline'.*{message}"):
        facts.load(path)


@pytest.mark.parametrize("name", ["dpi-inline", "dpi-residual"])
def test_the_censor_only_sees_lab_traffic_from_its_client(name: str) -> None:
    vantage = facts.load()[name]
    assert vantage.dpi is not None
    rules = nft.dpi_queue_rules(vantage.dpi)
    assert rules and {tool for tool, _ in rules} == {"iptables", "ip6tables"}
    for _tool, rule in rules:
        # From the client interface, to the lab's ranges, port 443: nothing else is queued.
        assert rule[rule.index("-i") + 1] == "vm-c"
        assert rule[rule.index("-d") + 1] in {str(n) for n in LAB_NETS}
        assert rule[rule.index("--dport") + 1] == "443"
    cmds = plan.build_commands(vantage, lab_layout(name))
    queued = [c.argv for c in cmds if "NFQUEUE" in c.argv]
    mbox = f"fs-m-{name}"
    assert len(queued) == len(rules)
    assert all(argv[:4] == ("ip", "netns", "exec", mbox) for argv in queued)
    argv = plan.dpi_argv(lab_layout(name), vantage, python="python3")
    assert argv[:7] == ["ip", "netns", "exec", mbox, "python3", "-m", plan.DPI_MODULE]
    assert "--block-sni" in argv and argv[argv.index("--mode") + 1] == vantage.dpi.mode.value
