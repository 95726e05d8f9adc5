"""Schema migrations through Alembic, configured in code (no alembic.ini). Does I/O.

``fragscope db upgrade`` and ``run --auto-migrate`` call :func:`upgrade`; every command
checks a database's revision against :func:`heads` and :func:`known_revisions` through
db.guard before it uses the database.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def heads() -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


def known_revisions() -> frozenset[str]:
    """Every revision of this code's migrations; a database at another one was written by
    a newer fragscope."""
    return frozenset(
        s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    )


def revision_of(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return revision_of(conn)


def is_at_head(engine: Engine) -> bool:
    return current_revision(engine) in heads()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (head by default); on SQLite with foreign keys
    suspended for the table copies and checked afterwards."""
    _run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    _run(engine, command.downgrade, revision)


class ForeignKeyViolation(RuntimeError):
    """A migration left rows whose foreign keys point nowhere; the upgrade fails loudly."""


def _run(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    cfg = alembic_config()
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite changes a table's constraints by copying the table (batch mode); with
            # foreign keys on, dropping the old parent would cascade-delete its children.
            # The PRAGMA is a no-op inside a transaction, so it goes before BEGIN, and the
            # check below stands in for the enforcement it suspends
            # (https://www.sqlite.org/lang_altertable.html#otheralter, steps 1 and 10).
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()  # ends SQLAlchemy's autobegun (empty) transaction
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                step(cfg, revision)
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise ForeignKeyViolation(f"migration broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
