"""Alembic migrations of fragscope's schema (run through db.migrate). Importing does no I/O."""
