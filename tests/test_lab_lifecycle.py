"""The lab's machinery: status, `lab down` leaving nothing behind, recovery from a crashed
run, and a failing daemon reported with its log. Uses the session lab and restores it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from fragscope.cli import main
from fragscope.lab.core import process, topology
from fragscope.lab.truth import default_path, load
from fragscope.lab.vantages import LAB_SUBNETS, lab_layout
from fragscope.lab.world import Lab, LabError

pytestmark = pytest.mark.lab


def _all_gone(pids: list[process.Running]) -> bool:
    return not any(process.alive(r) for r in pids)


def test_status_table_and_json(lab: Lab) -> None:
    rows = lab.status()
    assert rows and all(r.running and r.health == "ok" for r in rows), [
        r for r in rows if r.health != "ok"
    ]
    protocols = {r.protocol for r in rows}
    assert protocols == {"udp", "tcp", "tls", "https", "quic", "http", "path"}  # path: vantages
    runner = CliRunner()
    table = runner.invoke(main, ["lab", "status", "--dir", str(lab.run_dir)])
    assert table.exit_code == 0, table.output
    header = table.output.splitlines()[0].split()
    assert header == ["group", "service", "software", "address", "port", "protocol", "health"]
    as_json = runner.invoke(main, ["lab", "status", "--json", "--dir", str(lab.run_dir)])
    assert as_json.exit_code == 0
    data = json.loads(as_json.output)
    assert len(data) == len(rows) and {d["software"] for d in data} >= {"nsd", "knot", "unbound"}


def test_unknown_only_group_exits_2(lab: Lab) -> None:
    result = CliRunner().invoke(main, ["lab", "up", "--dir", str(lab.run_dir), "--only", "nope"])
    assert result.exit_code == 2 and "nope" in result.output


def test_down_leaves_nothing_and_up_recovers_from_a_crash(lab: Lab, tmp_path: Path) -> None:
    runner = CliRunner()
    before = process.load(lab.paths.pids)
    assert before and all(process.alive(r) for r in before)
    members = [p for ns in topology.lab_namespaces() for p in topology.namespace_pids(ns)]
    assert len(members) > len(before)  # NSD and Unbound workers, the delay relay too
    # Part 2's daemons are among them: every web host, ganache and the CCIP gateway.
    started = {r.service for r in before}
    assert {f"web-{k}" for k in lab.truth.web} | {"ganache", "ccip-gateway"} <= started

    # 1. `lab down` leaves no process, namespace, veth or route behind.
    result = runner.invoke(main, ["lab", "down", "--dir", str(lab.run_dir)])
    assert result.exit_code == 0, result.output
    assert _all_gone(before)
    assert all(process.starttime(p) is None for p in members)
    assert topology.leftovers() == {"namespaces": [], "links": [], "routes": []}
    assert not list(Path("/etc/netns").glob("fs-*"))  # vantage resolv.conf dirs
    assert not lab.paths.pids.exists()
    assert all(r.health == "down" for r in lab.status())

    # 2. `lab up` through the CLI, then a "crash": the PID records are lost.
    result = runner.invoke(main, ["lab", "up", "--dir", str(lab.run_dir)])
    assert result.exit_code == 0, result.output
    orphans = process.load(lab.paths.pids)
    lab.paths.pids.unlink()
    topology.ip("netns", "add", "fs-zz-stale")  # and a stale namespace of the lab's
    # A new `up` must still clear them (found through the namespace, not by name).
    Lab(lab.run_dir).up()
    assert _all_gone(orphans)
    vantage_namespaces = {ns for name in LAB_SUBNETS for ns in lab_layout(name).namespaces}
    assert set(topology.lab_namespaces()) == {topology.NAMESPACE, *vantage_namespaces}
    assert all(r.health == "ok" for r in lab.status())


def test_failed_daemon_reported_with_log_then_lab_restored(lab: Lab, tmp_path: Path) -> None:
    # A zone (unsigned, so it reaches NSD) that NSD cannot load: the health query never
    # gets the planted answer.
    text = (
        default_path()
        .read_text()
        .replace('["www", "A", "10.99.81.1"]', '["www", "A", "10.99.81.1"], ["www", "BOGUS", "x"]')
    )
    bad = tmp_path / "truth.toml"
    bad.write_text(text)
    broken = Lab(tmp_path / "run", load(bad))
    with pytest.raises(LabError) as err:
        # 10 s, not 3: the healthy daemons must all answer in time on a loaded machine, or
        # the first slow one (not the broken one) is what the error names.
        broken.up(timeout=10)
    message = str(err.value)
    assert "nsd-alt-tld" in message and "log" in message
    assert "BOGUS" in message or "error" in message.lower()
    # A failed up cleans up after itself.
    assert not broken.paths.pids.exists()
    assert topology.leftovers() == {"namespaces": [], "links": [], "routes": []}
    # Restore the session lab for the tests that follow.
    Lab(lab.run_dir).up()
    assert all(r.health == "ok" for r in lab.status())


def test_signing_failure_is_a_lab_error(lab: Lab, tmp_path: Path) -> None:
    text = (
        default_path()
        .read_text()
        .replace(
            '["www", "A", "10.99.80.20"]', '["www", "A", "10.99.80.20"], ["www", "BOGUS", "x"]'
        )
    )
    bad = tmp_path / "truth.toml"
    bad.write_text(text)
    with pytest.raises(LabError, match="unknown RR type 'BOGUS'"):
        Lab(tmp_path / "run", load(bad)).up(timeout=3)
    assert topology.leftovers() == {"namespaces": [], "links": [], "routes": []}
    Lab(lab.run_dir).up()
    assert all(r.health == "ok" for r in lab.status())


IGNORES_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"


def test_stop_escalates_to_sigkill_and_never_hits_a_reused_pid(lab: Lab, tmp_path: Path) -> None:
    log = tmp_path / "stubborn.log"
    argv = [sys.executable, "-c", IGNORES_TERM]
    stubborn = process.start("stubborn", argv, namespace=topology.NAMESPACE, log=log, cwd=tmp_path)
    other = process.start("other", argv, namespace=topology.NAMESPACE, log=log, cwd=tmp_path)
    assert process.alive(stubborn) and process.alive(other)
    time.sleep(0.3)  # let the interpreter install its SIGTERM handler
    # A record whose start time does not match is someone else's PID: left alone.
    impostor = process.Running("other", other.pid, other.starttime + 1)
    notes = process.stop_all([stubborn, impostor], grace=0.5)
    assert not process.alive(stubborn)
    assert notes and "stubborn" in notes[0] and "killed" in notes[0]
    assert process.alive(other)
    process.stop_all([other], grace=0.5)
    assert not process.alive(other)
