"""docs/schema.md and docs/metadata.json are generated from the models and kept in sync."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fragscope.cli import main
from fragscope.db.describe import metadata_json, schema_markdown
from fragscope.db.envelope import ENVELOPE
from fragscope.db.models import Base, NullObservation
from fragscope.db.vocab import VOCABULARIES

DOCS = Path(__file__).resolve().parent.parent / "docs"
STALE = "is stale: run `make schema-doc` (fragscope db describe) and commit the result"


def test_schema_doc_in_sync() -> None:
    assert (DOCS / "schema.md").read_text(encoding="utf-8") == schema_markdown(), (
        f"docs/schema.md {STALE}"
    )
    assert (DOCS / "metadata.json").read_text(encoding="utf-8") == metadata_json(), (
        f"docs/metadata.json {STALE}"
    )


def test_envelope_is_what_the_models_declare() -> None:
    # engine.null's table is the envelope alone (db.models.ObservationMixin).
    assert sorted(ENVELOPE) == sorted(NullObservation.__table__.columns.keys())
    assert len(set(ENVELOPE)) == len(ENVELOPE)


def test_every_table_and_column_documented() -> None:
    doc = schema_markdown()
    meta = json.loads(metadata_json())["databases"]["fragscope"]["tables"]
    for table in Base.metadata.tables.values():
        assert table.comment, f"{table.name} has no comment"
        assert f"### `{table.name}`" in doc
        assert meta[table.name]["description"] == table.comment
        for column in table.columns:
            assert column.doc, f"{table.name}.{column.name} has no doc="
            assert meta[table.name]["columns"][column.name] == column.doc
    for enum, docs in VOCABULARIES.values():
        for value in enum:
            assert f"| `{value}` | {docs[str(value)]} |" in doc


def test_output_is_deterministic() -> None:
    assert schema_markdown() == schema_markdown()
    assert metadata_json() == metadata_json()


def test_describe_command_writes_both_files(tmp_path: Path) -> None:
    out, meta = tmp_path / "docs" / "schema.md", tmp_path / "docs" / "metadata.json"
    result = CliRunner().invoke(
        main, ["db", "describe", "--output", str(out), "--metadata", str(meta)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == schema_markdown()
    assert json.loads(meta.read_text(encoding="utf-8"))["databases"]["fragscope"]["tables"]
