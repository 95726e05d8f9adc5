"""Alembic revision scripts, one per schema change. Importing does no I/O."""
