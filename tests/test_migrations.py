"""Migrations: one head, replay on an empty database, equal to the models, vocabularies."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from fragscope.db import migrate
from fragscope.db.connection import make_engine
from fragscope.db.models import Base
from fragscope.db.vocab import VOCABULARIES


def test_exactly_one_head() -> None:
    assert len(migrate.heads()) == 1


def test_file_order_is_chain_order() -> None:
    """Sorted by name, the revision files are the chain from base to head (issue 17: the
    names used to disagree with it, 0100_dns ran after 0200_transport)."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    chain = [Path(rev.path).name for rev in reversed(list(script.walk_revisions()))]
    files = sorted(
        p.name for p in (migrate.MIGRATIONS_DIR / "versions").glob("*.py") if p.name[0].isdigit()
    )
    assert files == chain
    assert [name[:4] for name in files] == [f"{n:04d}" for n in range(1, len(files) + 1)]


def test_models_match_migrations(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_downgrade_to_base_and_replay(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    with engine.connect() as conn:
        names = {
            r[0] for r in conn.execute(text("select name from sqlite_master where type='table'"))
        }
    assert names <= {"alembic_version"}
    migrate.upgrade(engine)
    assert migrate.is_at_head(engine)


def test_vocabulary_tables_equal_the_enums(migrated_engine: Engine) -> None:
    with migrated_engine.connect() as conn:
        for table, (enum, _docs) in VOCABULARIES.items():
            stored = {r[0] for r in conn.execute(text(f"select name from {table}"))}
            assert stored == {str(v) for v in enum}, table
