"""Migrations: one head, replay on an empty database, equal to the models, vocabularies."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text

from fragscope.db import migrate
from fragscope.db.connection import make_engine
from fragscope.db.models import Base
from fragscope.db.vocab import VOCABULARIES


def test_exactly_one_head() -> None:
    assert len(migrate.heads()) == 1


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
