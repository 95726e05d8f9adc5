"""``fragscope db anonymize`` on a lab-made database: no egress address survives in any column
or raw reply of the copy, and the source database keeps everything.

The database comes from ``fragscope run`` against the lab's resolvers (lab/truth.toml): the
whoami zone answers each resolver's egress address (``Truth.whoami_answer``), so the address
lands in ``whoami_address``, in ``dns_answers`` and in the raw replies; the vantage's egress
list and a plain query's failure detail are made to repeat it too, so "every column" is
put to the test.
"""

from __future__ import annotations

import ipaddress
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from fragscope.cli import main
from fragscope.db.anonymize import REDACTED
from fragscope.lab.truth import Truth, load
from fragscope.lab.world import Lab

TRUTH: Truth = load()


def _blob_hits(db: Path, needle: bytes) -> list[str]:
    """``table.column`` of every blob cell holding ``needle``."""
    conn = sqlite3.connect(db)
    try:
        out = []
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")]
        for table in tables:
            for _, column, decl, *_ in conn.execute(f'pragma table_info("{table}")'):
                if "BLOB" in str(decl).upper():
                    sql = f'select count(*) from "{table}" where instr("{column}", ?) > 0'
                    if conn.execute(sql, (needle,)).fetchone()[0]:
                        out.append(f"{table}.{column}")
        return out
    finally:
        conn.close()


@pytest.mark.lab
def test_anonymize_strips_egress_addresses_from_every_column_and_raw_reply(
    lab: Lab, tmp_path: Path
) -> None:
    whoami = next(z for z in TRUTH.dns.zones if z.whoami).name
    icann = TRUTH.dns.resolvers["icann"]
    egress = TRUTH.whoami_answer("icann")
    names = tmp_path / "whoami.txt"
    names.write_text(f"{whoami}\n", encoding="utf-8")
    hosts = tmp_path / "names.txt"
    hosts.write_text("www.example.test\n", encoding="utf-8")
    campaign = tmp_path / "whoami.toml"
    campaign.write_text(
        f"""
name = "anonymize-test"
[[targets]]
list = "whoami"
file = "{names}"
format = "lines"
role = "control"

[[targets]]
list = "names"
file = "{hosts}"
format = "lines"

[[endpoints]]
label = "icann-do53"
url = "udp://{icann.address}"

[probes."dns.query"]
qtypes = ["A"]
whoami_names = ["{whoami}/A"]

[safety]
allowed = ["10.99.0.0/16"]
""",
        encoding="utf-8",
    )
    db = tmp_path / "lab.sqlite"
    run = CliRunner().invoke(
        main, ["run", "--campaign", str(campaign), "--db", str(db), "--auto-migrate"]
    )
    assert run.exit_code == 0, run.output
    conn = sqlite3.connect(db)
    with conn:
        [(stored,)] = conn.execute(
            "select whoami_address from dns_observations where purpose = 'whoami'"
        )
        # Another column repeating the address: a vantage's egress list, a failure detail.
        conn.execute("update vantages set egress_addresses = ?", (f'["{egress}"]',))
        conn.execute(
            "update dns_observations set failure_detail = ? where purpose != 'whoami'",
            (f"seen from {egress}",),
        )
    conn.close()
    assert stored == egress
    packed = ipaddress.ip_address(egress).packed
    assert _blob_hits(db, packed) == ["dns_observations.raw_wire"]

    out = tmp_path / "shared.sqlite"
    result = CliRunner().invoke(main, ["db", "anonymize", "--db", str(db), str(out)])
    assert result.exit_code == 0, result.output
    assert "1 egress addresses removed" in result.output

    assert egress.encode() not in out.read_bytes()  # no text copy, not even in free pages
    assert _blob_hits(out, packed) == []
    conn = sqlite3.connect(out)
    assert conn.execute(
        "select whoami_address, raw_wire from dns_observations where purpose = 'whoami'"
    ).fetchall() == [(None, None)]
    details = {r[0] for r in conn.execute("select failure_detail from dns_observations")}
    assert f"seen from {REDACTED}" in details
    assert conn.execute("select egress_addresses from vantages").fetchall() == [("[]",)]
    # The other observations keep their answers: www.example.test still resolved.
    answers = conn.execute(
        "select a.value from dns_answers a join dns_observations o on a.observation_id = o.id "
        "where o.target = 'www.example.test'"
    ).fetchall()
    conn.close()
    assert answers
    # The source is only read.
    assert egress.encode() in db.read_bytes()
    again = CliRunner().invoke(main, ["db", "anonymize", "--db", str(db), str(out)])
    assert again.exit_code == 2 and "exists" in again.output


@pytest.mark.parametrize(
    ("text", "address", "expected"),
    [
        ("from 10.99.3.2 via x", "10.99.3.2", f"from {REDACTED} via x"),
        ("10.99.3.20 is another host", "10.99.3.2", "10.99.3.20 is another host"),
        (
            "edns0-client-subnet 198.51.100.0/24",
            "198.51.100.0",
            f"edns0-client-subnet {REDACTED}/24",
        ),
        ("fd99::1:2 and fd99::1", "fd99::1", f"fd99::1:2 and {REDACTED}"),
    ],
)
def test_redaction_replaces_whole_addresses_only(text: str, address: str, expected: str) -> None:
    from fragscope.db.anonymize import _redact, addresses_in

    assert _redact(text, address) == expected
    assert addresses_in("edns0-client-subnet 198.51.100.0/24 from 10.99.3.2") == {
        "198.51.100.0",
        "10.99.3.2",
    }
